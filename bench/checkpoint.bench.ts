// The cost of one history checkpoint (format 3: copy each series, SHA-256, positional writes, fsync, rename) at the
// default retention (raw 1 h at 5 s, 1-minute tier for 24 h, 5-minute tier for 7 days), by series count: wall time,
// CPU time, file size, and the longest event-loop stall while it runs (what a scrape would wait).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SeriesStore } from '../src/store/series-store.js';

const layout = { rawCapacity: 720, tiers: [{ bucketMs: 60_000, capacity: 1440 }, { bucketMs: 300_000, capacity: 7 * 288 }] };

export async function runCheckpointBench(log: (line: string) => void): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-ckpt-bench-'));
  const rows = ['| series | file MiB | wall ms (median of 5) | CPU ms | longest event-loop stall ms | restore wall ms |', '|---|---|---|---|---|---|'];
  try {
    for (const n of [16, 100, 1000]) {
      const store = new SeriesStore(layout);
      const t0 = Date.now() - 3_600_000;
      for (let k = 0; k < n; k++) for (let i = 0; i < 720; i++) store.append(`custom:s${k}`, { name: `s${k}`, unit: '', kind: 'custom' }, t0 + i * 5000, Math.sin(i + k));
      const file = path.join(dir, `h${n}.ckpt`);
      const walls: number[] = [];
      const cpus: number[] = [];
      let stall = 0;
      for (let round = 0; round < 5; round++) {
        const h = monitorEventLoopDelay({ resolution: 1 });
        h.enable();
        const c0 = process.cpuUsage();
        const w0 = performance.now();
        await store.checkpoint(file);
        walls.push(performance.now() - w0);
        const c = process.cpuUsage(c0);
        cpus.push((c.user + c.system) / 1000);
        h.disable();
        stall = Math.max(stall, h.max / 1e6);
      }
      const r0 = performance.now();
      const back = await new SeriesStore(layout).restore(file);
      const restoreMs = performance.now() - r0;
      if (!('restored' in back) || back.restored !== n) throw new Error(`checkpoint of ${n} series did not restore: ${JSON.stringify(back)}`);
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[2]!;
      const mib = statSync(file).size / 1048576;
      log(`checkpoint ${n} series: ${med(walls).toFixed(1)} ms wall, ${med(cpus).toFixed(1)} ms CPU, ${mib.toFixed(1)} MiB`);
      rows.push(`| ${n} | ${mib.toFixed(1)} | ${med(walls).toFixed(1)} | ${med(cpus).toFixed(1)} | ${stall.toFixed(1)} | ${restoreMs.toFixed(1)} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows.join('\n');
}
