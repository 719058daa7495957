/**
 * The web console (issue 16): bytes of the first load, time to the first chart, and /metrics latency with ten consoles
 * open next to none, in the same run. Netdata's dashboard (Debian's `netdata` 1.37, its own build, on this machine)
 * is loaded the same way in the same Chromium when it is installed.
 *
 * A real `perfwatch serve` (built, own process) supervises 50 `sleep` plugins and collects every second, so a console
 * gets a WebSocket update every second (the most any console gets). First loads: a fresh browser context each (empty
 * cache), the bytes Chromium received for every response (headers and encoded bodies) until the first chart has a
 * point. Consoles: ten tabs in one Chromium, five on the overview and five on the plugins page. /metrics is fetched
 * every 100 ms over a kept-alive connection for `PHASE_MS`, alternately with no console and with the ten open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { cpuMsOf, freePort, have, median, paced, pct, waitHttp, waitPluginsRunning, startServe } from './harness.js';

const PLUGINS = 50;
const PHASE_MS = Number(process.env.CONSOLE_PHASE_MS ?? 30_000);
const ROUNDS = Number(process.env.CONSOLE_ROUNDS ?? 2);
const CONSOLES = 10;
const LOADS = 5;
const CHROMIUM = '/usr/bin/chromium';

interface FirstLoad {
  bytes: number;
  requests: number;
  firstChartMs: number;
}

/**
 * One cold load of `url` in a fresh context: bytes received (headers + encoded bodies) and milliseconds from
 * navigation start until `chartReady` is true in the page.
 */
async function firstLoad(browser: Browser, url: string, chartReady: () => boolean): Promise<FirstLoad> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  let bytes = 0;
  let requests = 0;
  const pending: Promise<void>[] = [];
  page.on('requestfinished', (r) => {
    pending.push(
      r.sizes().then((s) => {
        bytes += s.responseBodySize + s.responseHeadersSize;
        requests++;
      }),
    );
  });
  await page.goto(url);
  // a function, not a string: the console's CSP forbids eval, which is what a string predicate needs
  await page.waitForFunction(chartReady, undefined, { polling: 'raf', timeout: 30_000 });
  const firstChartMs = await page.evaluate(() => performance.now());
  await page.waitForLoadState('networkidle').catch(() => undefined);
  await Promise.all(pending);
  await ctx.close();
  return { bytes, requests, firstChartMs };
}

async function loads(browser: Browser, url: string, chartReady: () => boolean, log: (l: string) => void, name: string) {
  const runs: FirstLoad[] = [];
  for (let i = 0; i < LOADS; i++) runs.push(await firstLoad(browser, url, chartReady));
  log(`console: ${name} first loads ${runs.map((r) => `${(r.bytes / 1024).toFixed(0)} KiB/${r.firstChartMs.toFixed(0)} ms`).join(', ')}`);
  return { bytes: median(runs.map((r) => r.bytes)), requests: median(runs.map((r) => r.requests)), firstChartMs: median(runs.map((r) => r.firstChartMs)) };
}

