/**
 * Reports (issue 14): time and peak RSS to build a 7-day detailed PDF and CSV for the host and 50 plugins, and /metrics
 * latency and event-loop delay while they are built, next to the same with nothing building, in the same run.
 *
 * perfwatch runs in this process (the event-loop delay must be its own): its history holds 7 days of host series at
 * 60 s (restored from a checkpoint written first, as after a restart) and 7 days of samples for 50 plugins at 60 s
 * (`retention.plugin_samples: 10080`). /metrics is fetched every 50 ms over a kept-alive connection in every window;
 * rounds of the three conditions (idle, CSVs, a PDF) pool each condition's scrapes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { HOST_SERIES, hostKey } from '../src/model/legacy-names.js';
import { startPerfwatch } from '../src/main.js';
import { createHistory } from '../src/store/history.js';
import { have, pct, scrape } from './harness.js';

const PLUGINS = 50;
const DAYS = 7;
const STEP_MS = 60_000;
const TOKEN = 'bench-token-0123456789';
const ROUNDS = Number(process.env.REPORTS_ROUNDS ?? 4);

/**
 * RSS of this process and of its descendants (Chromium), MB, read from /proc with asynchronous reads. Not `ps`: spawning
 * a process forks this one, and forking a 400 MB process held the event loop for 4–11 ms per spawn (`--cpu-prof`),
 * ten times a second, in every window alike. That was this bench measuring itself.
 */
async function rssTree(): Promise<{ self: number; children: number }> {
  const self = process.memoryUsage().rss / 1048576;
  let children = 0;
  const childrenOf = async (pid: number): Promise<number[]> => {
    const out: number[] = [];
    try {
      for (const tid of await readdir(`/proc/${pid}/task`)) {
        const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
        for (const c of text.split(' ')) if (c.trim()) out.push(Number(c));
      }
    } catch {
      /* gone */
    }
    return out;
  };
  const queue = await childrenOf(process.pid);
  while (queue.length) {
    const pid = queue.shift()!;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    children += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    queue.push(...(await childrenOf(pid)));
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
    /** One condition's samples, pooled over its windows in every round. */
    const condition = () => ({ lat: [] as number[], loopP99: 0, loopMax: 0, peak: { self: 0, children: 0 }, seconds: 0 });
    type Condition = ReturnType<typeof condition>;
    const window = async (c: Condition, during: () => Promise<void>) => {
      // a monitor per window (re-enabling one counts the pause); the condition keeps its worst window's p99 and max
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      let done = false;
      const rss = setInterval(() => {
        void rssTree().then((r) => (c.peak = { self: Math.max(c.peak.self, r.self), children: Math.max(c.peak.children, r.children) }));
      }, 100);
      const scraping = (async () => {
        while (!done) {
          const t0 = performance.now();
          c.lat.push((await scrape(`${pw.url}/metrics`, agent)).ms);
          await new Promise((r) => setTimeout(r, Math.max(0, 50 - (performance.now() - t0))));
        }
      })();
      const t0 = performance.now();
      await during();
      c.seconds += (performance.now() - t0) / 1000;
      done = true;
      await scraping;
      clearInterval(rss);
      loop.disable();
      c.loopP99 = Math.max(c.loopP99, loop.percentile(99) / 1e6);
      c.loopMax = Math.max(c.loopMax, loop.max / 1e6);
    };
    const summary = (c: Condition) => ({ seconds: c.seconds, p50: pct(c.lat, 50), p99: pct(c.lat, 99), loopP99: c.loopP99, loopMax: c.loopMax, peak: c.peak, scrapes: c.lat.length });
    const build = (format: 'pdf' | 'csv') => async () => {
      const r = (await (await fetch(`${pw.url}/api/v1/performance/reports`, { method: 'POST', headers: auth, body: JSON.stringify({ type: 'detailed', format, start: new Date(start).toISOString(), end: new Date(end).toISOString(), include_recommendations: true }) })).json()) as { data: { report_id: string } };
      for (;;) {
        const s = (await (await fetch(`${pw.url}/api/v1/performance/reports/${r.data.report_id}`, { headers: auth })).json()) as { data: { status: string; error: string | null; size: number } };
        if (s.data.status === 'failed') throw new Error(`report failed: ${s.data.error}`);
        if (s.data.status === 'ready') return;
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    // Rounds of the three conditions, so each meets this VM's noise alike (one window of each, in a row, gave p99s
    // that moved 3× between runs); ten CSVs and one PDF per round, since one CSV is too short for a p99 around it.
    const conds = { idle: condition(), csv: condition(), pdf: condition() };
    const settle = () => new Promise((r) => setTimeout(r, 3000));
    for (let round = 0; round < ROUNDS; round++) {
      await settle(); // what the last PDF left behind (Chromium's exit, garbage) is not counted as idle
      await window(conds.idle, () => new Promise((r) => setTimeout(r, 6000)));
      await window(conds.csv, async () => {
        for (let i = 0; i < 10; i++) await build('csv')();
      });
      if (chromium) await window(conds.pdf, build('pdf'));
      log(`  round ${round + 1}: /metrics p99 idle ${pct(conds.idle.lat, 99).toFixed(2)}, csv ${pct(conds.csv.lat, 99).toFixed(2)}${chromium ? `, pdf ${pct(conds.pdf.lat, 99).toFixed(2)}` : ''} ms so far`);
    }
    const idle = summary(conds.idle);
    const csv = summary(conds.csv);
    const pdf = chromium ? summary(conds.pdf) : null;
    agent.destroy();
    const row = (name: string, w: typeof idle | null, goal: boolean) =>
      w
        ? `| ${name} | ${name === 'idle (nothing building)' ? '–' : w.seconds.toFixed(1)} | ${w.peak.self.toFixed(0)}${w.peak.children ? ` + Chromium ${w.peak.children.toFixed(0)}` : ''} | ${w.p50.toFixed(2)} / ${w.p99.toFixed(2)} (${w.scrapes} scrapes) | ${w.loopP99.toFixed(1)} / ${w.loopMax.toFixed(1)} | ${goal ? (w.p99 <= 1.5 * idle.p99 ? 'met' : 'missed') : '–'} |`
        : `| ${name} | not run: no chromium | | | | |`;
    return [
      `| ${DAYS}-day detailed report, host + ${PLUGINS} plugins at ${STEP_MS / 1000} s | build s | peak RSS MB (perfwatch + Chromium) | /metrics p50 / p99 ms, every 50 ms | event-loop delay p99 / max ms | /metrics p99 within 1.5× idle |`,
      '|---|---|---|---|---|---|',
      row('idle (nothing building)', idle, false),
      row(`CSV (ten in a row per round; build s is the total of ${10 * ROUNDS})`, csv, true),
      row(`PDF (one per round; build s is the total of ${ROUNDS})`, pdf, true),
      '',
    ].join('\n');
  } finally {
    await pw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
