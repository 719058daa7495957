import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import http from 'node:http';
import os from 'node:os';

/** Percentile of an unsorted sample (nearest rank). */
export function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (v: number[]) => pct(v, 50);

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `Node ${process.version}, ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

/** utime + stime of a process in ms, from /proc (10 ms ticks). */
export function cpuMsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(parts[11]) + Number(parts[12])) * 10;
}

/**
 * CPU time of a process in ns: the sum over its threads of the scheduler's run time (/proc/<pid>/task/<tid>/schedstat),
 * exact where /proc/<pid>/stat counts 10 ms ticks. A thread that ended takes its time with it (Node's threads live as
 * long as the process).
 */
export function cpuNsOf(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns;
}

export function rssMbOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

export interface Scrape {
  ms: number;
  bytes: number;
  status: number;
}

export function scrape(url: string, agent: http.Agent, headers: Record<string, string> = { 'Accept-Encoding': 'identity' }): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ ms: performance.now() - t0, bytes, status: res.statusCode ?? 0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
  });
}

/** `count` scrapes one after another on one kept-alive connection, or until `budgetMs` has passed. */
/** Sequential GETs; `url` may be a function (a fresh URL per request, e.g. a sliding time range). */
export async function sequential(target: string | (() => string), count: number, budgetMs: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = typeof target === 'string' ? () => target : target;
  for (let i = 0; i < 5; i++) await scrape(url(), agent); // warm-up
  const lat: number[] = [];
  let bytes = 0;
  const until = performance.now() + budgetMs;
  while (lat.length < count && performance.now() < until) {
    const s = await scrape(url(), agent);
    if (s.status !== 200) throw new Error(`${url()} answered ${s.status}`);
    lat.push(s.ms);
    bytes = s.bytes;
  }
  agent.destroy();
  return { count: lat.length, p50: median(lat), p99: pct(lat, 99), bytes, lat };
}

/** One GET every `everyMs` for `durationMs` (as a fast Prometheus would scrape), latencies. */
export async function paced(url: string, everyMs: number, durationMs: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const lat: number[] = [];
  const until = performance.now() + durationMs;
  while (performance.now() < until) {
    const t0 = performance.now();
    const s = await scrape(url, agent);
    if (s.status !== 200) throw new Error(`${url} answered ${s.status}`);
    lat.push(s.ms);
    await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (performance.now() - t0))));
  }
  agent.destroy();
  return { count: lat.length, p50: median(lat), p99: pct(lat, 99), lat };
}

/** `concurrency` keep-alive clients scraping back to back for `durationMs` (bounded); requests per second. */
export async function concurrent(url: string, concurrency: number, durationMs: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const until = performance.now() + durationMs;
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const s = await scrape(url, agent);
        if (s.status !== 200) throw new Error(`${url} answered ${s.status}`);
        lat.push(s.ms);
      }
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  agent.destroy();
  return { requests: lat.length, rps: lat.length / elapsedS, p50: median(lat), p99: pct(lat, 99) };
}

export async function waitHttp(url: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > until) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
}

/** The URL of a bench app that prints `ready <port>` on its stdout once it listens; rejects if it exits first. */
export function readyUrl(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      const m = /ready (\d+)/.exec(d.toString());
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code})`)));
  });
}

export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The node flags bin/perfwatch.js's shebang passes (read from it, so benches run the server as users do). */
export const SERVER_NODE_FLAGS: string[] = (process.env.BENCH_NODE_FLAGS ?? /^#!\/usr\/bin\/env -S node (.*)$/m.exec(readFileSync(new URL('../bin/perfwatch.js', import.meta.url), 'utf8'))![1]!)
  .split(' ')
  .filter(Boolean);

/** Waits until `n` plugins of the perfwatch at `base` are running (`/plugin/status`), polling every 200 ms. */
export async function waitPluginsRunning(base: string, n: number, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const st = (await (await fetch(`${base}/plugin/status`)).json()) as { plugins: Record<string, { status: string }> };
    if (Object.values(st.plugins).filter((p) => p.status === 'running').length === n) return;
    if (Date.now() > until) throw new Error(`${n} plugins not running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A real `perfwatch serve` (the built one, in its own process) in a new temporary folder, on a free port: `config` is
 * its perfwatch.yaml besides `server` and `storage` (`./data` in the folder). The caller stops it and removes `dir`.
 */
export async function startServe(prefix: string, config: Record<string, unknown>, token: string): Promise<{ dir: string; port: number; base: string; server: ChildProcess }> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const port = await freePort();
  writeFileSync(path.join(dir, 'perfwatch.yaml'), stringify({ server: { host: '127.0.0.1', port }, storage: { path: './data' }, ...config }));
  const server = spawn(path.resolve('bin/perfwatch.js'), ['serve', '--config', path.join(dir, 'perfwatch.yaml')], { cwd: dir, stdio: 'ignore', env: { ...process.env, PERFWATCH_ADMIN_TOKEN: token } });
  return { dir, port, base: `http://127.0.0.1:${port}`, server };
}
