/**
 * Issue 3's benchmark, peers in the same run:
 *  1. host collection cycle CPU, split by source, next to prometheus-node-exporter's CPU per scrape;
 *  2. the event loop's worst delay while collecting every 100 ms;
 *  3. GET history (60 s at 1 s, 16 series) and summary?period=7d (full 7-day buffer, 50 series) p50/p99;
 *  4. batch ingest (1000-sample batches, 4 concurrent clients) next to prometheus-pushgateway given the same samples;
 *  5. RSS with the full 7-day buffer for 50 series, above the same process idle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { HostCollector, processCensus } from '../src/collectors/host/host-collector.js';
import { countTcpStates, parseCpuinfoMhz, parseDiskstats, parseHostStat, parseLoadavg, parseMeminfo, parseMounts, parseNetDev } from '../src/collectors/host/parsers.js';
import { ProcFiles } from '../src/proc/proc-files.js';
import { readSystemConstants } from '../src/collectors/system-constants.js';
import { HOST_SERIES, hostKey } from '../src/model/legacy-names.js';
import { SeriesStore } from '../src/store/series-store.js';
import { cpuMsOf, freePort, have, median, paced, pct, rssMbOf, sequential, waitHttp, SERVER_NODE_FLAGS } from './harness.js';

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function hostCycle(log: (l: string) => void) {
  const constants = await readSystemConstants();
  const files = new ProcFiles();
  const host = new HostCollector({ procFiles: files, clockTicksPerSecond: constants.clockTicksPerSecond, mountpoints: ['/'], slowIntervalMs: 60_000 });
  await host.start();
  host.stop();
  const total: number[] = [];
  for (let i = 0; i < 210; i++) {
    const c0 = cpuUs();
    const h = await host.collect(Date.now());
    if (i >= 10) total.push(cpuUs() - c0);
    if (h.memory.total <= 0) throw new Error('no memory reading');
  }
  // the slow part (process census, cpuinfo, mounts) alone, amortized over its 30 s cadence
  const slow: number[] = [];
  for (let i = 0; i < 20; i++) {
    const c0 = cpuUs();
    await host.start();
    host.stop();
    slow.push(cpuUs() - c0);
  }
  const censusMs = median(slow) / 1000;
  const ours = median(total) / 1000;
  log(`  host cycle ${ours.toFixed(3)} ms CPU; slow cadence ${censusMs.toFixed(2)} ms per run`);

  // the same work split by source: each read and parse timed on its own, interleaved within every round so all see the
  // same machine; timing each apart adds its own overhead, so the parts add up to a little more than the cycle.
  // process.cpuUsage counts every thread, so statfs' libuv thread is included
  const stat = files.handle('/proc/stat');
  const meminfo = files.handle('/proc/meminfo');
  const diskstats = files.handle('/proc/diskstats');
  const netdev = files.handle('/proc/net/dev');
  const loadavg = files.handle('/proc/loadavg');
  const sources: Array<[string, () => unknown]> = [
    ['/proc/stat', () => parseHostStat(files.text(stat)!)],
    ['/proc/meminfo', () => parseMeminfo(files.text(meminfo)!)],
    ['/proc/diskstats', () => parseDiskstats(files.text(diskstats)!)],
    ['/proc/net/dev', () => parseNetDev(files.text(netdev)!)],
    ['/proc/loadavg', () => parseLoadavg(files.text(loadavg)!)],
    ['statfs /', () => statfs('/')],
  ];
  const bySource = new Map<string, number[]>(sources.map(([name]) => [name, []]));
  for (let i = 0; i < 210; i++) {
    for (const [name, read] of sources) {
      const c0 = cpuUs();
      await read();
      if (i >= 10) bySource.get(name)!.push(cpuUs() - c0);
    }
  }
  const slowSources: Array<[string, () => Promise<unknown>]> = [
    ['process census', () => processCensus(Date.now() + 30_000)],
    ['/proc/net/tcp + tcp6', async () => countTcpStates(await readFile('/proc/net/tcp6', 'latin1'), countTcpStates(await readFile('/proc/net/tcp', 'latin1')))],
    ['/proc/cpuinfo + mounts', async () => [parseCpuinfoMhz(await readFile('/proc/cpuinfo', 'utf8')), parseMounts(await readFile('/proc/self/mounts', 'utf8'))]],
  ];
  const bySlowSource = new Map<string, number[]>(slowSources.map(([name]) => [name, []]));
  for (let i = 0; i < 20; i++) {
    for (const [name, read] of slowSources) {
      const c0 = cpuUs();
      await read();
      bySlowSource.get(name)!.push(cpuUs() - c0);
    }
  }
  const split = [...bySource].map(([name, xs]) => ({ name, ms: median(xs) / 1000 }));
  const slowSplit = [...bySlowSource].map(([name, xs]) => ({ name, ms: median(xs) / 1000 }));

  // event loop delay while collecting every 100 ms, next to the same loop without collecting (the machine's own floor:
  // on this shared VM an idle loop's p99 ranged 1.1-3.0 ms between runs), in alternating 2 s rounds. A fresh histogram
  // per round (a re-enabled one counts the pause as one delay, and they cannot be merged): the worst round is reported.
  const rounds = { busy: [] as Array<{ p99: number; max: number }>, idle: [] as Array<{ p99: number; max: number }> };
  for (let r = 0; r < 6; r++) {
    const isBusy = r % 2 === 0;
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      if (isBusy) await host.collect(Date.now());
      await new Promise((r) => setTimeout(r, 100));
    }
    h.disable();
    (isBusy ? rounds.busy : rounds.idle).push({ p99: h.percentile(99) / 1e6, max: h.max / 1e6 });
  }
  const worst = (xs: Array<{ p99: number; max: number }>) => ({ p99: Math.max(...xs.map((x) => x.p99)), max: Math.max(...xs.map((x) => x.max)) });
  const loop = worst(rounds.busy);
  const floor = worst(rounds.idle);
  files.closeAll();
  return { ours, censusMs, split, slowSplit, loopP99: loop.p99, loopMax: loop.max, idleP99: floor.p99, idleMax: floor.max };
}

async function nodeExporter(): Promise<{ cpuMs: number; p50: number } | null> {
  if (!have('prometheus-node-exporter')) return null;
  const port = await freePort();
  const ne = spawn('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  try {
    await waitHttp(`http://127.0.0.1:${port}/metrics`);
    const c0 = cpuMsOf(ne.pid!);
    const seq = await sequential(`http://127.0.0.1:${port}/metrics`, 200, 30_000);
    return { cpuMs: (cpuMsOf(ne.pid!) - c0) / seq.count, p50: seq.p50 };
  } finally {
    ne.kill();
  }
}

/** A store with 50 series × 7 days at 5 s, filled synthetically, served by the real performance router. */
async function queries(log: (l: string) => void) {
  const rss0 = rssMbOf(process.pid);
  const intervalMs = 5000;
  const store = new SeriesStore({ rawCapacity: 3600, tiers: [{ bucketMs: 60_000, capacity: 1440 }, { bucketMs: 300_000, capacity: 7 * 288 }] });
  const now = Date.now();
  const start = now - 7 * 86_400_000;
  const names = HOST_SERIES.map((s) => s.name);
  for (let k = 0; k < 50; k++) {
    const name = k < names.length ? names[k]! : `synthetic_${k}`;
    const key = k < names.length ? hostKey(name) : `custom:${name}`;
    const meta = { name, unit: '', kind: (k < names.length ? 'host' : 'custom') as 'host' | 'custom' };
    // 5 s samples for 7 days, 1 s samples for the last hour (so history at 1 s has 60 points per series, as the peer)
    for (let t = start; t <= now; t += t < now - 3_600_000 ? intervalMs : 1000) store.append(key, meta, t, 50 + 30 * Math.sin(t / 3_600_000 + k));
  }
  global.gc?.();
  const rss1 = rssMbOf(process.pid);
  log(`  7-day buffer: ${store.count()} series, ${(store.memoryBytes / 1048576).toFixed(1)} MiB of arrays; RSS +${(rss1 - rss0).toFixed(1)} MB`);
  // the queries go to a real `perfwatch serve` in its own process (as the peer is), which restores this store from its
  // checkpoint: the same layout (1 s interval, 1 h raw, 7 days)
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-query-'));
  mkdirSync(path.join(dir, 'data'));
  await store.checkpoint(path.join(dir, 'data', 'history.ckpt'));
  const port = await freePort();
  const pw = startServer(dir, `server: { host: 127.0.0.1, port: ${port} }\nstorage: { path: ${path.join(dir, 'data')} }\ncollection: { interval: 1s }\nretention: { raw: 1h, metrics_retention_days: 7 }\nlog: { level: warn }\n`);
  try {
    await waitHttp(`http://127.0.0.1:${port}/readyz`);
    const base = `http://127.0.0.1:${port}/api/v1/performance`;
    const sixteen = names.slice(0, 16).join(',');
    const histUrl = `${base}/history?minutes=1&interval=1&metrics=${sixteen}`;
    const check = (await (await fetch(histUrl)).json()) as { data: { metrics: unknown[] } };
    if (check.data.metrics.length < 59) throw new Error(`history answered ${check.data.metrics.length} points`);
    const week = (await (await fetch(`${base}/history?minutes=10080&interval=3600&metrics=synthetic_40`)).json()) as { data: { metrics: unknown[] } };
    if (week.data.metrics.length < 160) throw new Error(`the restored week has ${week.data.metrics.length} hourly points`);
    const sum = await sequential(`${base}/summary?period=7d`, 200, 30_000);
    return {
      rssDelta: rss1 - rss0,
      sum,
      /** `count` sequential history requests on one connection: their latencies. */
      history: async (count: number) => (await sequential(histUrl, count, 30_000)).lat,
      stop: () => {
        pw.kill();
        setTimeout(() => rmSync(dir, { recursive: true, force: true }), 2000).unref();
      },
    };
  } catch (err) {
    pw.kill();
    throw err;
  }
}

