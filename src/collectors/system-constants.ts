import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';

export interface SystemConstants {
  clockTicksPerSecond: number;
  pageSizeBytes: number;
  memTotalBytes: number;
}

function getconf(name: string): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('getconf', [name], { timeout: 2000 }, (err, stdout) => {
      const n = Number(String(stdout).trim());
      resolve(err || !Number.isFinite(n) || n <= 0 ? null : n);
    });
  });
}

/** Reads, once at start, the constants that turn /proc ticks and pages into seconds and bytes. */
export async function readSystemConstants(): Promise<SystemConstants> {
  const [ticks, page] = await Promise.all([getconf('CLK_TCK'), getconf('PAGESIZE')]);
  let memTotalBytes = totalmem();
  try {
    const m = /^MemTotal:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'));
    if (m) memTotalBytes = Number(m[1]) * 1024;
  } catch {
    /* not Linux: os.totalmem() stands */
  }
  // 100 and 4096 are what Linux uses on every common architecture; getconf only confirms them.
  return { clockTicksPerSecond: ticks ?? 100, pageSizeBytes: page ?? 4096, memTotalBytes };
}
