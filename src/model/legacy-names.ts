import type { HostSample } from './host.js';
import { M } from './metric-names.js';

/**
 * The legacy metric names (seed 001's `cpu_percent`, `memory_percent`, …) in one catalogue: where each one is kept in
 * history and read from a host sample, and which series on /metrics it corresponds to. The performance API's
 * `history?metrics=`, the alert rules' `metric`, the dashboards and reports all resolve names here, so a name means
 * the same thing everywhere.
 */

/** What a legacy name is about: the `type` of the alerts it raises (seed 001's alert types). */
export const METRIC_CATEGORIES = ['cpu', 'memory', 'disk', 'network', 'load', 'process', 'plugin', 'custom'] as const;
export type MetricCategory = (typeof METRIC_CATEGORIES)[number];

export interface LegacyName {
  category: MetricCategory;
  /**
   * Kept in the host history under this name: its unit as the seed writes it; counters are re-bucketed by last value.
   * `scraped` says how a Prometheus-compatible backend that scrapes /metrics holds the same values (history.backend).
   */
  history?: { unit: string; counter?: boolean; read: (h: HostSample) => number | undefined; scraped: Scraped };
  /**
   * The gauge on /metrics it reads: the value in the legacy unit is `series × k` (`cpu_percent` is
   * `perfwatch_host_cpu_usage_ratio × 100`), over the series with these fixed labels; `subject` names the label that
   * says what is affected (`plugin_id`, `mountpoint`).
   */
  exported?: { series: string; k: number; matchers: Readonly<Record<string, string>>; subject?: string };
}

/**
 * A history series as the backend holds it: `series` (with `matchers`, without `lo` for network devices) times `k`,
 * summed over its label sets when `sum`; `rate` for a per-second rate the collector derives from a counter (the backend
 * gets it back with `rate()`); `mountpoint` when it is read on the first configured mountpoint.
 */
export interface Scraped {
  series: string;
  k: number;
  matchers?: Readonly<Record<string, string>>;
  excludeLoopback?: boolean;
  sum?: boolean;
  rate?: boolean;
  mountpoint?: boolean;
}

const scraped = (series: string, k = 1, more: Omit<Scraped, 'series' | 'k'> = {}): Scraped => ({ series, k, ...more });
const devices = { sum: true, excludeLoopback: true } as const;

const pct = (series: string, subject?: string) => ({ series, k: 100, matchers: {}, ...(subject ? { subject } : {}) });
const one = (series: string, matchers: Record<string, string> = {}, subject?: string) => ({ series, k: 1, matchers, ...(subject ? { subject } : {}) });

