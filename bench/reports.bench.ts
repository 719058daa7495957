/**
 * Reports (issue 14): time and peak RSS to build a 7-day detailed PDF and CSV for the host and 50 plugins, and /metrics
 * latency and event-loop delay while they are built, next to the same with nothing building, in the same run.
 *
 * perfwatch runs in this process (the event-loop delay must be its own): its history holds 7 days of host series at
 * 60 s (restored from a checkpoint written first, as after a restart) and 7 days of samples for 50 plugins at 60 s
 * (`retention.plugin_samples: 10080`). /metrics is fetched every 50 ms over a kept-alive connection in both windows.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { HOST_SERIES, hostKey } from '../src/model/legacy-names.js';
import { startPerfwatch } from '../src/main.js';
import { createHistory } from '../src/store/history.js';
import { have, pct, scrape } from './harness.js';

const execFileAsync = promisify(execFile);
const PLUGINS = 50;
const DAYS = 7;
const STEP_MS = 60_000;
const TOKEN = 'bench-token-0123456789';

/**
 * RSS of this process and of its child processes (Chromium), MB. `ps` runs asynchronously: a synchronous spawn every
 * 100 ms would itself stall the event loop this bench watches (an early version did, by up to 58 ms).
 */
async function rssTree(): Promise<{ self: number; children: number }> {
  const self = process.memoryUsage().rss / 1048576;
  let children = 0;
  try {
    const { stdout } = await execFileAsync('ps', ['-eo', 'pid=,ppid=,rss=']);
    const rows = stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    const kids = new Set([process.pid]);
    for (let changed = true; changed; ) {
      changed = false;
      for (const [pid, ppid] of rows) if (kids.has(ppid!) && !kids.has(pid!)) (kids.add(pid!), (changed = true));
    }
    for (const [pid, , rss] of rows) if (pid !== process.pid && kids.has(pid!)) children += rss! / 1024;
  } catch {
    /* no ps */
  }
  return { self, children };
}