/** A real `perfwatch serve` (the built one, as bin/perfwatch.js runs it) with `yaml` as its config, in `dir`. */
function startServer(dir: string, yaml: string, nodeArgs: string[] = []): ChildProcess {
  writeFileSync(path.join(dir, 'c.yaml'), yaml);
  return spawn(process.execPath, [...SERVER_NODE_FLAGS, ...nodeArgs, 'bin/perfwatch.js', 'serve', '--config', path.join(dir, 'c.yaml')], {
    stdio: 'ignore',
    env: { ...process.env, PERFWATCH_ADMIN_TOKEN: 'bench-token-0123456789' },
  });
}


/**
 * The history peer: Debian's Prometheus 2.42 scraping node_exporter every 1 s; after 65 s, `query_range` of
 * `rate(node_cpu_seconds_total[1m])` over 60 s at 1 s (16 series on this 2-CPU machine × 8 modes, ~60 points each: the
 * shape of perfwatch's 60 s × 1 s × 16 series history). Started early so its warm-up overlaps the other benchmarks.
 */
async function startPrometheusPeer(): Promise<null | { untilReady: () => Promise<void>; shape: () => Promise<{ series: number; points: number }>; query: (count: number) => Promise<number[]>; stop: () => void }> {
  if (!have('prometheus') || !have('prometheus-node-exporter')) return null;
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-prom-'));
  const nePort = await freePort();
  const promPort = await freePort();
  const ne = spawn('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${nePort}`], { stdio: 'ignore' });
  writeFileSync(path.join(dir, 'p.yml'), `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: node\n    static_configs: [{ targets: ['127.0.0.1:${nePort}'] }]\n`);
  const prom = spawn('prometheus', [`--config.file=${path.join(dir, 'p.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
  await waitHttp(`http://127.0.0.1:${promPort}/-/ready`);
  const ready = Date.now() + 65_000;
  // a sliding window: every request asks for the last 60 s, as a dashboard refreshing would
  const make = () => {
    const now = Date.now() / 1000;
    return `http://127.0.0.1:${promPort}/api/v1/query_range?query=${encodeURIComponent('rate(node_cpu_seconds_total[1m])')}&start=${(now - 60).toFixed(3)}&end=${now.toFixed(3)}&step=1`;
  };
  return {
    untilReady: async () => {
      const wait = ready - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    },
    shape: async () => {
      const body = (await (await fetch(make())).json()) as { data: { result: Array<{ values: unknown[] }> } };
      return { series: body.data.result.length, points: body.data.result.reduce((a, x) => a + x.values.length, 0) };
    },
    query: async (count: number) => (await sequential(make, count, 30_000)).lat,
    stop: () => {
      prom.kill();
      ne.kill();
      setTimeout(() => rmSync(dir, { recursive: true, force: true }), 2000).unref();
    },
  };
}

/**
 * 4 clients posting 1000-sample JSON batches to a real perfwatch, and the same samples as text to pushgateway: both
 * servers up at once, one warm-up batch per client each (it creates the series, timed apart), then BENCH_ROUNDS
 * (default 3) alternating 5 s rounds, so both see the same machine; medians are reported. This machine is shared: a
 * single 5 s round of either moved by ±30 % between runs.
 */
async function ingest(log: (l: string) => void) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-ingest-'));
  // BENCH_SERVER_ARGS adds node flags to the server (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the ingest)
  const extra = (process.env.BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  const pw = startServer(dir, `server: { host: 127.0.0.1, port: ${port}, body_limit: 4194304 }\nstorage: { path: ${path.join(dir, 'data')} }\nlog: { level: warn }\ncustom_metrics: { max_series: 5000 }\n`, extra);
  const pport = await freePort();
  const pg: ChildProcess | null = have('prometheus-pushgateway') ? spawn('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${pport}`], { stdio: 'ignore' }) : null;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const client = (url: string, body: (c: number) => string, headers: Record<string, string>, method: string, pid: number) => {
    const bodies = [0, 1, 2, 3].map(body);
    const post = (c: number) =>
      new Promise<number>((resolve, reject) => {
        const b = bodies[c]!;
        const req = http.request(url.replace('{c}', String(c)), { method, agent, headers: { ...headers, 'Content-Length': Buffer.byteLength(b) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(b);
      });
    return {
      /** One batch per client, one after the other: ms per batch. */
      async warm() {
        const t0 = performance.now();
        for (const c of [0, 1, 2, 3]) if ((await post(c)) >= 300) throw new Error(`${url} refused the warm-up batch`);
        return (performance.now() - t0) / 4;
      },
      /** 4 clients back to back for 5 s: samples/s, batch latency, and the server's CPU per sample from /proc. */
      async round() {
        const cpu0 = cpuMsOf(pid);
        const t0 = performance.now();
        const until = t0 + 5000;
        let samples = 0;
        const lat: number[] = [];
        await Promise.all(
          [0, 1, 2, 3].map(async (c) => {
            while (performance.now() < until) {
              const t1 = performance.now();
              const status = await post(c);
              if (status >= 300) throw new Error(`${url} answered ${status}`);
              lat.push(performance.now() - t1);
              samples += 1000;
            }
          }),
        );
        return { rate: samples / ((performance.now() - t0) / 1000), p50: median(lat), cpuUsPerSample: ((cpuMsOf(pid) - cpu0) * 1000) / samples };
      },
    };
  };
  // 20 names × 50 tag values = 1000 distinct series per client, as the pushgateway peer bench used
  const jsonBody = (c: number) =>
    JSON.stringify({ metrics: Array.from({ length: 1000 }, (_, i) => ({ name: `bench_metric_${i % 20}`, value: i, unit: 'count', tags: { client: `c${c}`, series: `s${Math.floor(i / 20)}` } })) });
  const textBody = (c: number) =>
    Array.from({ length: 20 }, (_, m) => `# TYPE bench_metric_${m} gauge\n${Array.from({ length: 50 }, (_, s) => `bench_metric_${m}{series="s${s}"} ${m * 50 + s}`).join('\n')}`).join('\n') + `\n# client ${c}\n`;
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const oursRounds: Array<{ rate: number; p50: number; cpuUsPerSample: number; scrapeP50: number; scrapeP99: number }> = [];
  const peerRounds: Array<{ rate: number; p50: number; cpuUsPerSample: number }> = [];
  let scrapeBefore = { p50: 0, p99: 0 };
  let rssIdle = 0;
  let rssAfter = 0;
  let pgRssAfter = 0;
  let oursFirst = 0;
  let peerFirst = 0;
  try {
    await waitHttp(`http://127.0.0.1:${port}/readyz`);
    const ours = client(`http://127.0.0.1:${port}/api/v1/performance/metrics/batch`, jsonBody, { 'Content-Type': 'application/json', Authorization: 'Bearer bench-token-0123456789' }, 'POST', pw.pid!);
    scrapeBefore = await paced(`http://127.0.0.1:${port}/metrics`, 100, 3000);
    rssIdle = rssMbOf(pw.pid!);
    oursFirst = await ours.warm();
    let peer: ReturnType<typeof client> | null = null;
    if (pg) {
      await waitHttp(`http://127.0.0.1:${pport}/metrics`);
      peer = client(`http://127.0.0.1:${pport}/metrics/job/bench/instance/c{c}`, textBody, { 'Content-Type': 'text/plain; version=0.0.4' }, 'PUT', pg.pid!);
      peerFirst = await peer.warm();
    }
    for (let r = 0; r < rounds; r++) {
      // /metrics scraped every 100 ms during the whole round
      const during = paced(`http://127.0.0.1:${port}/metrics`, 100, 5000);
      const o = await ours.round();
      const sc = await during;
      oursRounds.push({ ...o, scrapeP50: sc.p50, scrapeP99: sc.p99 });
      log(`  round ${r + 1}: perfwatch ${o.rate.toFixed(0)} samples/s, ${o.cpuUsPerSample.toFixed(2)} µs CPU/sample, /metrics p50 / p99 ${sc.p50.toFixed(2)} / ${sc.p99.toFixed(2)} ms`);
      if (peer) {
        const p = await peer.round();
        peerRounds.push(p);
        log(`  round ${r + 1}: pushgateway ${p.rate.toFixed(0)} samples/s, ${p.cpuUsPerSample.toFixed(2)} µs CPU/sample`);
      }
    }
    // the batch parser thread is still up (it stops after 60 s without a batch)
    rssAfter = rssMbOf(pw.pid!);
    if (pg) pgRssAfter = rssMbOf(pg.pid!);
  } finally {
    agent.destroy();
    pw.kill();
    pg?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  const med = <T>(xs: T[], f: (x: T) => number) => median(xs.map(f));
  return {
    rounds,
    ours: { rate: med(oursRounds, (x) => x.rate), p50: med(oursRounds, (x) => x.p50), cpuUsPerSample: med(oursRounds, (x) => x.cpuUsPerSample), firstMs: oursFirst, rates: oursRounds.map((x) => x.rate) },
    peer: peerRounds.length ? { rate: med(peerRounds, (x) => x.rate), p50: med(peerRounds, (x) => x.p50), cpuUsPerSample: med(peerRounds, (x) => x.cpuUsPerSample), firstMs: peerFirst, rates: peerRounds.map((x) => x.rate) } : null,
    scrapeBefore,
    rssIdle,
    rssAfter,
    pgRssAfter,
    scrapeDuring: med(oursRounds, (x) => x.scrapeP50),
    scrapeDuringP99: med(oursRounds, (x) => x.scrapeP99),
  };
}

const k = (rates: number[]) => rates.map((r) => `${(r / 1000).toFixed(0)}k`).join('/');
const ingestRows = (ing: Awaited<ReturnType<typeof ingest>>) => [
  `| batch ingest, samples/s (4 clients × 1000-sample batches; median of ${ing.rounds} alternating 5 s rounds: ${k(ing.ours.rates)} vs ${ing.peer ? k(ing.peer.rates) : '–'}) | ${ing.ours.rate.toFixed(0)} (batch p50 ${ing.ours.p50.toFixed(1)} ms) | pushgateway: ${ing.peer ? ing.peer.rate.toFixed(0) : 'not installed'} | ${ing.peer ? `${(ing.ours.rate / ing.peer.rate).toFixed(2)}×` : '–'} |`,
  `| server CPU per ingested sample, µs | ${ing.ours.cpuUsPerSample.toFixed(2)} | pushgateway: ${ing.peer ? ing.peer.cpuUsPerSample.toFixed(2) : '–'} | ${ing.peer ? `${(ing.peer.cpuUsPerSample / ing.ours.cpuUsPerSample).toFixed(2)}× less` : '–'} |`,
  `| warm-up batch (creates 1000 series), ms | ${ing.ours.firstMs.toFixed(1)} | pushgateway: ${ing.peer ? ing.peer.firstMs.toFixed(1) : '–'} | – |`,
  `| /metrics scraped every 100 ms, p50 / p99 ms: idle; during the ingest rounds (median of the rounds) | ${ing.scrapeBefore.p50.toFixed(2)} / ${ing.scrapeBefore.p99.toFixed(2)}; ${ing.scrapeDuring.toFixed(2)} / ${ing.scrapeDuringP99.toFixed(2)} | – | – |`,
  `| server RSS MB: before the ingest; after the rounds (batch parser thread up) | ${ing.rssIdle.toFixed(1)}; ${ing.rssAfter.toFixed(1)} | pushgateway after the rounds: ${ing.pgRssAfter ? ing.pgRssAfter.toFixed(1) : '–'} | – |`,
];
const HISTORY_ROUNDS = Number(process.env.BENCH_HISTORY_ROUNDS ?? 6);
const TABLE_HEAD = ['| figure | perfwatch | peer (same run) | ratio / goal |', '|---|---|---|---|'];

/** The ingest rows alone (`BENCH=ingest`): a quicker loop while working on the ingest path. */
export async function runIngestBench(log: (l: string) => void): Promise<string> {
  return [...TABLE_HEAD, ...ingestRows(await ingest(log))].join('\n');
}

export async function runHostBench(log: (l: string) => void): Promise<string> {
  // the host cycle and event loop first, before the peers start, so they do not compete for the two cores with it
  const cyc = await hostCycle(log);
  const promPeer = await startPrometheusPeer();
  const ne = await nodeExporter();
  const q = await queries(log);
  // history: alternating rounds of 100 requests against perfwatch and Prometheus, so both see the same machine; the
  // latencies of all rounds are pooled per server
  let hist: { ours: number[]; peer: number[]; shape: { series: number; points: number } | null };
  try {
    hist = { ours: [], peer: [], shape: null };
    if (promPeer) {
      await promPeer.untilReady();
      hist.shape = await promPeer.shape();
    }
    for (let r = 0; r < HISTORY_ROUNDS; r++) {
      hist.ours.push(...(await q.history(100)));
      if (promPeer) hist.peer.push(...(await promPeer.query(100)));
    }
  } finally {
    q.stop();
    promPeer?.stop();
  }
  const ours = { p50: median(hist.ours), p99: pct(hist.ours, 99) };
  const pq = hist.shape && hist.peer.length ? { ...hist.shape, p50: median(hist.peer), p99: pct(hist.peer, 99) } : null;
  if (pq) log(`  history p50 ${ours.p50.toFixed(2)} ms; prometheus query_range p50 ${pq.p50.toFixed(2)} ms (${pq.series} series, ${pq.points} points)`);
  const ing = await ingest(log);
  const rows = [
    `| host collection cycle, CPU ms (median of 200) | ${cyc.ours.toFixed(3)} (+ slow cadence ${cyc.censusMs.toFixed(2)} ms every 30 s) | node_exporter CPU ms per scrape: ${ne ? ne.cpuMs.toFixed(2) : 'not installed'} | ${ne ? `${(ne.cpuMs / cyc.ours).toFixed(1)}× cheaper` : '–'} |`,
    `| host cycle by source, CPU ms (median of 200 each, interleaved) | ${cyc.split.map((x) => `${x.name} ${x.ms.toFixed(3)}`).join('; ')} (sum ${cyc.split.reduce((a, x) => a + x.ms, 0).toFixed(3)}, timed apart; the whole cycle above: ${cyc.ours.toFixed(3)}) | – | – |`,
    `| slow cadence by source, CPU ms (median of 20 each) | ${cyc.slowSplit.map((x) => `${x.name} ${x.ms.toFixed(2)}`).join('; ')} | – | – |`,
    `| event loop delay while collecting every 100 ms, p99 / max ms (worst of 3 × 2 s rounds) | ${cyc.loopP99.toFixed(2)} / ${cyc.loopMax.toFixed(2)} | the same loop without collecting, alternating rounds (the machine's floor): ${cyc.idleP99.toFixed(2)} / ${cyc.idleMax.toFixed(2)} | goal: p99 < 2 ms: ${cyc.loopP99 < 2 ? 'met' : 'missed'}; collecting adds ${(cyc.loopP99 - cyc.idleP99).toFixed(2)} ms to the p99 |`,
    `| GET history 60 s × 1 s, 16 series, p50 / p99 ms (${HISTORY_ROUNDS} alternating rounds of 100) | ${ours.p50.toFixed(2)} / ${ours.p99.toFixed(2)} | ${pq ? `Prometheus 2.42 query_range 60 s × 1 s, ${pq.series} series / ${pq.points} points: ${pq.p50.toFixed(2)} / ${pq.p99.toFixed(2)}` : 'Prometheus or node_exporter not installed'} | ${pq ? `${(pq.p50 / ours.p50).toFixed(2)}× (goal ≥ 1: at or below Prometheus)` : '–'} |`,
    `| GET summary?period=7d, full 7-day buffer of 50 series, p50 / p99 ms | ${q.sum.p50.toFixed(2)} / ${q.sum.p99.toFixed(2)} | – | – |`,
    ...ingestRows(ing),
    `| RSS for the full 7-day buffer of 50 series, MB above the process before filling | ${q.rssDelta.toFixed(1)} | goal: < 50 MB | ${q.rssDelta < 50 ? 'met' : 'missed'} |`,
  ];
  return [...TABLE_HEAD, ...rows].join('\n');
}
