import { readFile, readdir, statfs } from 'node:fs/promises';
import type { ProcFiles, ProcHandle } from '../../proc/proc-files.js';
import { parseProcStat } from '../../proc/proc-stat.js';
import {
  countTcpStates,
  cpuPercentBetween,
  parseCpuinfoMhz,
  parseDiskstats,
  parseHostStat,
  parseLoadavg,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  type Mount,
} from './parsers.js';
import type { CpuMode, FilesystemUsage, HostSample, ProcessCounts, TopProcesses } from '../../model/host.js';




export interface HostCollectorOptions {
  procFiles: ProcFiles;
  clockTicksPerSecond: number;
  /** Mount points whose usage is sampled every tick; the first is the `disk` of the stats endpoint. */
  mountpoints: readonly string[];
  /** Cadence of the expensive parts: the process census, CPU frequency and the mount table. */
  slowIntervalMs: number;
  /** Bytes per page, for RSS in the process ranking (default 4096). */
  pageSize?: number;
  onError?: (what: string, err: unknown) => void;
}

/**
 * Samples the host from /proc every tick: /proc/stat, meminfo, diskstats, net/dev and loadavg through cached fds
 * (synchronous, microseconds each) and statfs asynchronously. What is expensive runs on its own slow cadence with a
 * timeout, and a tick never waits for it but reads its last result: the process census by state (one walk of /proc),
 * TCP sockets by state (/proc/net/tcp{,6}: the kernel walks its whole connection table), CPU frequency and mounts.
 */
export class HostCollector {
  #files: ProcFiles;
  #hz: number;
  #mountpoints: readonly string[];
  #slowMs: number;
  #onError: (what: string, err: unknown) => void;
  #stat: ProcHandle;
  #meminfo: ProcHandle;
  #diskstats: ProcHandle;
  #netdev: ProcHandle;
  #loadavg: ProcHandle;
  #prevTicks: Record<CpuMode, number> | null = null;
  #prevNet: { atMs: number; sent: number; recv: number } | null = null;
  #census: ProcessCounts = { total: 0, running: 0, sleeping: 0, zombie: 0 };
  #censusTicks: Map<string, number> | undefined;
  #top: TopProcesses = { byCpu: [], byMemory: [] };
  #pageSize: number;
  #mhz: number | null = null;
  #tcpCounts: Record<string, number> = {};
  #mounts: Mount[] = [];
  #slowTimer: NodeJS.Timeout | null = null;
  #slowRunning: Promise<void> | null = null;

  constructor(opts: HostCollectorOptions) {
    this.#files = opts.procFiles;
    this.#hz = opts.clockTicksPerSecond;
    this.#pageSize = opts.pageSize ?? 4096;
    this.#mountpoints = opts.mountpoints;
    this.#slowMs = opts.slowIntervalMs;
    this.#onError = opts.onError ?? (() => undefined);
    this.#stat = this.#files.handle('/proc/stat');
    this.#meminfo = this.#files.handle('/proc/meminfo');
    this.#diskstats = this.#files.handle('/proc/diskstats');
    this.#netdev = this.#files.handle('/proc/net/dev');
    this.#loadavg = this.#files.handle('/proc/loadavg');
  }

  /** Runs the slow part once (so the first sample has process counts), then on its cadence. */
  async start(): Promise<void> {
    // prime the CPU counters so the first sample's percent covers start → first tick instead of reading 0
    const statText = this.#files.text(this.#stat);
    if (statText !== null) this.#prevTicks = parseHostStat(statText).ticks;
    await this.#slow();
    const loop = () => {
      this.#slowTimer = setTimeout(() => void this.#slow().finally(loop), this.#slowMs);
      this.#slowTimer.unref();
    };
    loop();
  }