export async function runReportsBench(log: (l: string) => void): Promise<string> {
  const chromium = have('chromium');
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-reports-'));
  const end = Date.now() - 60_000;
  const start = end - DAYS * 86_400_000;
  // 7 days of host series, written as a checkpoint the agent restores at start
  const offline = createHistory({ rawCapacity: 720, pluginSamples: 10, retentionDays: 7, memTotalBytes: 24 * 2 ** 30, checkpointFile: path.join(dir, 'data/history.ckpt'), checkpointIntervalMs: 3_600_000, log: () => {} });
  for (let t = start, i = 0; t <= end; t += STEP_MS, i++) {
    for (const s of HOST_SERIES) {
      const v = s.counter ? i * 1e6 : s.unit === '%' ? 30 + 20 * Math.sin(i / 300) + (i % 7) : 1e9 + 1e8 * Math.sin(i / 500);
      offline.store.append(hostKey(s.name), { name: s.name, unit: s.unit, kind: 'host' }, t, v);
    }
  }
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  await offline.store.checkpoint(path.join(dir, 'data/history.ckpt'));
  const plugins = Array.from({ length: PLUGINS }, (_, i) => ({ id: `p${i}`, command: 'sleep', args: ['1000'], autostart: false }));
  writeFileSync(path.join(dir, 'perfwatch.yaml'), stringify({ server: { host: '127.0.0.1', port: 0 }, storage: { path: './data' }, collection: { interval: '5s' }, retention: { plugin_samples: DAYS * 1440 }, reports: { concurrency: 1, timeout: '10m' }, plugins }));
  const pw = await startPerfwatch({ config: await loadConfig({ file: path.join(dir, 'perfwatch.yaml') }), logger: pino({ level: 'warn' }), env: { ...process.env, PERFWATCH_ADMIN_TOKEN: TOKEN } });
  try {
    // 7 days of samples for each plugin (not running: nothing else appends to their rings)
    for (let t = start, i = 0; t <= end; t += STEP_MS, i++) {
      pw.history.append(
        plugins.map((p, k) => ({ pluginId: p.id, pid: 1000 + k, timestampMs: t, cpuPercent: (k % 10) * 8 + 5 * Math.sin(i / 60), cpuUserSeconds: i, cpuSystemSeconds: i / 2, rssBytes: (50 + k + (k === 7 ? i / 100 : 0)) * 1048576, memoryPercent: 0.2, threads: 8, processes: 1 })),
      );
    }
    log(`reports: ${DAYS} days of ${HOST_SERIES.length} host series and ${PLUGINS} plugins at ${STEP_MS / 1000} s loaded`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const window = async (during: () => Promise<void>) => {
      const lat: number[] = [];
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      let done = false;
      let peak = { self: 0, children: 0 };
      const rss = setInterval(() => {
        void rssTree().then((r) => (peak = { self: Math.max(peak.self, r.self), children: Math.max(peak.children, r.children) }));
      }, 100);
      const scraping = (async () => {
        while (!done) {
          const t0 = performance.now();
          lat.push((await scrape(`${pw.url}/metrics`, agent)).ms);
          await new Promise((r) => setTimeout(r, Math.max(0, 50 - (performance.now() - t0))));
        }
      })();
      const t0 = performance.now();
      await during();
      const seconds = (performance.now() - t0) / 1000;
      done = true;
      await scraping;
      clearInterval(rss);
      loop.disable();
      return { seconds, p50: pct(lat, 50), p99: pct(lat, 99), loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6, peak, scrapes: lat.length };
    };
    const build = (format: 'pdf' | 'csv') => async () => {
      const r = (await (await fetch(`${pw.url}/api/v1/performance/reports`, { method: 'POST', headers: auth, body: JSON.stringify({ type: 'detailed', format, start: new Date(start).toISOString(), end: new Date(end).toISOString(), include_recommendations: true }) })).json()) as { data: { report_id: string } };
      for (;;) {
        const s = (await (await fetch(`${pw.url}/api/v1/performance/reports/${r.data.report_id}`, { headers: auth })).json()) as { data: { status: string; error: string | null; size: number } };
        if (s.data.status === 'failed') throw new Error(`report failed: ${s.data.error}`);
        if (s.data.status === 'ready') return;
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    const idle = await window(() => new Promise((r) => setTimeout(r, 15_000)));
    log(`  idle: /metrics p50 ${idle.p50.toFixed(2)} p99 ${idle.p99.toFixed(2)} ms, loop p99 ${idle.loopP99.toFixed(1)} ms`);
    // thirty CSVs and three PDFs back to back: one of either is too short for a p99 of the scrapes around it
    const csv = await window(async () => {
      for (let i = 0; i < 30; i++) await build('csv')();
    });
    log(`  csv: ${csv.seconds.toFixed(1)} s, /metrics p99 ${csv.p99.toFixed(2)} ms, loop p99 ${csv.loopP99.toFixed(1)} max ${csv.loopMax.toFixed(1)} ms`);
    const pdf = chromium
      ? await window(async () => {
          for (let i = 0; i < 3; i++) await build('pdf')();
        })
      : null;
    if (pdf) log(`  pdf: ${pdf.seconds.toFixed(1)} s, /metrics p99 ${pdf.p99.toFixed(2)} ms, loop p99 ${pdf.loopP99.toFixed(1)} max ${pdf.loopMax.toFixed(1)} ms`);
    agent.destroy();
    const row = (name: string, w: typeof idle | null, goal: boolean) =>
      w
        ? `| ${name} | ${name === 'idle (nothing building)' ? '–' : w.seconds.toFixed(1)} | ${w.peak.self.toFixed(0)}${w.peak.children ? ` + Chromium ${w.peak.children.toFixed(0)}` : ''} | ${w.p50.toFixed(2)} / ${w.p99.toFixed(2)} (${w.scrapes} scrapes) | ${w.loopP99.toFixed(1)} / ${w.loopMax.toFixed(1)} | ${goal ? (w.p99 <= 1.5 * idle.p99 ? 'met' : 'missed') : '–'} |`
        : `| ${name} | not run: no chromium | | | | |`;
    return [
      `| ${DAYS}-day detailed report, host + ${PLUGINS} plugins at ${STEP_MS / 1000} s | build s | peak RSS MB (perfwatch + Chromium) | /metrics p50 / p99 ms, every 50 ms | event-loop delay p99 / max ms | /metrics p99 within 1.5× idle |`,
      '|---|---|---|---|---|---|',
      row('idle (nothing building)', idle, false),
      row('CSV (thirty in a row; build s is their total)', csv, true),
      row('PDF (three in a row; build s is their total)', pdf, true),
      '',
    ].join('\n');
  } finally {
    await pw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
