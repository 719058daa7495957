import { performance } from 'node:perf_hooks';
import type { Clock } from '../model/clock.js';
import type { HostSample } from '../model/host.js';
import type { PluginSample, PluginStatusView, RunningPlugin, Snapshot } from '../model/plugin.js';

/**
 * A consumer of ticks. `onTick` gets the frozen snapshot; it may be async (the pipeline waits for it before the next
 * sink, so a sink that reads what an earlier one wrote can rely on it) and should not throw: a throw is reported and
 * the next sink still runs.
 */
export interface Sink {
  readonly name: string;
  /** Sinks whose output this one reads: they must come earlier in the list (checked when the pipeline is built). */
  readonly after?: readonly string[];
  onTick(snapshot: Snapshot): void | Promise<void>;
}

export interface PipelineOptions {
  clock: Clock;
  /** The supervisor's running plugins and every plugin's status, read once per tick. */
  running: () => RunningPlugin[];
  statuses: () => PluginStatusView[];
  plugins: { collect(running: readonly RunningPlugin[], nowMs: number): PluginSample[] };
  /** The host collector, or null when `host.enabled` is false. */
  host: { collect(nowMs: number): Promise<HostSample> } | null;
  /** The store stage: appends the snapshot to history before any sink runs. */
  record: (snapshot: Snapshot) => void;
  sinks: readonly Sink[];
  onError: (where: string, err: unknown) => void;
}

/**
 * The collection tick, named: collectors → store → the sinks, in the order given. One Snapshot per tick is the only
 * thing sinks read; `latest` is the last one (what the JSON API answers from between ticks).
 */
export class Pipeline {
  #o: PipelineOptions;
  #host: HostSample | null = null;
  #waiters: Array<(s: Snapshot) => void> = [];
  latest: Snapshot | null = null;

  constructor(opts: PipelineOptions) {
    const seen = new Set<string>();
    for (const s of opts.sinks) {
      for (const dep of s.after ?? []) if (!seen.has(dep)) throw new Error(`pipeline: sink ${s.name} reads ${dep}, which must come before it`);
      seen.add(s.name);
    }
    this.#o = opts;
  }

  /** One tick at the clock's now. Never rejects: collector and sink failures go to `onError`. */
  async tick(): Promise<Snapshot> {
    const o = this.#o;
    // who asked before this tick began waits for it; who asks during it waits for the next (its data may be newer)
    const waiters = this.#waiters;
    this.#waiters = [];
    const t0 = performance.now();
    const now = o.clock.now();
    const plugins = o.plugins.collect(o.running(), now);
    const collectorSeconds: Record<string, number> = { plugins: (performance.now() - t0) / 1000 };
    if (o.host) {
      const h0 = performance.now();
      try {
        this.#host = await o.host.collect(now);
      } catch (err) {
        o.onError('host collector', err);
      }
      collectorSeconds.host = (performance.now() - h0) / 1000;
    }
    const snapshot: Snapshot = { timestampMs: now, host: this.#host, plugins, statuses: o.statuses(), collectorSeconds, cycleSeconds: 0 };
    try {
      o.record(snapshot);
    } catch (err) {
      o.onError('store', err);
    }
    snapshot.cycleSeconds = (performance.now() - t0) / 1000;
    Object.freeze(snapshot);
    this.latest = snapshot;
    for (const sink of o.sinks) {
      try {
        await sink.onTick(snapshot);
      } catch (err) {
        o.onError(`sink ${sink.name}`, err);
      }
    }
    for (const resolve of waiters) resolve(snapshot);
    return snapshot;
  }

  /** Resolves after the next tick to begin from now on has been applied to every sink (the render included). */
  nextTick(): Promise<Snapshot> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
