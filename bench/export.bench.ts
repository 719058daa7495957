/**
 * Export (issue 13): a week of history for 500 plugins, streamed by `GET /api/v1/performance/export`.
 *
 * A real perfwatch (startPerfwatch, in this process, its HTTP server on loopback) with 500 registered plugins (disabled:
 * no processes, the supervisor lists them) and a week of samples each at a 1-minute interval (10 080 per plugin, 5.04
 * million in all) appended to its rings. The export is read by a child `curl` writing to /dev/null, so the client's
 * memory is not this process'. This process' RSS is sampled every 20 ms during the export: the peak above the RSS
 * before it is what the export holds (the rings themselves are allocated and touched before).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { startPerfwatch } from '../src/main.js';
import { rssMbOf } from './harness.js';

const PLUGINS = Number(process.env.EXPORT_PLUGINS ?? 500);
const SAMPLES = 10_080;
const STEP_MS = 60_000;

export async function runExportBench(log: (l: string) => void): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-export-'));
  const ids = Array.from({ length: PLUGINS }, (_, i) => `plugin-${String(i).padStart(3, '0')}`);
  writeFileSync(
    path.join(dir, 'c.yaml'),
    [
      'server: { host: 127.0.0.1, port: 0 }',
      `storage: { path: ${path.join(dir, 'data')} }`,
      'collection: { interval: 60s }',
      `retention: { plugin_samples: ${SAMPLES} }`,
      'host: { enabled: false }',
      'alerting: { enabled: false }',
      'log: { level: warn }',
      'plugins:',
      ...ids.map((id) => `  - { id: ${id}, command: /bin/true, enabled: false }`),
    ].join('\n'),
  );
  const pw = await startPerfwatch({ config: await loadConfig({ file: path.join(dir, 'c.yaml') }), logger: pino({ level: 'warn' }), env: { ...process.env, PERFWATCH_ADMIN_TOKEN: 'bench-token-0123456789' } });
  try {
    const end = Math.floor(Date.now() / STEP_MS) * STEP_MS;
    const t0 = performance.now();
    for (let k = 0; k < SAMPLES; k++) {
      const t = end - (SAMPLES - 1 - k) * STEP_MS;
      pw.history.append(ids.map((pluginId, i) => ({ pluginId, pid: 1000 + i, timestampMs: t, cpuPercent: (k % 100) / 3, cpuUserSeconds: 0, cpuSystemSeconds: 0, rssBytes: (50 + (i % 50)) * 1048576, memoryPercent: 0.5, threads: 7, processes: 1 })));
    }
    log(`export: filled ${PLUGINS} × ${SAMPLES} samples in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const ringMb = pw.history.memoryBytes / 1048576;
    const rows: string[] = [];
    for (const [what, query] of [
      ['JSON, every plugin', 'format=json&period=7d'],
      ['CSV long (one file, plugin_id column)', 'format=csv&period=7d'],
    ] as const) {
      (globalThis as { gc?: () => void }).gc?.();
      const before = rssMbOf(process.pid);
      let peak = before;
      const timer = setInterval(() => (peak = Math.max(peak, rssMbOf(process.pid))), 20);
      const t1 = performance.now();
      const out = await new Promise<string>((resolve, reject) => {
        const curl = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', '-H', 'Authorization: Bearer bench-token-0123456789', `${pw.url}/api/v1/performance/export?${query}`]);
        let text = '';
        curl.stdout.on('data', (d) => (text += d));
        curl.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`curl exited ${code}`))));
      });
      const seconds = (performance.now() - t1) / 1000;
      clearInterval(timer);
      const [status, bytes] = out.split(' ').map(Number) as [number, number];
      if (status !== 200) throw new Error(`export answered ${status}`);
      log(`  ${what}: ${(bytes / 1048576).toFixed(0)} MiB in ${seconds.toFixed(1)} s, RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MB`);
      rows.push(`| ${what}: ${PLUGINS} plugins × ${SAMPLES} samples (a week at 1 min) | ${(bytes / 1048576).toFixed(0)} MiB in ${seconds.toFixed(1)} s (${((PLUGINS * SAMPLES) / seconds / 1000).toFixed(0)}k samples/s) | ${(peak - before).toFixed(1)} MB above the ${before.toFixed(0)} MB before (rings: ${ringMb.toFixed(0)} MiB) |`);
    }
    return ['| export | size and time | peak RSS during the export |', '|---|---|---|', ...rows, ''].join('\n');
  } finally {
    await pw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
