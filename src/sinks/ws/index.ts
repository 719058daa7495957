import type { Server } from 'node:http';
import { Gauge, type Registry } from 'prom-client';
import type { Component } from '../../model/component.js';
import type { HostSample } from '../../model/host.js';
import { M } from '../../model/metric-names.js';
import type { PluginSample, ServiceSnapshot } from '../../model/plugin.js';
import { isoUtc } from '../../model/time.js';
import { MIB, round } from '../../model/units.js';
import type { Sink } from '../../pipeline/pipeline.js';
import { WsHub, type WsEvent } from './hub.js';

export interface WebSocketOptions {
  config: { max_clients: number; max_buffered_bytes: number; ping_interval: number };
  /** The HTTP server to attach to; read when the part starts (after the server listens). */
  server: () => Server;
  registry: Registry;
  onDrop: (reason: 'slow_consumer' | 'no_pong') => void;
}

/** `metric_update` of the host, in the stats document's field names. */
export function hostPayload(h: HostSample) {
  return {
    cpu: { percent: h.cpu.percent, cores: h.cpu.cores },
    memory: { total: h.memory.total, available: h.memory.available, used: h.memory.used, percent: h.memory.percent },
    disk: { percent: h.filesystems[0]?.percent ?? 0, read_bytes: h.diskReadBytes, write_bytes: h.diskWrittenBytes },
    network: { bytes_sent: h.network.bytesSent, bytes_recv: h.network.bytesRecv, upload_rate: h.network.sendBytesPerSecond, download_rate: h.network.recvBytesPerSecond },
    processes: h.processes,
    connections: h.connections,
    load_average: [h.load.load1, h.load.load5, h.load.load15],
  };
}

/** `metric_update` of one plugin, rounded like `/plugin/metrics` (two decimals) so both show the same numbers. */
export function pluginPayload(s: PluginSample) {
  return { plugin_id: s.pluginId, pid: s.pid, cpu_percent: round(s.cpuPercent), memory_mb: round(s.rssBytes / MIB), memory_percent: round(s.memoryPercent), num_threads: s.threads };
}

/** perfwatch's own `service` block on a plugin that reports its calls (docs/service-metrics.md): the recent window. */
function withService<T extends object>(payload: T, sv: ServiceSnapshot | null): T | (T & { service: Record<string, number | null> }) {
  if (!sv) return payload;
  const w = sv.window;
  return {
    ...payload,
    service: {
      total_calls: sv.totalCalls,
      failed_calls: sv.failedCalls,
      calls_per_second: round(w.perSecond),
      error_rate: w.errorRatio === null ? null : Math.round(w.errorRatio * 10_000) / 10_000,
      avg_response_time: w.averageSeconds === null ? null : Math.round(w.averageSeconds * 1e6) / 1e6,
      p95_response_time: w.p95Seconds === null ? null : Math.round(w.p95Seconds * 1e6) / 1e6,
    },
  };
}

/**
 * `/ws/performance`: the hub (attached when the part starts), the sink that pushes each tick (`metric_update`) and
 * device changes (`system_change`), `broadcast` for other events (plugin states, alerts), `perfwatch_websocket_clients`.
 */
export function createWebSocket(o: WebSocketOptions): { sink: Sink; component: Component; broadcast: (event: WsEvent, payload: Record<string, unknown>) => void } {
  let hub: WsHub | null = null;
  let prev: HostSample | null = null;
  const broadcast = (event: WsEvent, payload: Record<string, unknown>) => hub?.broadcast(event, payload);
  new Gauge({ name: M.websocketClients, help: 'Connected /ws/performance clients.', registers: [o.registry], collect() {
    this.set(hub?.size ?? 0);
  } });
  const announceDeviceChanges = (cur: HostSample) => {
    const diff = (kind: string, a: string[], b: string[]) => {
      for (const x of b) if (!a.includes(x)) broadcast('system_change', { change: { kind, name: x, present: true }, timestamp: isoUtc(cur.timestampMs) });
      for (const x of a) if (!b.includes(x)) broadcast('system_change', { change: { kind, name: x, present: false }, timestamp: isoUtc(cur.timestampMs) });
    };
    if (prev && prev !== cur) {
      diff('interface', prev.network.devices.map((d) => d.device), cur.network.devices.map((d) => d.device));
      diff('disk', prev.disks.map((d) => d.device), cur.disks.map((d) => d.device));
    }
    prev = cur;
  };
  const sink: Sink = {
    name: 'websocket',
    onTick(s) {
      const at = isoUtc(s.timestampMs);
      if (s.host && s.host.timestampMs === s.timestampMs) {
        announceDeviceChanges(s.host);
        broadcast('metric_update', { metric: { source: 'host', ...hostPayload(s.host) }, timestamp: at });
      }
      if (s.plugins.length) {
        const services = new Map(s.statuses.map((st) => [st.id, st.service]));
        broadcast('metric_update', { metric: { source: 'plugins', plugins: s.plugins.map((p) => withService(pluginPayload(p), services.get(p.pluginId) ?? null)) }, timestamp: at });
      }
    },
  };
  const component: Component = {
    name: 'websocket',
    start() {
      hub = new WsHub(o.server(), { path: '/ws/performance', maxClients: o.config.max_clients, maxBufferedBytes: o.config.max_buffered_bytes, pingIntervalMs: o.config.ping_interval, onDrop: o.onDrop });
    },
    async stop() {
      await hub?.close();
    },
  };
  return { sink, component, broadcast };
}
