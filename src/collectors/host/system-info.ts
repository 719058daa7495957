import os from 'node:os';
import si from 'systeminformation';
import type { SystemInfo } from '../../model/host.js';


function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * Reads the static facts once with systeminformation (which forks lscpu, df, ip … : tens of ms, so never per tick),
 * with a timeout. Memory `available` and uptime/load are filled per request from the live sample instead.
 */
export async function readSystemInfo(timeoutMs = 15_000): Promise<SystemInfo> {
  const [osInfo, cpu, mem, fsSize, ifaces] = await withTimeout(
    Promise.all([si.osInfo(), si.cpu(), si.mem(), si.fsSize(), si.networkInterfaces()]),
    timeoutMs,
    'systeminformation',
  );
  const list = Array.isArray(ifaces) ? ifaces : [ifaces];
  return {
    hostname: os.hostname(),
    platform: osInfo.platform === 'linux' ? 'Linux' : osInfo.platform,
    platform_version: osInfo.kernel || os.release(),
    architecture: os.machine?.() ?? osInfo.arch,
    python_version: process.versions.node,
    cpu_info: {
      model: `${cpu.manufacturer} ${cpu.brand}`.trim(),
      cores: cpu.physicalCores || cpu.cores,
      threads: cpu.cores,
      frequency: Math.round((cpu.speedMax || cpu.speed) * 1000),
      cache_size: Math.round((cpu.cache?.l3 ?? 0) / 1024),
    },
    memory_info: { total: mem.total, available: mem.available, swap_total: mem.swaptotal, swap_available: mem.swapfree },
    disk_info: fsSize
      .filter((f) => f.size > 0)
      .map((f) => ({ device: f.fs, mountpoint: f.mount, total: f.size, free: f.available, filesystem: f.type })),
    network_info: list.map((n) => ({ interface: n.iface, ip_address: n.ip4 || n.ip6 || '', mac_address: n.mac, is_up: n.operstate === 'up' || n.iface === 'lo' })),
  };
}