export const LEGACY_NAMES: Readonly<Record<string, LegacyName>> = {
  cpu_percent: { category: 'cpu', history: { unit: '%', read: (h) => h.cpu.percent, scraped: scraped(M.hostCpuUsageRatio, 100) }, exported: pct(M.hostCpuUsageRatio) },
  memory_percent: { category: 'memory', history: { unit: '%', read: (h) => h.memory.percent, scraped: scraped(M.hostMemoryUsageRatio, 100) }, exported: pct(M.hostMemoryUsageRatio) },
  disk_percent: { category: 'disk', exported: pct(M.hostFilesystemUsageRatio, 'mountpoint') },
  disk_usage_percent: { category: 'disk', history: { unit: '%', read: (h) => h.filesystems[0]?.percent, scraped: scraped(M.hostFilesystemUsageRatio, 100, { mountpoint: true }) }, exported: pct(M.hostFilesystemUsageRatio, 'mountpoint') },
  network_bytes_sent: { category: 'network', history: { unit: 'bytes', counter: true, read: (h) => h.network.bytesSent, scraped: scraped(M.hostNetworkTransmitBytesTotal, 1, devices) } },
  network_bytes_recv: { category: 'network', history: { unit: 'bytes', counter: true, read: (h) => h.network.bytesRecv, scraped: scraped(M.hostNetworkReceiveBytesTotal, 1, devices) } },
  network_packets_sent: { category: 'network', history: { unit: 'count', counter: true, read: (h) => h.network.packetsSent, scraped: scraped(M.hostNetworkTransmitPacketsTotal, 1, devices) } },
  network_packets_recv: { category: 'network', history: { unit: 'count', counter: true, read: (h) => h.network.packetsRecv, scraped: scraped(M.hostNetworkReceivePacketsTotal, 1, devices) } },
  network_upload_rate: { category: 'network', history: { unit: 'bytes/s', read: (h) => h.network.sendBytesPerSecond, scraped: scraped(M.hostNetworkTransmitBytesTotal, 1, { ...devices, rate: true }) } },
  network_download_rate: { category: 'network', history: { unit: 'bytes/s', read: (h) => h.network.recvBytesPerSecond, scraped: scraped(M.hostNetworkReceiveBytesTotal, 1, { ...devices, rate: true }) } },
  disk_read_bytes: { category: 'disk', history: { unit: 'bytes', counter: true, read: (h) => h.diskReadBytes, scraped: scraped(M.hostDiskReadBytesTotal, 1, { sum: true }) } },
  disk_write_bytes: { category: 'disk', history: { unit: 'bytes', counter: true, read: (h) => h.diskWrittenBytes, scraped: scraped(M.hostDiskWrittenBytesTotal, 1, { sum: true }) } },
  memory_used: { category: 'memory', history: { unit: 'bytes', read: (h) => h.memory.used, scraped: scraped(M.hostMemoryUsedBytes) }, exported: one(M.hostMemoryUsedBytes) },
  memory_available: { category: 'memory', history: { unit: 'bytes', read: (h) => h.memory.available, scraped: scraped(M.hostMemoryAvailableBytes) }, exported: one(M.hostMemoryAvailableBytes) },
  load_average: { category: 'load', exported: one(M.hostLoad1) },
  load_1m: { category: 'load', history: { unit: '', read: (h) => h.load.load1, scraped: scraped(M.hostLoad1) }, exported: one(M.hostLoad1) },
  processes_total: { category: 'process', history: { unit: 'count', read: (h) => h.processes.total, scraped: scraped(M.hostProcesses, 1, { sum: true }) } },
  connections_established: { category: 'network', history: { unit: 'count', read: (h) => h.connections.established, scraped: scraped(M.hostTcpConnections, 1, { matchers: { state: 'established' } }) }, exported: one(M.hostTcpConnections, { state: 'established' }) },
  zombie_processes: { category: 'process', exported: one(M.hostProcesses, { state: 'zombie' }) },
  plugin_up: { category: 'plugin', exported: one(M.pluginUp, {}, 'plugin_id') },
  plugin_healthy: { category: 'plugin', exported: one(M.pluginHealthy, {}, 'plugin_id') },
  plugin_unhealthy: { category: 'plugin', exported: one(M.pluginHealth, { status: 'unhealthy' }, 'plugin_id') },
  plugin_degraded: { category: 'plugin', exported: one(M.pluginHealth, { status: 'degraded' }, 'plugin_id') },
  // service metrics (docs/service-metrics.md): over the last service_metrics.window, absent without calls in it
  plugin_error_rate: { category: 'plugin', exported: one(M.pluginCallErrorRatio, {}, 'plugin_id') },
  plugin_avg_response_time: { category: 'plugin', exported: one(M.pluginCallAverageDurationSeconds, {}, 'plugin_id') },
  plugin_active_connections: { category: 'plugin', exported: one(M.pluginActiveConnections, {}, 'plugin_id') },
  plugin_cpu_percent: { category: 'cpu', exported: pct(M.pluginCpuUsageRatio, 'plugin_id') },
  plugin_memory_percent: { category: 'memory', exported: pct(M.pluginMemoryUsageRatio, 'plugin_id') },
  plugin_memory_mb: { category: 'memory', exported: { series: M.pluginResidentMemoryBytes, k: 1 / 1048576, matchers: {}, subject: 'plugin_id' } },
  plugin_threads: { category: 'process', exported: one(M.pluginThreads, {}, 'plugin_id') },
  plugin_processes: { category: 'process', exported: one(M.pluginProcesses, {}, 'plugin_id') },
};

/** A host series kept in history under its legacy name. */
export interface HostSeries {
  name: string;
  unit: string;
  counter?: boolean;
  read: (h: HostSample) => number | undefined;
  scraped: Scraped;
}

/** The host series `history?metrics=` accepts, in catalogue order. */
export const HOST_SERIES: readonly HostSeries[] = Object.entries(LEGACY_NAMES).flatMap(([name, l]) => (l.history ? [{ name, ...l.history }] : []));
export const HOST_SERIES_BY_NAME: ReadonlyMap<string, HostSeries> = new Map(HOST_SERIES.map((s) => [s.name, s]));
/** The store key of a host series. */
export const hostKey = (name: string) => `host:${name}`;
