/**
 * Health checks (issue 12): CPU per HTTP probe, perfwatch next to Debian's prometheus-blackbox-exporter in the same
 * run, and /metrics latency with N plugins' checks running next to none.
 *
 * One target process (node) answers every GET with 200 "ok". A real `perfwatch serve` (built, own process) supervises N
 * idle `sleep` plugins, each with one http check on its own URL of the target every 10 s; `initial_delay` holds every
 * check back until the baseline is measured. Phases, each WINDOW long:
 *   1. perfwatch, checks not started yet: its CPU per second, /metrics every 250 ms;
 *   2. perfwatch, checks running (N / 10 probes a second): the same, and the probes done (from its own counter);
 *   3. perfwatch stopped; blackbox_exporter probing the same N URLs every 10 s, driven like Prometheus drives it
 *      (GET /probe?module=http_2xx&target=…, kept-alive connections, evenly spread): its CPU.
 * CPU per probe = (phase 2 − phase 1) / probes for perfwatch; phase 3 / probes for blackbox_exporter (whose idle
 * CPU is measured first and subtracted).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { cpuMsOf, freePort, have, paced, rssMbOf, waitHttp, waitPluginsRunning } from './harness.js';

const N = Number(process.env.HEALTH_PLUGINS ?? 1000);
const WINDOW_MS = Number(process.env.HEALTH_WINDOW_MS ?? 60_000);
const INTERVAL_S = 10;

export async function runHealthBench(log: (l: string) => void): Promise<string> {
  if (!have('prometheus-blackbox-exporter')) return 'prometheus-blackbox-exporter not installed (apt-get install prometheus-blackbox-exporter).\n';
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-health-'));
  const targetPort = await freePort();
  const target = spawn(process.execPath, ['-e', `require('http').createServer((q, r) => r.end('ok')).listen(${targetPort}, '127.0.0.1')`], { stdio: 'ignore' });
  const port = await freePort();
  // every check waits this long after its plugin's start: time to start N plugins and measure the baseline
  const holdS = Math.ceil(30 + WINDOW_MS / 1000 + N / 50);
  const plugins = Array.from({ length: N }, (_, i) => ({
    id: `p${i}`,
    command: 'sleep',
    args: ['100000', String(i)],
    start_grace: '100ms',
    health_checks: [{ name: 'api', type: 'http', url: `http://127.0.0.1:${targetPort}/p${i}`, interval: `${INTERVAL_S}s`, timeout: '1s', initial_delay: `${holdS}s` }],
  }));
  writeFileSync(path.join(dir, 'perfwatch.yaml'), stringify({ server: { host: '127.0.0.1', port }, collection: { interval: '5s' }, storage: { path: './data' }, log: { level: 'warn' }, alerting: { default_rules: false }, plugins }));
  const server = spawn(path.resolve('bin/perfwatch.js'), ['serve', '--config', path.join(dir, 'perfwatch.yaml')], { cwd: dir, stdio: 'ignore', env: { ...process.env, PERFWATCH_ADMIN_TOKEN: 'bench-token-0123456789' } });
  const base = `http://127.0.0.1:${port}`;
  const probesDone = async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    let sum = 0;
    for (const m of text.matchAll(/^perfwatch_plugin_health_checks_total\{[^}]*\} (\d+)$/gm)) sum += Number(m[1]);
    return sum;
  };
  let bb: ReturnType<typeof spawn> | null = null;
  try {
    await waitHttp(`${base}/readyz`);
    const t0 = Date.now();
    await waitPluginsRunning(base, N);
    log(`health: ${N} plugins running under perfwatch pid ${server.pid} after ${((Date.now() - t0) / 1000).toFixed(0)} s; checks start ${holdS} s after each plugin`);
    await new Promise((r) => setTimeout(r, 5000));
    const phase = async () => {
      const c0 = cpuMsOf(server.pid!);
      const p0 = await probesDone();
      const w0 = performance.now();
      const scrapes = await paced(`${base}/metrics`, 250, WINDOW_MS);
      const wall = (performance.now() - w0) / 1000;
      return { cpuPerS: (cpuMsOf(server.pid!) - c0) / wall, probes: (await probesDone()) - p0, wall, p50: scrapes.p50, p99: scrapes.p99 };
    };
    const before = await phase();
    if (before.probes !== 0) throw new Error(`checks ran during the baseline (${before.probes})`);
    log(`  baseline: ${before.cpuPerS.toFixed(1)} ms CPU/s, /metrics p50 ${before.p50.toFixed(2)} p99 ${before.p99.toFixed(2)} ms`);
    // wait until every plugin's check has run once
    for (;;) {
      if ((await probesDone()) >= N) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const during = await phase();
    const rss = rssMbOf(server.pid!);
    log(`  probing: ${during.cpuPerS.toFixed(1)} ms CPU/s, ${during.probes} probes, /metrics p50 ${during.p50.toFixed(2)} p99 ${during.p99.toFixed(2)} ms, RSS ${rss.toFixed(0)} MB`);
    const pwPerProbe = ((during.cpuPerS - before.cpuPerS) * during.wall) / during.probes;
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));

    // blackbox_exporter, driven as Prometheus would: N targets every 10 s, evenly spread, kept-alive connections
    const bbPort = await freePort();
    writeFileSync(path.join(dir, 'blackbox.yml'), stringify({ modules: { http_2xx: { prober: 'http', timeout: '1s', http: { preferred_ip_protocol: 'ip4' } } } }));
    bb = spawn('prometheus-blackbox-exporter', [`--config.file=${path.join(dir, 'blackbox.yml')}`, `--web.listen-address=127.0.0.1:${bbPort}`], { stdio: 'ignore' });
    await waitHttp(`http://127.0.0.1:${bbPort}/metrics`);
    await new Promise((r) => setTimeout(r, 2000));
    const idle0 = cpuMsOf(bb.pid!);
    await new Promise((r) => setTimeout(r, 10_000));
    const bbIdlePerS = (cpuMsOf(bb.pid!) - idle0) / 10;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    let probes = 0;
    let failed = 0;
    const probe = (i: number) =>
      new Promise<void>((resolve) => {
        const url = `http://127.0.0.1:${bbPort}/probe?module=http_2xx&target=${encodeURIComponent(`http://127.0.0.1:${targetPort}/p${i}`)}`;
        http
          .get(url, { agent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => {
              probes++;
              if (!/^probe_success 1$/m.test(body)) failed++;
              resolve();
            });
          })
          .on('error', () => (failed++, resolve()));
      });
    const c0 = cpuMsOf(bb.pid!);
    const w0 = performance.now();
    const gap = (INTERVAL_S * 1000) / N;
    const inflight: Promise<void>[] = [];
    for (let k = 0; performance.now() - w0 < WINDOW_MS; k++) {
      inflight.push(probe(k % N));
      const next = w0 + (k + 1) * gap;
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
    await Promise.all(inflight);
    const wall = (performance.now() - w0) / 1000;
    const bbCpu = cpuMsOf(bb.pid!) - c0 - bbIdlePerS * wall;
    const bbRss = rssMbOf(bb.pid!);
    agent.destroy();
    const bbPerProbe = bbCpu / probes;
    log(`  blackbox_exporter: ${probes} probes (${failed} failed), ${(bbCpu / wall).toFixed(1)} ms CPU/s over idle ${bbIdlePerS.toFixed(1)}, RSS ${bbRss.toFixed(0)} MB`);
    if (failed) throw new Error(`${failed} blackbox probes failed`);
    return [
      `| figure (${N} plugins, one http check each every ${INTERVAL_S} s; ${WINDOW_MS / 1000} s windows) | perfwatch | blackbox_exporter 0.23 (same run, same targets) | goal |`,
      '|---|---|---|---|',
      `| CPU per probe, ms | ${pwPerProbe.toFixed(3)} (${during.probes} probes; ${before.cpuPerS.toFixed(1)} → ${during.cpuPerS.toFixed(1)} ms CPU/s) | ${bbPerProbe.toFixed(3)} (${probes} probes; ${(bbCpu / wall).toFixed(1)} ms CPU/s over its idle ${bbIdlePerS.toFixed(1)}) | at or below blackbox_exporter: ${pwPerProbe <= bbPerProbe ? 'met' : 'missed'} |`,
      `| /metrics latency, p50 / p99 ms (one scrape every 250 ms) | checks held back: ${before.p50.toFixed(2)} / ${before.p99.toFixed(2)}; checks running: ${during.p50.toFixed(2)} / ${during.p99.toFixed(2)} | – | not slower with checks running |`,
      `| RSS, MB | ${rss.toFixed(0)} (with ${N} plugins supervised and sampled) | ${bbRss.toFixed(0)} | – |`,
      '',
    ].join('\n');
  } finally {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    bb?.kill('SIGTERM');
    target.kill('SIGTERM');
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 2000).unref();
  }
}
