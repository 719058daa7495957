/** Parsers for the host's /proc files: one small pure function per file, each tested on fixed text and on this host. */

import { CPU_MODES, type CpuMode, type DiskIo, type LoadAvg, type NetDev } from '../../model/host.js';

export interface ProcStatHost {
  /** Aggregate CPU time by mode, in clock ticks (guest time is already inside user and nice). */
  ticks: Record<CpuMode, number>;
  cores: number;
  bootTimeSeconds: number;
  procsRunning: number;
  procsBlocked: number;
}

/** /proc/stat */
export function parseHostStat(text: string): ProcStatHost {
  const ticks = Object.fromEntries(CPU_MODES.map((m) => [m, 0])) as Record<CpuMode, number>;
  let cores = 0;
  let bootTimeSeconds = 0;
  let procsRunning = 0;
  let procsBlocked = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('cpu ')) {
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      CPU_MODES.forEach((m, i) => (ticks[m] = f[i] ?? 0));
    } else if (/^cpu\d/.test(line)) cores++;
    else if (line.startsWith('btime ')) bootTimeSeconds = Number(line.slice(6));
    else if (line.startsWith('procs_running ')) procsRunning = Number(line.slice(14));
    else if (line.startsWith('procs_blocked ')) procsBlocked = Number(line.slice(14));
  }
  return { ticks, cores, bootTimeSeconds, procsRunning, procsBlocked };
}

/** Busy share of all CPUs between two /proc/stat readings, 0–100: everything but idle and iowait. */
export function cpuPercentBetween(a: Record<CpuMode, number>, b: Record<CpuMode, number>): number {
  let total = 0;
  for (const m of CPU_MODES) total += b[m] - a[m];
  const idle = b.idle - a.idle + (b.iowait - a.iowait);
  return total > 0 ? Math.min(100, Math.max(0, ((total - idle) / total) * 100)) : 0;
}

export interface MemInfo {
  total: number;
  available: number;
  free: number;
  buffers: number;
  /** Page cache plus reclaimable slab, as psutil reports `cached`. */
  cached: number;
  swapTotal: number;
  swapFree: number;
}

/** /proc/meminfo, in bytes. */
export function parseMeminfo(text: string): MemInfo {
  const kb: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (m) kb[m[1]!] = Number(m[2]) * 1024;
  }
  const free = kb.MemFree ?? 0;
  return {
    total: kb.MemTotal ?? 0,
    // kernels before 3.14 have no MemAvailable: approximate as free + buffers + cache
    available: kb.MemAvailable ?? free + (kb.Buffers ?? 0) + (kb.Cached ?? 0),
    free,
    buffers: kb.Buffers ?? 0,
    cached: (kb.Cached ?? 0) + (kb.SReclaimable ?? 0),
    swapTotal: kb.SwapTotal ?? 0,
    swapFree: kb.SwapFree ?? 0,
  };
}

/** Devices node_exporter's diskstats collector ignores by default: partitions, loop, ram and floppy devices. */
export const IGNORED_DISKS = /^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;


/** /proc/diskstats: bytes read and written per whole disk (sectors are 512 bytes whatever the device's block size). */
export function parseDiskstats(text: string): DiskIo[] {
  const out: DiskIo[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const device = f[2]!;
    if (IGNORED_DISKS.test(device)) continue;
    out.push({ device, readBytes: Number(f[5]) * 512, writtenBytes: Number(f[9]) * 512 });
  }
  return out;
}


/** /proc/net/dev */
export function parseNetDev(text: string): NetDev[] {
  const out: NetDev[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16) continue;
    out.push({ device: line.slice(0, colon).trim(), rxBytes: f[0]!, rxPackets: f[1]!, txBytes: f[8]!, txPackets: f[9]! });
  }
  return out;
}

/** TCP states by their hex code in /proc/net/tcp (include/net/tcp_states.h). */
export const TCP_STATES: Record<string, string> = {
  '01': 'established',
  '02': 'syn_sent',
  '03': 'syn_recv',
  '04': 'fin_wait1',
  '05': 'fin_wait2',
  '06': 'time_wait',
  '07': 'close',
  '08': 'close_wait',
  '09': 'last_ack',
  '0A': 'listen',
  '0B': 'closing',
};

/** /proc/net/tcp or tcp6: socket count by state name, added into `into`. */
export function countTcpStates(text: string, into: Record<string, number> = {}): Record<string, number> {
  let i = text.indexOf('\n') + 1; // header
  while (i > 0 && i < text.length) {
    const end = text.indexOf('\n', i);
    const line = text.slice(i, end < 0 ? text.length : end);
    // "  sl  local_address rem_address   st ..." — st is the 4th field
    const f = line.trim().split(/\s+/, 4);
    const st = f[3] && TCP_STATES[f[3].toUpperCase()];
    if (st) into[st] = (into[st] ?? 0) + 1;
    if (end < 0) break;
    i = end + 1;
  }
  return into;
}


/** /proc/loadavg */
export function parseLoadavg(text: string): LoadAvg {
  const f = text.trim().split(/\s+/);
  const [runnable, entities] = (f[3] ?? '0/0').split('/').map(Number);
  return { load1: Number(f[0]), load5: Number(f[1]), load15: Number(f[2]), runnable: runnable ?? 0, entities: entities ?? 0 };
}

export interface Mount {
  device: string;
  mountpoint: string;
  fstype: string;
}

/** /proc/self/mounts (octal escapes such as `\040` for a space are decoded). */
export function parseMounts(text: string): Mount[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [device = '', mountpoint = '', fstype = ''] = line.split(' ');
      return { device: unescape(device), mountpoint: unescape(mountpoint), fstype };
    });
}

/** Average "cpu MHz" over the processors in /proc/cpuinfo, or null when the kernel does not report it. */
export function parseCpuinfoMhz(text: string): number | null {
  const values = [...text.matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)].map((m) => Number(m[1]));
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}