export async function runConsoleBench(log: (l: string) => void): Promise<string> {
  if (!existsSync(CHROMIUM)) return 'chromium not installed (apt-get install chromium).\n';
  const plugins = Array.from({ length: PLUGINS }, (_, i) => ({ id: `p${i}`, command: 'sleep', args: ['100000', String(i)], start_grace: '100ms' }));
  const token = 'bench-token-0123456789';
  const { dir, base, server } = await startServe('pw-console-', { collection: { interval: '1s' }, log: { level: 'warn' }, plugins }, token);
  let netdata: ChildProcess | null = null;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    await waitHttp(`${base}/readyz`);
    await waitPluginsRunning(base, PLUGINS);
    await new Promise((r) => setTimeout(r, 3000));
    log(`console: ${PLUGINS} plugins under perfwatch pid ${server.pid}; Chromium ${browser.version()}`);

    const ours = await loads(browser, `${base}/#/overview`, () => Number((globalThis as any).document.querySelector('[data-testid=chart-cpu]')?.getAttribute('data-points')) > 0, log, 'perfwatch');
    let theirs: Awaited<ReturnType<typeof loads>> | null = null;
    if (have('netdata')) {
      const ndPort = await freePort();
      netdata = spawn('netdata', ['-D', '-p', String(ndPort), '-i', '127.0.0.1'], { stdio: 'ignore' });
      await waitHttp(`http://127.0.0.1:${ndPort}/api/v1/info`);
      await new Promise((r) => setTimeout(r, 5000)); // a few seconds of data to draw
      // Netdata's charts are dygraph canvases, drawn once their data arrived
      theirs = await loads(browser, `http://127.0.0.1:${ndPort}/`, () => (globalThis as any).document.querySelectorAll('[data-netdata] canvas').length > 0, log, 'netdata');
      netdata.kill('SIGTERM');
      await new Promise((r) => netdata!.once('exit', r));
      netdata = null;
    }

    // /metrics with no console, then with ten, alternately
    const phases: Record<'none' | 'ten', { lat: number[]; cpuPerS: number[] }> = { none: { lat: [], cpuPerS: [] }, ten: { lat: [], cpuPerS: [] } };
    const measure = async (which: 'none' | 'ten') => {
      const c0 = cpuMsOf(server.pid!);
      const t0 = performance.now();
      const r = await paced(`${base}/metrics`, 100, PHASE_MS);
      phases[which].cpuPerS.push((cpuMsOf(server.pid!) - c0) / ((performance.now() - t0) / 1000));
      phases[which].lat.push(...r.lat);
      log(`console: ${which} p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} ms`);
    };
    for (let round = 0; round < ROUNDS; round++) {
      await measure('none');
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await ctx.addInitScript((tk: string) => (globalThis as any).sessionStorage.setItem('perfwatch.token', tk), token);
      const pages: Page[] = [];
      for (let i = 0; i < CONSOLES; i++) {
        const p = await ctx.newPage();
        await p.goto(`${base}/#/${i % 2 ? 'plugins' : 'overview'}`);
        pages.push(p);
      }
      await new Promise((r) => setTimeout(r, 3000));
      const exposition = await (await fetch(`${base}/metrics`)).text();
      log(`console: ${/^perfwatch_websocket_clients (\d+)/m.exec(exposition)?.[1] ?? '?'} WebSocket clients`);
      await measure('ten');
      await ctx.close();
    }
    const row = (name: string, p: { lat: number[]; cpuPerS: number[] }) => `| ${name} | ${pct(p.lat, 50).toFixed(2)} | ${pct(p.lat, 99).toFixed(2)} | ${Math.max(...p.lat).toFixed(2)} | ${median(p.cpuPerS).toFixed(0)} |`;
    const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
    return [
      '| first load (cold cache, median of 5) | transferred | requests | first chart |',
      '|---|---|---|---|',
      `| perfwatch console (overview) | ${kib(ours.bytes)} | ${ours.requests} | ${ours.firstChartMs.toFixed(0)} ms |`,
      theirs ? `| Netdata 1.37.1 dashboard (Debian's build, same Chromium) | ${kib(theirs.bytes)} | ${theirs.requests} | ${theirs.firstChartMs.toFixed(0)} ms |` : '| Netdata | not installed (apt-get install netdata) | | |',
      '',
      `| /metrics every 100 ms, ${ROUNDS}×${PHASE_MS / 1000} s each | p50 ms | p99 ms | max ms | perfwatch CPU ms/s |`,
      '|---|---|---|---|---|',
      row('no console', phases.none),
      row(`${CONSOLES} consoles open (5 overview, 5 plugins)`, phases.ten),
      '',
    ].join('\n');
  } finally {
    await browser.close();
    netdata?.kill('SIGKILL');
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