  stop(): void {
    if (this.#slowTimer) clearTimeout(this.#slowTimer);
    this.#slowTimer = null;
  }

  /** The busiest processes as of the last census (slow cadence). */
  get topProcesses(): TopProcesses {
    return this.#top;
  }

  get mounts(): readonly Mount[] {
    return this.#mounts;
  }

  /** One host sample. Throws only if /proc/stat or /proc/meminfo cannot be read (not Linux). */
  async collect(nowMs: number): Promise<HostSample> {
    const filesystems = await this.#filesystems();
    const tcp = this.#tcpCounts;
    const statText = this.#files.text(this.#stat);
    const memText = this.#files.text(this.#meminfo);
    if (statText === null || memText === null) throw new Error('cannot read /proc/stat or /proc/meminfo');
    const stat = parseHostStat(statText);
    const mem = parseMeminfo(memText);
    const disks = parseDiskstats(this.#files.text(this.#diskstats) ?? '');
    const devices = parseNetDev(this.#files.text(this.#netdev) ?? '');
    const load = parseLoadavg(this.#files.text(this.#loadavg) ?? '0 0 0 0/0 0');

    const percent = this.#prevTicks ? cpuPercentBetween(this.#prevTicks, stat.ticks) : 0;
    this.#prevTicks = stat.ticks;
    const secondsByMode = Object.fromEntries(Object.entries(stat.ticks).map(([m, v]) => [m, v / this.#hz])) as Record<CpuMode, number>;

    let bytesSent = 0;
    let bytesRecv = 0;
    let packetsSent = 0;
    let packetsRecv = 0;
    for (const d of devices) {
      if (d.device === 'lo') continue;
      bytesSent += d.txBytes;
      bytesRecv += d.rxBytes;
      packetsSent += d.txPackets;
      packetsRecv += d.rxPackets;
    }
    const prev = this.#prevNet;
    const dt = prev ? (nowMs - prev.atMs) / 1000 : 0;
    const rate = (cur: number, old: number) => (dt > 0 && cur >= old ? (cur - old) / dt : 0);
    this.#prevNet = { atMs: nowMs, sent: bytesSent, recv: bytesRecv };

    const used = mem.total - mem.available;
    return {
      timestampMs: nowMs,
      cpu: { percent, cores: stat.cores, frequencyMhz: this.#mhz, secondsByMode },
      memory: {
        total: mem.total,
        available: mem.available,
        used,
        percent: mem.total ? (used / mem.total) * 100 : 0,
        cached: mem.cached,
        free: mem.free,
        swapTotal: mem.swapTotal,
        swapFree: mem.swapFree,
      },
      filesystems,
      disks,
      diskReadBytes: disks.reduce((a, d) => a + d.readBytes, 0),
      diskWrittenBytes: disks.reduce((a, d) => a + d.writtenBytes, 0),
      network: {
        devices,
        bytesSent,
        bytesRecv,
        packetsSent,
        packetsRecv,
        sendBytesPerSecond: prev ? rate(bytesSent, prev.sent) : 0,
        recvBytesPerSecond: prev ? rate(bytesRecv, prev.recv) : 0,
      },
      processes: { ...this.#census },
      tcp,
      connections: {
        active: Object.entries(tcp).reduce((a, [s, n]) => (s === 'listen' ? a : a + n), 0),
        listening: tcp.listen ?? 0,
        established: tcp.established ?? 0,
      },
      load,
      bootTimeSeconds: stat.bootTimeSeconds,
    };
  }

  async #tcp(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
      try {
        countTcpStates(await readFile(f, 'latin1'), counts);
      } catch {
        /* no IPv6, or no procfs net */
      }
    }
    return counts;
  }

  async #filesystems(): Promise<FilesystemUsage[]> {
    const out: FilesystemUsage[] = [];
    await Promise.all(
      this.#mountpoints.map(async (mountpoint) => {
        try {
          const s = await statfs(mountpoint);
          const size = s.blocks * s.bsize;
          const avail = s.bavail * s.bsize;
          const usedBytes = (s.blocks - s.bfree) * s.bsize;
          const m = [...this.#mounts].reverse().find((x) => x.mountpoint === mountpoint);
          out.push({
            mountpoint,
            device: m?.device ?? '',
            fstype: m?.fstype ?? '',
            sizeBytes: size,
            availBytes: avail,
            usedBytes,
            percent: usedBytes + avail > 0 ? (usedBytes / (usedBytes + avail)) * 100 : 0,
          });
        } catch (err) {
          this.#onError(`statfs ${mountpoint}`, err);
        }
      }),
    );
    return out.sort((a, b) => this.#mountpoints.indexOf(a.mountpoint) - this.#mountpoints.indexOf(b.mountpoint));
  }

  /** The slow cadence: never overlaps itself, gives up after one slow interval. */
  #slow(): Promise<void> {
    this.#slowRunning ??= (async () => {
      const deadline = Date.now() + this.#slowMs;
      try {
        const [mounts, cpuinfo] = await Promise.all([readFile('/proc/self/mounts', 'utf8'), readFile('/proc/cpuinfo', 'utf8').catch(() => '')]);
        this.#mounts = parseMounts(mounts);
        this.#mhz = parseCpuinfoMhz(cpuinfo);
        const census = await processCensus(deadline, this.#censusTicks, this.#pageSize, this.#hz);
        if (census) {
          this.#census = census.counts;
          this.#top = census.top;
          this.#censusTicks = census.ticks;
        }
        // Reading /proc/net/tcp{,6} makes the kernel walk its whole connection hash table (sized by RAM): ~4.8 ms of
        // CPU per file on this 24 GiB machine even with a handful of sockets, 95 % of a tick (bench/README.md).
        this.#tcpCounts = await this.#tcp();
      } catch (err) {
        this.#onError('host slow collection', err);
      }
    })().finally(() => {
      this.#slowRunning = null;
    });
    return this.#slowRunning;
  }
}


export interface Census {
  counts: ProcessCounts;
  top: TopProcesses;
  /** CPU ticks per "pid:starttime", the base of the next census' CPU ranking. */
  ticks: Map<string, number>;
}

const TOP_N = 5;

/**
 * Counts processes by state with one walk of /proc, reading each stat asynchronously 32 at a time so the event loop
 * is never held, and ranks them by CPU used since `previous` and by RSS. Returns null if the deadline passes first (the
 * previous census stands).
 */
export async function processCensus(deadlineMs: number, previous?: Map<string, number>, pageSize = 4096, hz = 100): Promise<Census | null> {
  const pids = (await readdir('/proc')).filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57);
  const counts: ProcessCounts = { total: 0, running: 0, sleeping: 0, zombie: 0 };
  const ticks = new Map<string, number>();
  const byCpu: TopProcesses['byCpu'] = [];
  const byMemory: TopProcesses['byMemory'] = [];
  const keepTop = <T>(list: T[], item: T, key: (x: T) => number) => {
    if (list.length === TOP_N && key(list[TOP_N - 1]!) >= key(item)) return;
    list.push(item);
    list.sort((a, b) => key(b) - key(a));
    if (list.length > TOP_N) list.pop();
  };
  for (let i = 0; i < pids.length; i += 32) {
    if (Date.now() > deadlineMs) return null;
    const stats = await Promise.all(
      pids.slice(i, i + 32).map(async (pid) => {
        try {
          return parseProcStat(await readFile(`/proc/${pid}/stat`, 'latin1'));
        } catch {
          return null; // exited meanwhile
        }
      }),
    );
    for (const st of stats) {
      if (st === null) continue;
      counts.total++;
      if (st.state === 'R') counts.running++;
      else if (st.state === 'Z') counts.zombie++;
      else if (st.state === 'S' || st.state === 'D' || st.state === 'I') counts.sleeping++;
      const key = `${st.pid}:${st.startTime}`;
      const t = st.utime + st.stime;
      ticks.set(key, t);
      const before = previous?.get(key);
      if (before !== undefined && t > before) keepTop(byCpu, { pid: st.pid, name: st.comm, cpuSeconds: (t - before) / hz }, (x) => x.cpuSeconds);
      if (st.rssPages > 0) keepTop(byMemory, { pid: st.pid, name: st.comm, rssBytes: st.rssPages * pageSize }, (x) => x.rssBytes);
    }
  }
  return { counts, top: { byCpu, byMemory }, ticks };
}
