/**
 * Fleet history (issue 17): what `history.backend: prometheus` adds on top of the backend's own query time.
 *
 * Debian's Prometheus 2.42 scrapes a real `perfwatch serve` (built, in its own process) every 1 s; that perfwatch reads
 * its history from the Prometheus. Once Prometheus holds 65 s, two requests are timed through perfwatch and, in
 * alternating rounds, the very query perfwatch sends (captured from its reader, see `capture`) sent to Prometheus
 * directly by the same kind of client (node:http, one kept-alive connection), and GET /healthz on perfwatch (the round
 * trip any route costs):
 *  - GET history?minutes=1&interval=1 with the 16 host series (one query_range: 16 columns and the summary block's
 *    statistics);
 *  - GET summary?period=7d (one query_range: statistics, trend and throughput buckets).
 * The difference of the p50s is what perfwatch adds: the hop, the client, parsing, mapping, JSON. Goal: under 1 ms.
 * The same rounds send the queries through a bare node:http proxy too (bench/apps/bare-proxy.cjs): what the hop and the
 * client alone add, the floor for any proxy written in Node on this machine.
 *
 * FLEET_PIN=1 gives Prometheus CPU 1 to itself and puts perfwatch, the bare proxy and this process on CPU 0, so
 * Prometheus' evaluation (6–7 ms of CPU per query over both cores unpinned) never waits for perfwatch's core or the
 * other way round: what perfwatch adds is then its own work and the hop, not the two sharing cores. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism as cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { HOST_SERIES } from '../src/model/legacy-names.js';
import { LocalHistoryReader } from '../src/store/history-reader.js';
import { PluginHistory } from '../src/store/plugin-history.js';
import { PrometheusHistoryReader, type QueryApi } from '../src/store/prometheus-history.js';
import { SeriesStore } from '../src/store/series-store.js';
import { cpuNsOf, freePort, have, median, pct, readyUrl, sequential, waitHttp, SERVER_NODE_FLAGS } from './harness.js';

/** perfwatch's CPU in ms: its threads' run time (schedstat, ns), not /proc's 10 ms ticks. */
const cpuMs = (pid: number) => cpuNsOf(pid) / 1e6;
const ROUNDS = Number(process.env.BENCH_HISTORY_ROUNDS ?? 6);
const PER_ROUND = 100;
const DAY = 86_400_000;

interface Captured {
  path: 'query' | 'query_range';
  expr: string;
  /** Parameters for a request made at `now` ms. */
  params: (now: number) => Record<string, string>;
}

/** The queries perfwatch's reader sends for one request, captured through a recording API (no network). */
async function capture(instance: string, request: (r: PrometheusHistoryReader, now: number) => Promise<unknown>): Promise<Captured[]> {
  const out: Captured[] = [];
  const recordedNow = Date.now();
  const record: QueryApi = {
    async query(expr) {
      out.push({ path: 'query', expr, params: (now) => ({ query: expr, time: (now / 1000).toFixed(3), timeout: '5000ms' }) });
      return [];
    },
    async queryRange(expr, startMs, endMs, stepMs) {
      // replayed relative to the request's own `now`: the direct client slides its window as perfwatch does
      out.push({
        path: 'query_range',
        expr,
        params: (now) => {
          const shift = (Math.floor(now / stepMs) - Math.floor(recordedNow / stepMs)) * stepMs;
          return { query: expr, start: ((startMs + shift) / 1000).toFixed(3), end: ((endMs + shift) / 1000).toFixed(3), step: (stepMs / 1000).toFixed(3), timeout: '5000ms' };
        },
      });
      return [];
    },
  };
  const local = new LocalHistoryReader({ store: new SeriesStore({ rawCapacity: 10, tiers: [{ bucketMs: 60_000, capacity: 10 }] }), plugins: new PluginHistory({ capacity: 10, memTotalBytes: 1 }) });
  const reader = new PrometheusHistoryReader({ api: record, job: 'perfwatch', instance, hostname: 'bench', scrapeIntervalMs: 1000, maxPoints: 11_000, mountpoint: '/', local, onQuery: () => {}, onFallback: () => {}, retryAfterMs: 0, health: { downUntilMs: 0, lastError: null } });
  await request(reader, recordedNow);
  return out;
}

