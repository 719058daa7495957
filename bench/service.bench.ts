/**
 * Service metrics (issue 12): perfwatch CPU per reported call at 10 000 calls/s from 10 plugins, and /metrics latency
 * while they arrive next to none.
 *
 * A real `perfwatch serve` (built, own process) supervises 10 idle plugins. This process plays the 10 plugins' SDKs as
 * `perfwatch/plugin` sends by default: every second, one `POST /plugin/{id}/report` of 1000 calls per plugin (tools
 * from a set of 20, one call in 20 failing), spread over the second. Two windows of WINDOW each, /metrics scraped every
 * 250 ms in both: without reports, with reports. Per call = Δ CPU / calls accepted.
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { stringify } from 'yaml';
import { cpuMsOf, paced, waitHttp, waitPluginsRunning, startServe } from './harness.js';

const PLUGINS = 10;
const CALLS_PER_SECOND = Number(process.env.SERVICE_CALLS_PER_SECOND ?? 10_000);
const WINDOW_MS = Number(process.env.SERVICE_WINDOW_MS ?? 60_000);
const TOKEN = 'bench-token-0123456789';

export async function runServiceBench(log: (l: string) => void): Promise<string> {
  const plugins = Array.from({ length: PLUGINS }, (_, i) => ({ id: `p${i}`, command: 'sleep', args: ['100000', String(i)], start_grace: '100ms' }));
  const { dir, base, server } = await startServe('pw-service-', { collection: { interval: '1s' }, log: { level: 'warn' }, plugins }, TOKEN);
  try {
    await waitHttp(`${base}/readyz`);
    await waitPluginsRunning(base, PLUGINS);
    await new Promise((r) => setTimeout(r, 3000));
    const perBatch = CALLS_PER_SECOND / PLUGINS;
    // one body per plugin, built once: the cost measured is perfwatch's, not this generator's
    const bodies = Array.from({ length: PLUGINS }, (_, p) =>
      JSON.stringify({
        calls: Array.from({ length: perBatch }, (_, i) => (i % 20 === 0 ? { tool: `tool${i % 20}`, duration_ms: 12.5 + (i % 7), ok: false, error: 'upstream 502' } : { tool: `tool${(i + p) % 20}`, duration_ms: 3 + (i % 50) / 10, ok: true })),
        active_connections: p,
      }),
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: PLUGINS });
    const post = (p: number) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(`${base}/plugin/p${p}/report`, { method: 'POST', agent, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve(perBatch) : reject(new Error(`report answered ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(bodies[p]);
      });
    const phase = async (reporting: boolean) => {
      const c0 = cpuMsOf(server.pid!);
      const w0 = performance.now();
      let calls = 0;
      const sending = (async () => {
        if (!reporting) return;
        for (let k = 0; performance.now() - w0 < WINDOW_MS - 500; k++) {
          calls += await post(k % PLUGINS);
          const next = w0 + ((k + 1) * 1000) / PLUGINS;
          await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
        }
      })();
      const scrapes = await paced(`${base}/metrics`, 250, WINDOW_MS);
      await sending;
      const wall = (performance.now() - w0) / 1000;
      return { cpuPerS: (cpuMsOf(server.pid!) - c0) / wall, calls, wall, p50: scrapes.p50, p99: scrapes.p99 };
    };
    const quiet = await phase(false);
    log(`service: quiet ${quiet.cpuPerS.toFixed(1)} ms CPU/s, /metrics p50 ${quiet.p50.toFixed(2)} p99 ${quiet.p99.toFixed(2)} ms`);
    const busy = await phase(true);
    log(`service: ${busy.calls} calls in ${busy.wall.toFixed(0)} s, ${busy.cpuPerS.toFixed(1)} ms CPU/s, /metrics p50 ${busy.p50.toFixed(2)} p99 ${busy.p99.toFixed(2)} ms`);
    agent.destroy();
    const perCallUs = (((busy.cpuPerS - quiet.cpuPerS) * busy.wall) / busy.calls) * 1000;
    const check = await (await fetch(`${base}/plugins/service-metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { services: Array<{ total_calls: number }> };
    const recorded = check.services.reduce((a, s) => a + s.total_calls, 0);
    return [
      `| figure (${PLUGINS} plugins, ${CALLS_PER_SECOND} calls/s in one 1000-call report per plugin per second, as perfwatch/plugin sends; ${WINDOW_MS / 1000} s windows) | value |`,
      '|---|---|',
      `| perfwatch CPU per reported call, µs | ${perCallUs.toFixed(2)} (${quiet.cpuPerS.toFixed(1)} → ${busy.cpuPerS.toFixed(1)} ms CPU/s; ${busy.calls} calls sent, ${recorded} recorded) |`,
      `| /metrics p50 / p99 ms, one scrape every 250 ms | no reports: ${quiet.p50.toFixed(2)} / ${quiet.p99.toFixed(2)}; ${CALLS_PER_SECOND} calls/s: ${busy.p50.toFixed(2)} / ${busy.p99.toFixed(2)} |`,
      '',
    ].join('\n');
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 2000).unref();
  }
}
