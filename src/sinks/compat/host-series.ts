import type { HostSample } from '../../collectors/host/host-collector.js';

/**
 * The host series kept in history under the legacy names `history?metrics=` accepts. Counters (cumulative totals) are
 * re-bucketed by their last value, gauges by their mean.
 */
export const HOST_SERIES: ReadonlyArray<{ name: string; unit: string; counter?: boolean; read: (h: HostSample) => number | undefined }> = [
  { name: 'cpu_percent', unit: '%', read: (h) => h.cpu.percent },
  { name: 'memory_percent', unit: '%', read: (h) => h.memory.percent },
  { name: 'disk_usage_percent', unit: '%', read: (h) => h.filesystems[0]?.percent },
  { name: 'network_bytes_sent', unit: 'bytes', counter: true, read: (h) => h.network.bytesSent },
  { name: 'network_bytes_recv', unit: 'bytes', counter: true, read: (h) => h.network.bytesRecv },
  { name: 'network_packets_sent', unit: 'count', counter: true, read: (h) => h.network.packetsSent },
  { name: 'network_packets_recv', unit: 'count', counter: true, read: (h) => h.network.packetsRecv },
  { name: 'network_upload_rate', unit: 'bytes/s', read: (h) => h.network.sendBytesPerSecond },
  { name: 'network_download_rate', unit: 'bytes/s', read: (h) => h.network.recvBytesPerSecond },
  { name: 'disk_read_bytes', unit: 'bytes', counter: true, read: (h) => h.diskReadBytes },
  { name: 'disk_write_bytes', unit: 'bytes', counter: true, read: (h) => h.diskWrittenBytes },
  { name: 'memory_used', unit: 'bytes', read: (h) => h.memory.used },
  { name: 'memory_available', unit: 'bytes', read: (h) => h.memory.available },
  { name: 'load_1m', unit: '', read: (h) => h.load.load1 },
  { name: 'processes_total', unit: 'count', read: (h) => h.processes.total },
  { name: 'connections_established', unit: 'count', read: (h) => h.connections.established },
];

export const HOST_SERIES_BY_NAME = new Map(HOST_SERIES.map((s) => [s.name, s]));
export const hostKey = (name: string) => `host:${name}`;