function post(agent: http.Agent, base: string, c: Captured, now: number): Promise<void> {
  const body = new URLSearchParams(c.params(now)).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/api/v1/${c.path}`, { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${c.path} answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `count` requests one after another, each the captured queries (in parallel if more than one; one connection each). */
async function direct(base: string, queries: Captured[], count: number): Promise<number[]> {
  const agents = queries.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const once = () => Promise.all(queries.map((q, i) => post(agents[i]!, base, q, Date.now())));
  for (let i = 0; i < 5; i++) await once();
  const lat: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await once();
    lat.push(performance.now() - t0);
  }
  for (const a of agents) a.destroy();
  return lat;
}

export async function runFleetBench(log: (l: string) => void): Promise<string> {
  if (!have('prometheus')) return 'Prometheus not installed (apt-get install prometheus).\n';
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-fleet-'));
  const promPort = await freePort();
  const pwPort = await freePort();
  const instance = `127.0.0.1:${pwPort}`;
  const procs: ChildProcess[] = [];
  const pinned = Boolean(process.env.FLEET_PIN);
  try {
    writeFileSync(path.join(dir, 'p.yml'), `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: perfwatch\n    static_configs: [{ targets: ['${instance}'] }]\n`);
    writeFileSync(
      path.join(dir, 'c.yaml'),
      `server: { host: 127.0.0.1, port: ${pwPort} }\nstorage: { path: ${path.join(dir, 'data')} }\ncollection: { interval: 1s }\nlog: { level: warn }\n` +
        `history: { backend: prometheus, prometheus: { url: "http://127.0.0.1:${promPort}", instance: "${instance}", timeout: 5s } }\n`,
    );
    // FLEET_PIN: Prometheus on CPU 1, everything else on CPU 0 (children inherit this process' affinity)
    if (pinned) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    procs.push(spawn(process.execPath, [...SERVER_NODE_FLAGS, 'bin/perfwatch.js', 'serve', '--config', path.join(dir, 'c.yaml')], { stdio: 'ignore', env: { ...process.env, PERFWATCH_ADMIN_TOKEN: 'bench-token-0123456789' } }));
    procs.push(spawn(pinned ? 'taskset' : 'prometheus', [...(pinned ? ['-c', '1', 'prometheus'] : []), `--config.file=${path.join(dir, 'p.yml')}`, `--storage.tsdb.path=${path.join(dir, 'prom')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' }));
    const pw = `http://127.0.0.1:${pwPort}`;
    const prom = `http://127.0.0.1:${promPort}`;
    // the floor of any proxy here: the same queries through a bare node:http proxy (bench/apps/bare-proxy.cjs), under
    // the node flags perfwatch runs with
    const bare = spawn(process.execPath, [...SERVER_NODE_FLAGS, 'bench/apps/bare-proxy.cjs'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PROM: prom } });
    procs.push(bare);
    const proxy = await readyUrl(bare, 'the bare proxy');
    await waitHttp(`${pw}/readyz`);
    await waitHttp(`${prom}/-/ready`);
    log('fleet: waiting 65 s for Prometheus to hold a minute of perfwatch');
    await new Promise((r) => setTimeout(r, 65_000));

    const sixteen = HOST_SERIES.map((s) => s.name);
    const historyUrl = `${pw}/api/v1/performance/history?minutes=1&interval=1&metrics=${sixteen.join(',')}`;
    const summaryUrl = `${pw}/api/v1/performance/summary?period=7d`;
    const check = await fetch(historyUrl);
    const body = (await check.json()) as { data: { metrics: Array<Record<string, unknown>> } };
    if (check.headers.get('x-perfwatch-history-source') !== 'prometheus' || body.data.metrics.length < 55) {
      throw new Error(`history through the backend: ${check.headers.get('x-perfwatch-history-source')}, ${body.data.metrics.length} rows`);
    }
    const columns = new Set(body.data.metrics.flatMap((r) => Object.keys(r)));
    const historyQueries = await capture(instance, (r, now) => Promise.all([r.range(sixteen, now - 60_000, now, 1000), r.summarize({ gauges: ['cpu_percent', 'memory_percent'], counters: [], trend: false }, now - 60_000, now, 1000)]));
    const summaryQueries = await capture(instance, (r, now) => r.summarize({ gauges: ['cpu_percent', 'memory_percent', 'disk_usage_percent'], counters: ['network_bytes_sent', 'network_bytes_recv'], trend: true }, now - 7 * DAY, now, Math.floor((7 * DAY) / 360)));

    const rows: string[] = [];
    for (const [what, url, queries] of [
      [`GET history 60 s × 1 s, 16 series (${columns.size - 1} columns answered)`, historyUrl, historyQueries],
      ['GET summary?period=7d', summaryUrl, summaryQueries],
    ] as const) {
      const ours: number[] = [];
      const theirs: number[] = [];
      const hop: number[] = [];
      const proxied: number[] = [];
      // perfwatch's own CPU per request (its threads' run time from /proc), for the request and for GET /healthz:
      // steadier than latency on a shared VM, and it leaves out what Prometheus spends evaluating
      // (less its background work, the collection every second, measured idle over 5 s first, per ms of wall time)
      const pwPid = procs[0]!.pid!;
      const idle0 = cpuMs(pwPid);
      await new Promise((r) => setTimeout(r, 5000));
      const background = (cpuMs(pwPid) - idle0) / 5000;
      let cpuOurs = 0;
      let cpuHop = 0;
      const cpuOver = async (run: () => Promise<unknown>) => {
        const c0 = cpuMs(pwPid);
        const t0 = performance.now();
        await run();
        return cpuMs(pwPid) - c0 - background * (performance.now() - t0);
      };
      for (let round = 0; round < ROUNDS; round++) {
        cpuOurs += await cpuOver(async () => ours.push(...(await sequential(url, PER_ROUND, 60_000)).lat));
        theirs.push(...(await direct(prom, [...queries], PER_ROUND)));
        cpuHop += await cpuOver(async () => hop.push(...(await sequential(`${pw}/healthz`, PER_ROUND, 60_000)).lat));
        proxied.push(...(await direct(proxy, [...queries], PER_ROUND)));
      }
      const perRequest = (ms: number) => (ms / (ROUNDS * PER_ROUND)).toFixed(2);
      const added = median(ours) - median(theirs);
      const floor = median(proxied) - median(theirs);
      log(`  ${what}: perfwatch p50 ${median(ours).toFixed(2)} ms, direct p50 ${median(theirs).toFixed(2)} ms, bare proxy p50 ${median(proxied).toFixed(2)} ms, /healthz p50 ${median(hop).toFixed(2)} ms`);
      rows.push(
        `| ${what}, p50 / p99 ms (${ROUNDS} alternating rounds of ${PER_ROUND}) | ${median(ours).toFixed(2)} / ${pct(ours, 99).toFixed(2)} | the same ${queries.length === 1 ? 'query' : `${queries.length} queries`} (${queries.map((q) => q.path).join(' + ')}, ${queries.map((q) => q.expr.split(' or ').length).join(' + ')} columns) sent to Prometheus 2.42 directly: ${median(theirs).toFixed(2)} / ${pct(theirs, 99).toFixed(2)}; through a bare node:http proxy (no parsing): ${median(proxied).toFixed(2)} / ${pct(proxied, 99).toFixed(2)}, which adds ${floor.toFixed(2)} ms at p50 | perfwatch adds ${added.toFixed(2)} ms at p50 (goal < 1 ms: ${added < 1 ? 'met' : 'missed'}), of which ${median(hop).toFixed(2)} is the round trip to any perfwatch route (GET /healthz, same rounds); perfwatch CPU per request ${perRequest(cpuOurs)} ms (GET /healthz: ${perRequest(cpuHop)} ms; background ${(background * 1000).toFixed(0)} ms/s subtracted) |`,
      );
    }
    if (pinned) rows.push('', 'Prometheus ran on CPU 1 alone; perfwatch, the bare proxy and the clients on CPU 0 (FLEET_PIN=1).');
    return ['| figure | through perfwatch | peer (same run) | added / goal |', '|---|---|---|---|', ...rows, ''].join('\n');
  } finally {
    if (pinned) execFileSync('taskset', ['-a', '-p', '-c', `0-${cpus() - 1}`, String(process.pid)], { stdio: 'ignore' });
    for (const p of procs) p.kill();
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 2000).unref();
  }
}
