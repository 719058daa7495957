import { Counter, Gauge, type Registry } from 'prom-client';
import type { HostSample } from '../../model/host.js';
import { CounterValues } from './counter-values.js';
import { M } from '../../model/metric-names.js';

/** Host gauges and counters, set once per tick from the host sample (the same one the JSON API and history read). */
export class HostMetrics {
  #g: Record<string, Gauge<string>> = {};
  #cpuSeconds: CounterValues<'mode'>;
  #disk: { read: CounterValues<'device'>; written: CounterValues<'device'> };
  #net: { rxB: CounterValues<'device'>; txB: CounterValues<'device'>; rxP: CounterValues<'device'>; txP: CounterValues<'device'> };
  #devices = new Set<string>();
  #disks = new Set<string>();
  #filesystems = new Set<string>();

  constructor(registry: Registry, info: { hostname: string; kernel: string; os: string; arch: string }) {
    const registers = [registry];
    const g = (name: string, help: string, labelNames: string[] = []) => (this.#g[name] = new Gauge({ name, help, labelNames, registers }));
    const c = <L extends string>(name: string, help: string, labelNames: L[]) => new CounterValues(new Counter<L>({ name, help, labelNames, registers }));
    g(M.hostCpuUsageRatio, 'Busy share of all CPUs over the last interval (everything but idle and iowait), 0-1.');
    this.#cpuSeconds = c(M.hostCpuSecondsTotal, 'CPU time of all CPUs by mode, from /proc/stat.', ['mode']);
    g(M.hostCpus, 'Logical CPUs.');
    g(M.hostCpuFrequencyHertz, 'Mean current CPU frequency over all CPUs (from /proc/cpuinfo, on the slow cadence).');
    g(M.hostMemoryTotalBytes, 'MemTotal.');
    g(M.hostMemoryAvailableBytes, 'MemAvailable.');
    g(M.hostMemoryUsedBytes, 'MemTotal - MemAvailable.');
    g(M.hostMemoryCachedBytes, 'Page cache plus reclaimable slab (Cached + SReclaimable).');
    g(M.hostMemoryUsageRatio, 'Used over total memory, 0-1.');
    g(M.hostSwapTotalBytes, 'SwapTotal.');
    g(M.hostSwapFreeBytes, 'SwapFree.');
    g(M.hostFilesystemSizeBytes, 'Size of each configured filesystem.', ['device', 'mountpoint', 'fstype']);
    g(M.hostFilesystemAvailBytes, 'Space available to unprivileged users.', ['device', 'mountpoint', 'fstype']);
    g(M.hostFilesystemUsageRatio, 'used / (used + avail), as df computes it, 0-1.', ['device', 'mountpoint', 'fstype']);
    this.#disk = {
      read: c(M.hostDiskReadBytesTotal, 'Bytes read from each whole disk.', ['device']),
      written: c(M.hostDiskWrittenBytesTotal, 'Bytes written to each whole disk.', ['device']),
    };
    this.#net = {
      rxB: c(M.hostNetworkReceiveBytesTotal, 'Bytes received by each interface.', ['device']),
      txB: c(M.hostNetworkTransmitBytesTotal, 'Bytes sent by each interface.', ['device']),
      rxP: c(M.hostNetworkReceivePacketsTotal, 'Packets received by each interface.', ['device']),
      txP: c(M.hostNetworkTransmitPacketsTotal, 'Packets sent by each interface.', ['device']),
    };
    g(M.hostProcesses, 'Processes by state, from the last census (host.slow_interval).', ['state']);
    g(M.hostTcpConnections, 'TCP sockets (IPv4 and IPv6) by state.', ['state']);
    g(M.hostLoad1, '1-minute load average.');
    g(M.hostLoad5, '5-minute load average.');
    g(M.hostLoad15, '15-minute load average.');
    g(M.hostBootTimeSeconds, 'Boot time, seconds since the epoch.');
    g(M.hostInfo, 'Host identity; always 1.', ['hostname', 'kernel', 'os', 'arch']).set(info, 1);
  }

  update(h: HostSample): void {
    const g = this.#g;
    g[M.hostCpuUsageRatio]!.set(h.cpu.percent / 100);
    for (const [mode, s] of Object.entries(h.cpu.secondsByMode)) this.#cpuSeconds.set({ mode }, s);
    g[M.hostCpus]!.set(h.cpu.cores);
    if (h.cpu.frequencyMhz !== null) g[M.hostCpuFrequencyHertz]!.set(h.cpu.frequencyMhz * 1e6);
    g[M.hostMemoryTotalBytes]!.set(h.memory.total);
    g[M.hostMemoryAvailableBytes]!.set(h.memory.available);
    g[M.hostMemoryUsedBytes]!.set(h.memory.used);
    g[M.hostMemoryCachedBytes]!.set(h.memory.cached);
    g[M.hostMemoryUsageRatio]!.set(h.memory.percent / 100);
    g[M.hostSwapTotalBytes]!.set(h.memory.swapTotal);
    g[M.hostSwapFreeBytes]!.set(h.memory.swapFree);
    const fsSeen = new Set<string>();
    for (const f of h.filesystems) {
      const l = { device: f.device, mountpoint: f.mountpoint, fstype: f.fstype };
      fsSeen.add(JSON.stringify(l));
      g[M.hostFilesystemSizeBytes]!.set(l, f.sizeBytes);
      g[M.hostFilesystemAvailBytes]!.set(l, f.availBytes);
      g[M.hostFilesystemUsageRatio]!.set(l, f.percent / 100);
    }
    for (const key of this.#filesystems) {
      if (fsSeen.has(key)) continue;
      const l = JSON.parse(key) as Record<string, string>;
      for (const n of [M.hostFilesystemSizeBytes, M.hostFilesystemAvailBytes, M.hostFilesystemUsageRatio]) g[n]!.remove(l);
    }
    this.#filesystems = fsSeen;
    const disks = new Set<string>();
    for (const d of h.disks) {
      disks.add(d.device);
      this.#disk.read.set({ device: d.device }, d.readBytes);
      this.#disk.written.set({ device: d.device }, d.writtenBytes);
    }
    for (const d of this.#disks) if (!disks.has(d)) (this.#disk.read.remove({ device: d }), this.#disk.written.remove({ device: d }));
    this.#disks = disks;
    const devices = new Set<string>();
    for (const d of h.network.devices) {
      const l = { device: d.device };
      devices.add(d.device);
      this.#net.rxB.set(l, d.rxBytes);
      this.#net.txB.set(l, d.txBytes);
      this.#net.rxP.set(l, d.rxPackets);
      this.#net.txP.set(l, d.txPackets);
    }
    for (const d of this.#devices) if (!devices.has(d)) for (const c of Object.values(this.#net)) c.remove({ device: d });
    this.#devices = devices;
    // `other` (stopped, traced, dead…) makes the states sum to the census total, which history's processes_total is
    const { total, ...states } = h.processes;
    let counted = 0;
    for (const [state, n] of Object.entries(states)) {
      g[M.hostProcesses]!.set({ state }, n);
      counted += n;
    }
    g[M.hostProcesses]!.set({ state: 'other' }, Math.max(0, total - counted));
    for (const state of ['established', 'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2', 'time_wait', 'close', 'close_wait', 'last_ack', 'listen', 'closing']) {
      g[M.hostTcpConnections]!.set({ state }, h.tcp[state] ?? 0);
    }
    g[M.hostLoad1]!.set(h.load.load1);
    g[M.hostLoad5]!.set(h.load.load5);
    g[M.hostLoad15]!.set(h.load.load15);
    g[M.hostBootTimeSeconds]!.set(h.bootTimeSeconds);
  }
}
