/** What the host collector measures, as every sink reads it: one sample per tick, the process ranking, static facts. */

export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

export type CpuMode = (typeof CPU_MODES)[number];

export interface DiskIo {
  device: string;
  readBytes: number;
  writtenBytes: number;
}

export interface NetDev {
  device: string;
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
}

export interface LoadAvg {
  load1: number;
  load5: number;
  load15: number;
  runnable: number;
  /** Scheduling entities (threads) on the host. */
  entities: number;
}

export interface FilesystemUsage {
  mountpoint: string;
  device: string;
  fstype: string;
  sizeBytes: number;
  /** Available to unprivileged users, as df shows it. */
  availBytes: number;
  usedBytes: number;
  /** used / (used + avail) × 100, as df and psutil compute it. */
  percent: number;
}

export interface ProcessCounts {
  total: number;
  running: number;
  sleeping: number;
  zombie: number;
}

/** One host measurement, taken once per tick and read by every sink. */
export interface HostSample {
  timestampMs: number;
  cpu: { percent: number; cores: number; frequencyMhz: number | null; secondsByMode: Record<CpuMode, number> };
  memory: { total: number; available: number; used: number; percent: number; cached: number; free: number; swapTotal: number; swapFree: number };
  filesystems: FilesystemUsage[];
  disks: DiskIo[];
  diskReadBytes: number;
  diskWrittenBytes: number;
  /** Counters over every interface but loopback. */
  network: { devices: NetDev[]; bytesSent: number; bytesRecv: number; packetsSent: number; packetsRecv: number; sendBytesPerSecond: number; recvBytesPerSecond: number };
  processes: ProcessCounts;
  tcp: Record<string, number>;
  connections: { active: number; listening: number; established: number };
  load: LoadAvg;
  bootTimeSeconds: number;
}

/** The busiest processes at the last census: what an alert's `metadata.affected_processes` names. */
export interface TopProcesses {
  /** By CPU time used between the last two censuses (the first census has none). */
  byCpu: Array<{ pid: number; name: string; cpuSeconds: number }>;
  byMemory: Array<{ pid: number; name: string; rssBytes: number }>;
}

/** The static facts of `GET /api/v1/performance/system`, in the document's field names. */
export interface SystemInfo {
  hostname: string;
  platform: string;
  platform_version: string;
  architecture: string;
  /** The document's field names the original's runtime (Python); perfwatch reports its own: the Node.js version. */
  python_version: string;
  cpu_info: { model: string; cores: number; threads: number; frequency: number; cache_size: number };
  memory_info: { total: number; available: number; swap_total: number; swap_available: number };
  disk_info: Array<{ device: string; mountpoint: string; total: number; free: number; filesystem: string }>;
  network_info: Array<{ interface: string; ip_address: string; mac_address: string; is_up: boolean }>;
}
