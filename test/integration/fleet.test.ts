import { writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { auth, getJson, nodePlugin, startApp, tempDir, waitFor } from '../helpers/index.js';
import { freePort, startPeerOnPort } from '../helpers/peers.js';

/**
 * Fleet mode (docs/fleet.md) against real backends: agent A keeps its history locally; Debian's Prometheus and
 * VictoriaMetrics both scrape A and B; B reads its history from Prometheus, D from VictoriaMetrics. The same request
 * answered by A's rings and by the backends (B or D asking `host=` A) must agree bucket for bucket.
 */

const SCRAPE = '1s';
const A_INSTANCE = 'web-1:9470';
const B_INSTANCE = 'web-1:9471';
/** Series whose buckets are compared: host gauges and a counter, and a custom metric. */
const COMPARED = ['cpu_percent', 'memory_percent', 'memory_used', 'disk_usage_percent', 'load_1m', 'network_bytes_recv', 'processes_total', 'queue_length{queue="mail"}'];
const QUERY = `minutes=1&interval=2&metrics=${encodeURIComponent('cpu_percent,memory_percent,memory_used,disk_usage_percent,load_1m,network_bytes_recv,processes_total,queue_length')}`;

type Row = Record<string, number | string>;
const COUNTERS = new Set(['network_bytes_recv']);

/**
 * What a backend's 2 s bucket `b` must hold, from the local 1 s buckets (one tick each): the backend stores a value at
 * its scrape time, up to one scrape after the tick, so with scrape lags of `lags` ticks (the bucket's first scrape's,
 * then its second's) bucket `b` holds the ticks of b − lags[0] and b + 1 − lags[1]: gauges their mean, counters the
 * later one.
 */
function expected(perSecond: Map<number, Row>, b: number, field: string, lags: readonly [0 | 1, 0 | 1]): number | undefined {
  const ticks = [perSecond.get(b - lags[0] * 1000)?.[field], perSecond.get(b + 1000 - lags[1] * 1000)?.[field]].filter((v): v is number => typeof v === 'number');
  if (ticks.length < 2) return undefined;
  return COUNTERS.has(field) ? ticks[1] : (ticks[0]! + ticks[1]!) / 2;
}

/** Scrape lags of a bucket's two samples: both at once, both a tick late, or a scrape's jitter between them. */
const LAGS = [
  [0, 0],
  [1, 1],
  [1, 0],
  [0, 1],
] as const;

/**
 * The backend's rows against the local per-second rows, field by field: for the better of the two lags, how many
 * buckets agree within rounding (both sides round to 0.01), out of how many comparable ones (the first and last
 * `skipEdges` rows left out: a bucket that started before the range, the open bucket, VictoriaMetrics' latency offset).
 */
/**
 * How many of the remote buckets hold the local per-second ticks' mean, the scrape having caught each tick at once or
 * one tick late (lag 0 or 1), decided per sample: a scraper and an agent both ticking every second drift in phase,
 * and within a minute the same scraper catches some ticks at once and others a tick late (a CI run saw 2 of 9
 * buckets of each changing gauge disagree with a single lag for the whole minute, and a loaded one 2 of 6 with a lag
 * per bucket). `lag` says which of one lag for both samples fit most buckets; `misses` lists the buckets that fit no
 * lags, for the failure message.
 */
function agreement(perSecondRows: Row[], remote: Row[], field: string, skipEdges: number): { agree: number; of: number; lag: number; misses: string[] } {
  const perSecond = new Map(perSecondRows.map((r) => [new Date(String(r.timestamp)).getTime(), r]));
  let agree = 0;
  let of = 0;
  const byLag = [0, 0];
  const misses: string[] = [];
  for (const r of remote.slice(skipEdges, remote.length - skipEdges)) {
    if (typeof r[field] !== 'number') continue;
    const b = new Date(String(r.timestamp)).getTime();
    const fits = LAGS.map((lags) => {
      const want = expected(perSecond, b, field, lags);
      return want !== undefined && Math.abs(want - (r[field] as number)) <= 0.0101;
    });
    if (expected(perSecond, b, field, [0, 0]) === undefined) continue;
    if (!fits.some(Boolean)) misses.push(`${String(r.timestamp).slice(11, 19)}: ${r[field]} vs ticks ${[b - 1000, b, b + 1000].map((s) => perSecond.get(s)?.[field]).join(', ')}`);
    of++;
    if (fits.some(Boolean)) agree++;
    byLag[0]! += Number(fits[0]);
    byLag[1]! += Number(fits[1]);
  }
  return { agree, of, lag: byLag[1]! > byLag[0]! ? 1 : 0, misses };
}

t.test('history through Prometheus and VictoriaMetrics agrees with the local rings; fallback when the backend goes', async (t) => {
  const dir = tempDir(t);
  const promPort = await freePort();
  const vmPort = await freePort();

  const a = await startApp(t, { collection: { interval: '1s' }, plugins: [nodePlugin('echo', 'idle.cjs', { start_grace: '100ms' })] });
  const b = await startApp(t, { collection: { interval: '1s' }, history: { backend: 'prometheus', prometheus: { url: `http://127.0.0.1:${promPort}`, instance: B_INSTANCE, timeout: '2s' } } });
  const d = await startApp(t, { collection: { interval: '1s' }, history: { backend: 'prometheus', prometheus: { url: `http://127.0.0.1:${vmPort}`, timeout: '2s' } } });
  // a tagged custom metric held by A alone (B and D read it by its exported name), and one with a unit held by B
  const post = (url: string, body: unknown) => fetch(`${url}/api/v1/performance/metrics`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const keepPosting = setInterval(() => {
    void post(a.url, { name: 'queue_length', value: 7, tags: { queue: 'mail' } });
    void post(b.url, { name: 'api_response_time', value: 150, unit: 'ms' });
  }, 500);
  t.teardown(() => clearInterval(keepPosting));

  const scrape = {
    global: { scrape_interval: SCRAPE },
    scrape_configs: [
      {
        job_name: 'perfwatch',
        static_configs: [
          { targets: [new URL(a.url).host], labels: { instance: A_INSTANCE } },
          { targets: [new URL(b.url).host], labels: { instance: B_INSTANCE } },
        ],
      },
    ],
  };
  const config = path.join(dir, 'scrape.yml');
  writeFileSync(config, stringify(scrape));
  const prom = await startPeerOnPort(t, 'prometheus', promPort, (data) => [`--config.file=${config}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${promPort}`], '/-/ready');
  await startPeerOnPort(
    t,
    'victoria-metrics',
    vmPort,
    (data) => [`-httpListenAddr=127.0.0.1:${vmPort}`, `-storageDataPath=${data}`, `-promscrape.config=${config}`, '-search.latencyOffset=1s', '-loggerLevel=WARN'],
    '/health',
  );
  const count = async (base: string, expr: string) => {
    const r = await getJson(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return Number(r.body?.data?.result?.[0]?.value?.[1] ?? 0);
  };
  // 22 scrapes: ten complete 2 s buckets once the edges are left out
  for (const [name, url] of [['Prometheus', prom.url], ['VictoriaMetrics', `http://127.0.0.1:${vmPort}`]]) {
    await waitFor(async () => (await count(url!, 'count(count_over_time(up{job="perfwatch"}[1m]) >= 22)')) === 2, { timeoutMs: 60_000, what: `${name}: 22 scrapes of both agents` });
  }

  await t.test('history: the local path and each backend agree bucket for bucket', async (t) => {
    const [local, perSecond, viaProm, viaVm] = await Promise.all([
      getJson(`${a.url}/api/v1/performance/history?${QUERY}`),
      getJson(`${a.url}/api/v1/performance/history?${QUERY.replace('interval=2', 'interval=1')}`),
      getJson(`${b.url}/api/v1/performance/history?${QUERY}&host=${A_INSTANCE}`),
      getJson(`${d.url}/api/v1/performance/history?${QUERY}&host=${A_INSTANCE}`),
    ]);
    t.equal(local.headers.get('x-perfwatch-history-source'), 'local');
    for (const [name, remote, edges] of [['Prometheus', viaProm, 1], ['VictoriaMetrics', viaVm, 2]] as const) {
      t.equal(remote.status, 200, `${name}: 200`);
      t.equal(remote.headers.get('x-perfwatch-history-source'), 'prometheus', `${name}: said so in the header`);
      t.same(Object.keys(remote.body.data.summary), Object.keys(local.body.data.summary), `${name}: the summary's fields`);
      // the backend holds the minute from its first scrape on, the rings from the agent's start: the mean is close, the
      // extremes may not be (the test's own start-up moves memory)
      const sum = remote.body.data.summary;
      t.ok(Math.abs(sum.avg_memory - local.body.data.summary.avg_memory) <= 0.3, `${name}: summary avg_memory ${sum.avg_memory} ≈ ${local.body.data.summary.avg_memory}`);
      for (const m of ['cpu', 'memory']) t.ok(sum[`max_${m}`] >= sum[`avg_${m}`] && sum[`avg_${m}`] >= sum[`min_${m}`] && sum[`min_${m}`] > 0, `${name}: ${m} max ≥ avg ≥ min > 0`);
      const rows: Row[] = remote.body.data.metrics;
      t.ok(rows.length >= 10, `${name}: ${rows.length} buckets`);
      t.ok(rows.every((r) => new Date(String(r.timestamp)).getTime() % 2000 === 0), `${name}: buckets start on multiples of the step, as locally`);
      t.same(Object.keys(rows[3]!).sort(), Object.keys(local.body.data.metrics.at(-3)).sort(), `${name}: the same columns as the local answer`);
      for (const field of COMPARED) {
        const { agree, of, lag, misses } = agreement(perSecond.body.data.metrics, rows, field, edges);
        // a tick scraped on the far side of a bucket boundary once in the minute may move one value
        t.ok(of >= 6 && agree >= of - 1, `${name}: ${field} agrees in ${agree} of ${of} buckets (scrape lag ${lag} tick)${misses.length ? `; not: ${misses.join('; ')}` : ''}`);
      }
    }
  });

  await t.test('summary: 30d through the backend, field for field; refused where the rings are shorter', async (t) => {
    const local = await getJson(`${a.url}/api/v1/performance/summary?period=1h`);
    for (const [name, via] of [['Prometheus', b], ['VictoriaMetrics', d]] as const) {
      const remote = await getJson(`${via.url}/api/v1/performance/summary?period=30d&host=${A_INSTANCE}`);
      t.equal(remote.status, 200, name);
      t.equal(remote.headers.get('x-perfwatch-history-source'), 'prometheus');
      t.same(Object.keys(remote.body.data), Object.keys(local.body.data), `${name}: same fields`);
      for (const k of ['cpu', 'memory', 'disk']) t.same(Object.keys(remote.body.data[k]), Object.keys(local.body.data[k]), `${name}: ${k}: same fields`);
      t.equal(remote.body.data.disk.current, local.body.data.disk.current, `${name}: disk now`);
      t.ok(Math.abs(remote.body.data.memory.average - local.body.data.memory.average) <= 0.3, `${name}: memory average over what both hold`);
      t.ok(remote.body.data.network.total_download > 0 && Math.abs(remote.body.data.network.total_download - local.body.data.network.total_download) <= 5_000_000, `${name}: received bytes, newest value`);
    }
    const refused = await getJson(`${a.url}/api/v1/performance/summary?period=30d`);
    t.equal(refused.status, 400);
    t.match(refused.body.error.message, /history\.backend: prometheus/);
  });

  await t.test('plugin history through the backend: the same samples, newest first', async (t) => {
    const local = await getJson(`${a.url}/plugin/metrics/echo/history?limit=5`, auth);
    const remote = await getJson(`${b.url}/plugin/metrics/echo/history?limit=5&host=${A_INSTANCE}`, auth);
    t.equal(remote.status, 200);
    t.equal(remote.body.count, 5);
    t.same(Object.keys(remote.body.history[0]), Object.keys(local.body.history[0]), 'same fields');
    const times = remote.body.history.map((h: Row) => new Date(String(h.timestamp)).getTime());
    t.same([...times].sort((x, y) => y - x), times, 'newest first');
    t.ok(Math.abs(remote.body.history[0].memory_mb - local.body.history[0].memory_mb) < 1, 'memory of the same plugin');
    t.equal(remote.body.history[0].num_threads, local.body.history[0].num_threads, 'threads');
    const unknown = await getJson(`${b.url}/plugin/metrics/echo/history?limit=5`, auth);
    t.equal(unknown.status, 404, 'without host=, the plugin must be registered here');
  });

  await t.test('host=: an agent of the fleet by instance, a host name matching two is refused', async (t) => {
    const own = await getJson(`${b.url}/api/v1/performance/history?minutes=1&interval=5&metrics=api_response_time`);
    t.equal(own.status, 200);
    t.equal(own.headers.get('x-perfwatch-history-source'), 'prometheus');
    const values = own.body.data.metrics.map((r: Row) => r.api_response_time).filter((v: unknown) => v !== undefined);
    t.ok(values.length >= 2, 'B reads its own custom metric from the backend');
    t.ok(values.every((v: number) => v === 150), 'in the unit it was posted in (ms), not the exported seconds');
    const ambiguous = await getJson(`${b.url}/api/v1/performance/history?minutes=1&host=web-1`);
    t.equal(ambiguous.status, 400);
    t.match(ambiguous.body.error.message, /matches 2 agents/);
    const bad = await getJson(`${b.url}/api/v1/performance/history?minutes=1&host=${encodeURIComponent('x"} or vector(1)')}`);
    t.equal(bad.status, 400, 'a host that is not a label value is refused');
    const local = await getJson(`${a.url}/api/v1/performance/history?minutes=1&host=${A_INSTANCE}`);
    t.equal(local.status, 400, 'the local backend answers only for itself');
    t.match(local.body.error.message, /history\.backend: prometheus/);
  });

  await t.test('the backend stops: this agent falls back to its rings within the timeout, another agent is 503', async (t) => {
    await prom.stop();
    const t0 = Date.now();
    const own = await getJson(`${b.url}/api/v1/performance/history?minutes=1&interval=2&metrics=cpu_percent`);
    t.ok(Date.now() - t0 < 2000, 'answered within the 2 s timeout');
    t.equal(own.status, 200);
    t.equal(own.headers.get('x-perfwatch-history-source'), 'local-fallback');
    t.ok(own.body.data.metrics.length >= 10, 'from the local ring');
    const other = await getJson(`${b.url}/api/v1/performance/history?minutes=1&host=${A_INSTANCE}`);
    t.equal(other.status, 503);
    t.equal(other.body.error.code, 'HISTORY_BACKEND_UNAVAILABLE');
    await b.nextTick();
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    t.match(metrics, /perfwatch_history_backend_fallbacks_total\{reason="unavailable"\} [1-9]/, 'the fallback is counted');
    t.match(metrics, /perfwatch_history_backend_requests_total\{outcome="ok"\} [1-9]/, 'earlier queries counted ok');
  });
});

t.test('a backend that accepts and never answers: the request falls back at the timeout', async (t) => {
  const sockets = new Set<Socket>();
  const hang = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => hang.close(() => r()));
  });
  const port = (hang.address() as { port: number }).port;
  const c = await startApp(t, { collection: { interval: '200ms' }, history: { backend: 'prometheus', prometheus: { url: `http://127.0.0.1:${port}`, timeout: '400ms' } } });
  await c.nextTick();
  await c.nextTick();
  const t0 = Date.now();
  const r = await getJson(`${c.url}/api/v1/performance/summary?period=1h`);
  const took = Date.now() - t0;
  t.equal(r.status, 200);
  t.equal(r.headers.get('x-perfwatch-history-source'), 'local-fallback');
  t.ok(took >= 380 && took < 1500, `waited for the timeout and no longer (${took} ms)`);
  await c.nextTick();
  t.match(await (await fetch(`${c.url}/metrics`)).text(), /perfwatch_history_backend_fallbacks_total\{reason="timeout"\} 1\n/, 'one fallback per request, by reason');
});
