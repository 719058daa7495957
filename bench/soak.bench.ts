// Load and soak (issue 11): a real `perfwatch serve` supervising 500 idle plugins, under 16 /metrics scrapers, 200 JSON
// API clients (reads of every family, plus token-bearing writes) and 10 WebSocket clients, for SOAK_SECONDS (default
// 180). Reports throughput, p50/p99 and errors per client kind, the server's RSS every 15 s, and its event-loop lag
// as its own /metrics reports it (prom-client's nodejs_eventloop_lag_p99_seconds). Loopback only, bounded in time.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { stringify } from 'yaml';
import { freePort, pct, rssMbOf, SERVER_NODE_FLAGS, waitHttp, waitPluginsRunning } from './harness.js';

const TOKEN = 'bench-token-0123456789';

interface Kind {
  name: string;
  lat: number[];
  errors: number;
  statuses: Map<number, number>;
}

function request(agent: http.Agent, url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      res.on('data', () => {}).on('end', () => resolve(res.statusCode!)).on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export async function runSoakBench(log: (line: string) => void): Promise<string> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 180);
  // SOAK_PACE_MS: each client starts a request every PACE ms (open loop, a sustainable rate) instead of back to back
  const paceMs = Number(process.env.SOAK_PACE_MS ?? 0);
  const n = Number(process.env.SOAK_PLUGINS ?? 500);
  const dir = mkdtempSync(path.join(tmpdir(), 'perfwatch-soak-'));
  const port = await freePort();
  const plugins = Array.from({ length: n }, (_, i) => ({ id: `p${i}`, command: 'sleep', args: ['100000', String(i)], start_grace: '100ms' }));
  writeFileSync(path.join(dir, 'perfwatch.yaml'), stringify({ server: { host: '127.0.0.1', port }, collection: { interval: '5s' }, storage: { path: './data' }, log: { level: 'warn' }, plugins }));
  const flags = SERVER_NODE_FLAGS;
  const server = spawn(process.execPath, [...flags, path.resolve('bin/perfwatch.js'), 'serve', '--config', path.join(dir, 'perfwatch.yaml')], { cwd: dir, stdio: 'ignore', env: { ...process.env, PERFWATCH_ADMIN_TOKEN: TOKEN } });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(`${base}/readyz`);
    await waitPluginsRunning(base, n);
    log(`soak: ${n} plugins under perfwatch pid ${server.pid}, ${seconds} s${paceMs ? `, one request per client every ${paceMs} ms` : ', closed loop'}`);
    const split = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const v = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN) / 1048576;
      return {
        rss: rssMbOf(server.pid!),
        heapUsed: v(/^nodejs_heap_size_used_bytes (\S+)$/m),
        heapTotal: v(/^nodejs_heap_size_total_bytes (\S+)$/m),
        external: v(/^nodejs_external_memory_bytes (\S+)$/m),
        oldSpace: v(/^nodejs_heap_space_size_used_bytes\{space="old"\} (\S+)$/m),
        codeSpace: v(/^nodejs_heap_space_size_used_bytes\{space="code"\} (\S+)$/m),
      };
    };
    const idle = await split();
    const kinds = new Map<string, Kind>();
    const kind = (name: string) => kinds.get(name) ?? (kinds.set(name, { name, lat: [], errors: 0, statuses: new Map() }), kinds.get(name)!);
    const until = performance.now() + seconds * 1000;
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const api = [
      { name: 'GET /plugins', url: '/plugins' },
      { name: 'GET /plugin/status', url: '/plugin/status' },
      { name: 'GET /plugin/metrics (token)', url: '/plugin/metrics', headers: auth },
      { name: 'GET performance/stats', url: '/api/v1/performance/stats' },
      { name: 'GET performance/history 5 min', url: '/api/v1/performance/history?minutes=5&interval=10' },
      { name: 'GET performance/summary', url: '/api/v1/performance/summary?period=1h' },
      { name: 'GET alerts', url: '/api/v1/performance/alerts?resolved=true' },
      { name: 'POST performance/metrics (token)', url: '/api/v1/performance/metrics', method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: (i: number) => JSON.stringify({ name: 'soak_latency', value: i % 500, unit: 'ms', tags: { client: String(i % 20) } }) },
    ];
    const loop = async (name: string, agent: http.Agent, next: (i: number) => { url: string; method?: string; headers?: Record<string, string>; body?: string; kind: string }) => {
      const first = performance.now() + Math.random() * paceMs; // spread the clients over one period
      for (let i = 0; performance.now() < until; i++) {
        if (paceMs) {
          const at = first + i * paceMs;
          if (at > until) break;
          if (at > performance.now()) await new Promise((r) => setTimeout(r, at - performance.now()));
        }
        const r = next(i);
        const k = kind(r.kind);
        const t0 = performance.now();
        try {
          const status = await request(agent, base + r.url, r);
          k.lat.push(performance.now() - t0);
          k.statuses.set(status, (k.statuses.get(status) ?? 0) + 1);
          if (status >= 400) k.errors++;
        } catch {
          k.errors++;
        }
      }
      agent.destroy();
      void name;
    };
    const ws: WebSocket[] = [];
    let wsMessages = 0;
    let wsErrors = 0;
    for (let i = 0; i < 10; i++) {
      const w = new WebSocket(`ws://127.0.0.1:${port}/ws/performance`);
      w.on('message', () => wsMessages++);
      w.on('error', () => wsErrors++);
      w.on('close', (code) => {
        if (performance.now() < until) wsErrors++;
        void code;
      });
      ws.push(w);
    }
    const rss: Array<[number, number]> = [[0, rssMbOf(server.pid!)]];
    const lag: number[] = [];
    const sampler = setInterval(async () => {
      rss.push([Math.round((seconds * 1000 - (until - performance.now())) / 1000), rssMbOf(server.pid!)]);
      const text = await (await fetch(`${base}/metrics`)).text().catch(() => '');
      const m = /^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text);
      if (m) lag.push(Number(m[1]) * 1000);
    }, 15_000);
    const loops: Promise<void>[] = [];
    for (let s = 0; s < 16; s++) loops.push(loop('scrape', new http.Agent({ keepAlive: true, maxSockets: 1 }), () => ({ url: '/metrics', kind: 'GET /metrics', headers: { 'Accept-Encoding': 'identity' } })));
    for (let c = 0; c < 200; c++) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      loops.push(loop('api', agent, (i) => {
        const a = api[(c + i) % api.length]!;
        return { url: a.url, kind: a.name, method: a.method, headers: a.headers, body: a.body?.(c * 100_000 + i) };
      }));
    }
    await Promise.all(loops);
    clearInterval(sampler);
    rss.push([seconds, rssMbOf(server.pid!)]);
    for (const w of ws) w.close();
    const loaded = await split();
    await new Promise((r) => setTimeout(r, 15_000)); // the clients are gone: what stays
    const after = await split();
    const fmt = (x: Awaited<ReturnType<typeof split>>) => `RSS ${x.rss.toFixed(1)}, V8 heap used ${x.heapUsed.toFixed(1)} of ${x.heapTotal.toFixed(1)} (old space ${x.oldSpace.toFixed(1)}, code ${x.codeSpace.toFixed(1)}), external ${x.external.toFixed(1)}`;
    const rows = [`| client | requests | req/s | p50 ms | p99 ms | errors |`, '|---|---|---|---|---|---|'];
    for (const k of kinds.values()) {
      const sorted = [...k.lat].sort((a, b) => a - b);
      rows.push(`| ${k.name} | ${k.lat.length} | ${(k.lat.length / seconds).toFixed(0)} | ${pct(sorted, 50).toFixed(2)} | ${pct(sorted, 99).toFixed(2)} | ${k.errors}${k.errors ? ` (${JSON.stringify(Object.fromEntries(k.statuses))})` : ''} |`);
    }
    rows.push(`| WebSocket, 10 clients | ${wsMessages} messages | ${(wsMessages / seconds).toFixed(1)} | – | – | ${wsErrors} |`);
    const total = [...kinds.values()].reduce((a, k) => a + k.lat.length, 0);
    const errors = [...kinds.values()].reduce((a, k) => a + k.errors, 0) + wsErrors;
    log(`soak: ${total} requests, ${errors} errors, RSS ${rss.map(([, r]) => r.toFixed(0)).join(' → ')} MB`);
    return [
      rows.join('\n'),
      '',
      `Total: ${total} requests (${(total / seconds).toFixed(0)} req/s), ${errors} errors.`,
      `Server RSS MB over time (s: MB): ${rss.map(([s, r]) => `${s}: ${r.toFixed(1)}`).join(', ')}.`,
      `Memory split, MB (process RSS; V8's own figures from prom-client): idle before the load: ${fmt(idle)}; at the end of the load: ${fmt(loaded)}; 15 s after the clients left: ${fmt(after)}.`,
      `Server event-loop lag p99 (its own nodejs_eventloop_lag_p99_seconds, every 15 s), ms: ${lag.map((l) => l.toFixed(1)).join(', ') || 'not read'}.`,
    ].join('\n');
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
