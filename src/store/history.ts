import type { Component } from '../model/component.js';
import { HOST_SERIES, hostKey } from '../model/legacy-names.js';
import type { Snapshot } from '../model/plugin.js';
import { LocalHistoryReader } from './history-reader.js';
import { PluginHistory } from './plugin-history.js';
import { SeriesStore } from './series-store.js';

export interface HistoryOptions {
  /** Raw samples kept per host/custom series (retention.raw / collection.interval). */
  rawCapacity: number;
  /** Samples kept per plugin for `/plugin/metrics/{id}/history`. */
  pluginSamples: number;
  retentionDays: number;
  memTotalBytes: number;
  checkpointFile: string;
  checkpointIntervalMs: number;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * The store stage of the pipeline: the tiered ring buffers (raw, 1 min for 24 h, 5 min for `retention_days`), the
 * per-plugin rings, the reader the JSON API goes through, and the checkpoint: restored on start, written every
 * `checkpointIntervalMs` and once more on stop (after the last tick, since the scheduler stops first).
 */
export function createHistory(o: HistoryOptions) {
  const store = new SeriesStore({
    rawCapacity: o.rawCapacity,
    tiers: [
      { bucketMs: 60_000, capacity: 1440 },
      { bucketMs: 300_000, capacity: o.retentionDays * 288 },
    ],
  });
  const plugins = new PluginHistory({ capacity: o.pluginSamples, memTotalBytes: o.memTotalBytes });
  const reader = new LocalHistoryReader({ store, plugins });
  let timer: NodeJS.Timeout | null = null;
  const checkpoint = () => store.checkpoint(o.checkpointFile).catch((err) => o.log('error', 'history checkpoint failed', { err: String(err) }));

  /** Appends one snapshot: every plugin sample, and each host series under its legacy name. */
  const record = (s: Snapshot): void => {
    plugins.append(s.plugins);
    const h = s.host;
    if (!h || h.timestampMs !== s.timestampMs) return; // this tick's host collection failed: nothing new to keep
    for (const series of HOST_SERIES) {
      const v = series.read(h);
      if (v !== undefined && Number.isFinite(v)) store.append(hostKey(series.name), { name: series.name, unit: series.unit, kind: 'host' }, s.timestampMs, v);
    }
  };

  const component: Component = {
    name: 'history',
    async start() {
      const restored = await store.restore(o.checkpointFile);
      if ('restored' in restored || restored.missing) o.log('info', 'history checkpoint', restored);
      // refused: the store stays empty and the next checkpoint replaces the file
      else o.log('warn', `history checkpoint ${o.checkpointFile} refused: ${restored.skipped}; starting with empty history`, { file: o.checkpointFile, reason: restored.skipped });
      timer = setInterval(() => void checkpoint(), o.checkpointIntervalMs);
      timer.unref();
    },
    async stop() {
      if (!timer) return; // never started, or already stopped: nothing new to write
      clearInterval(timer);
      timer = null;
      await checkpoint();
    },
  };
  return { store, plugins, reader, record, component, get memoryBytes() {
    return plugins.memoryBytes + store.memoryBytes;
  } };
}
