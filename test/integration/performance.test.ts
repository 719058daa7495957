import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import t from 'tap';
import { PerfwatchApiError, PerfwatchClient } from '../../src/client/index.js';
import { startPerfwatch } from '../../src/main.js';
import { auth, getJson, startApp, TOKEN } from '../helpers/index.js';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function promtool(text: string): Promise<string> {
  return new Promise((resolve) => {
    const c = execFile('promtool', ['check', 'metrics'], (_e, out, err) => resolve(`${out}${err}`));
    c.stdin!.end(text);
  });
}

async function post(url: string, body: string, headers: Record<string, string> = auth) {
  const res = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
  return { status: res.status, body: (await res.json()) as any };
}

t.test('stats and system: every field of the document, values from this machine', async (t) => {
  // a listener that exists before perfwatch's first TCP census (which runs on the slow cadence, at start)
  const listener = createServer().listen(0, '127.0.0.1');
  t.teardown(() => listener.close());
  await new Promise((r) => listener.once('listening', r));
  const pw = await startApp(t, { collection: { interval: '300ms' } });
  await pw.nextTick();
  await pw.nextTick();
  const api = new PerfwatchClient(pw.url);
  const raw = await getJson(`${pw.url}/api/v1/performance/stats`);
  t.same(Object.keys(raw.body).sort(), ['data', 'status', 'timestamp']);
  t.equal(raw.body.status, 'success');
  t.match(raw.body.timestamp, ISO_UTC);
  const s = await api.getPerformanceStats();
  t.same(Object.keys(s).sort(), ['connections', 'cpu', 'disk', 'memory', 'network', 'processes', 'timestamp']);
  t.same(Object.keys(s.cpu).sort(), ['cores', 'frequency', 'percent']);
  t.same(Object.keys(s.memory).sort(), ['available', 'cached', 'percent', 'total', 'used']);
  t.same(Object.keys(s.disk).sort(), ['free', 'percent', 'read_bytes', 'total', 'used', 'write_bytes']);
  t.same(Object.keys(s.network).sort(), ['bytes_recv', 'bytes_sent', 'packets_recv', 'packets_sent']);
  t.same(Object.keys(s.processes).sort(), ['running', 'sleeping', 'total', 'zombie']);
  t.same(Object.keys(s.connections).sort(), ['active', 'established', 'listening']);
  const memTotal = Number(/MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
  t.equal(s.memory.total, memTotal, 'memory.total is MemTotal');
  t.equal(s.cpu.cores, os.cpus().length);
  t.ok(s.cpu.percent >= 0 && s.cpu.percent <= 100);
  t.ok(s.memory.used + s.memory.available === s.memory.total);
  t.ok(s.processes.total > 5 && s.processes.total >= s.processes.running + s.processes.sleeping + s.processes.zombie);
  t.ok(s.connections.listening >= 1, 'the listener opened before start is counted');
  t.ok(s.disk.total > 0 && s.disk.used + s.disk.free <= s.disk.total);
  t.match(s.timestamp, ISO_UTC);

  const sys = (await api.getSystemInfo()) as any;
  for (const k of ['hostname', 'platform', 'platform_version', 'architecture', 'python_version', 'cpu_info', 'memory_info', 'disk_info', 'network_info', 'uptime', 'load_average']) {
    t.ok(k in sys, `system.${k}`);
  }
  t.equal(sys.hostname, os.hostname());
  t.equal(sys.platform, 'Linux');
  t.equal(sys.platform_version, os.release());
  t.equal(sys.python_version, process.versions.node, 'python_version carries the Node.js version');
  t.same(Object.keys(sys.cpu_info).sort(), ['cache_size', 'cores', 'frequency', 'model', 'threads']);
  t.equal(sys.cpu_info.threads, os.cpus().length);
  t.same(Object.keys(sys.memory_info).sort(), ['available', 'swap_available', 'swap_total', 'total']);
  t.equal(sys.memory_info.total, memTotal);
  t.ok(sys.disk_info.some((d: any) => d.mountpoint === '/'));
  t.same(Object.keys(sys.disk_info[0]).sort(), ['device', 'filesystem', 'free', 'mountpoint', 'total']);
  t.ok(sys.network_info.some((n: any) => n.interface === 'lo' && n.ip_address === '127.0.0.1'));
  t.same(Object.keys(sys.network_info[0]).sort(), ['interface', 'ip_address', 'is_up', 'mac_address']);
  t.ok(Math.abs(sys.uptime - os.uptime()) < 5);
  t.equal(sys.load_average.length, 3);

  const text = await (await fetch(`${pw.url}/metrics`)).text();
  t.match(text, new RegExp(`perfwatch_host_memory_total_bytes ${memTotal}`));
  t.match(text, /perfwatch_host_cpu_seconds_total\{mode="idle"\} \d/);
  t.match(text, /perfwatch_host_filesystem_usage_ratio\{device="[^"]*",mountpoint="\/",fstype="[^"]*"\} 0\.\d+/);
  t.match(text, /perfwatch_host_network_receive_bytes_total\{device="lo"\} \d+/);
  t.match(text, /perfwatch_host_tcp_connections\{state="listen"\} [1-9]/);
  t.equal(await promtool(text), '', 'promtool check metrics stays clean');
});

t.test('history: points spaced by the interval, filters, summary, errors', async (t) => {
  const pw = await startApp(t, { collection: { interval: '250ms' } });
  for (let i = 0; i < 14; i++) await pw.nextTick();
  const api = new PerfwatchClient(pw.url);
  const h = await api.getPerformanceHistory({ minutes: 1, interval: 1 });
  t.ok(h.metrics.length >= 3, `${h.metrics.length} points`);
  const times = h.metrics.map((m) => Date.parse(m.timestamp));
  for (let i = 1; i < times.length; i++) t.equal((times[i]! - times[i - 1]!) % 1000, 0, 'on 1 s boundaries');
  t.equal(new Set(times.slice(1).map((x, i) => x - times[i]!)).size, 1, 'evenly spaced: one point per interval');
  t.same(Object.keys(h.metrics.at(-1)!).sort(), ['cpu_percent', 'disk_usage_percent', 'memory_percent', 'network_bytes_recv', 'network_bytes_sent', 'timestamp']);
  t.same(Object.keys(h.summary).sort(), ['avg_cpu', 'avg_memory', 'max_cpu', 'max_memory', 'min_cpu', 'min_memory']);
  t.ok(h.summary.min_cpu <= h.summary.avg_cpu && h.summary.avg_cpu <= h.summary.max_cpu);
  const only = await api.getPerformanceHistory({ minutes: 1, interval: 2, metrics: ['memory_percent', 'load_1m'] });
  t.same(Object.keys(only.metrics[0]!).sort(), ['load_1m', 'memory_percent', 'timestamp']);

  for (const [q, code, status] of [
    ['minutes=0', 'INVALID_PARAMETER', 400],
    ['minutes=999999', 'INVALID_PARAMETER', 400],
    ['interval=-1', 'INVALID_PARAMETER', 400],
    ['interval=abc', 'INVALID_PARAMETER', 400],
    ['metrics=nope', 'METRIC_NOT_FOUND', 404],
  ] as const) {
    const r = await getJson(`${pw.url}/api/v1/performance/history?${q}`);
    t.equal(r.status, status, q);
    t.equal(r.body.status, 'error');
    t.equal(r.body.error.code, code, q);
    t.type(r.body.error.message, 'string');
  }

  const sum = await api.getPerformanceSummary({ period: '1h' });
  t.same(Object.keys(sum).sort(), ['alerts', 'cpu', 'disk', 'memory', 'network', 'period']);
  t.same(Object.keys(sum.cpu!).sort(), ['average', 'current', 'maximum', 'minimum', 'trend']);
  t.ok(['increasing', 'decreasing', 'stable'].includes(sum.cpu!.trend));
  t.same(Object.keys(sum.network!).sort(), ['throughput_download', 'throughput_upload', 'total_download', 'total_upload']);
  t.same(sum.alerts, { total: 0, info: 0, warning: 0, error: 0, critical: 0 }, 'alerts raised in the period, by level');
  t.same(Object.keys(await api.getPerformanceSummary({ period: '7d', metrics: ['cpu'] })).sort(), ['alerts', 'cpu', 'period']);
  const bad = await getJson(`${pw.url}/api/v1/performance/summary?period=2h`);
  t.equal(bad.status, 400);
  t.match(bad.body.error.message, /1h, 6h, 24h, 7d/);
});

t.test('history rows merge dense and sparse series by time; values are the bucket averages of the raw samples', async (t) => {
  const pw = await startApp(t, { collection: { interval: '200ms' } });
  const api = new PerfwatchClient(pw.url, { token: TOKEN });
  await pw.nextTick();
  await api.addMetric({ name: 'sparse', value: 1.234 });
  for (let i = 0; i < 8; i++) await pw.nextTick();
  await api.addMetric({ name: 'sparse', value: 7 });
  await pw.nextTick();
  const asked = Date.now();
  const h = await api.getPerformanceHistory({ minutes: 1, interval: 1, metrics: ['cpu_percent', 'sparse'] });
  const times = h.metrics.map((m) => Date.parse(m.timestamp));
  t.ok(times.every((x, i) => i === 0 || x > times[i - 1]!), 'rows strictly in time order');
  t.ok(h.metrics.every((m) => 'cpu_percent' in m), 'the dense series is in every row');
  const sparse = h.metrics.filter((m) => 'sparse' in m);
  t.same(sparse.map((m) => m.sparse), [1.23, 7], 'the sparse series only in the rows of its two buckets, rounded to 2 places');
  const raw = (key: string, from: number) => {
    const vs: number[] = [];
    pw.store.get(key)!.data.forEachRaw(from, from + 999.999, (_t, v) => vs.push(v));
    return vs;
  };
  let checked = 0;
  for (const [i, m] of h.metrics.entries()) {
    if (times[i]! + 1000 > asked) continue; // the bucket still filling when the request was made
    const vs = raw('host:cpu_percent', times[i]!);
    t.equal(m.cpu_percent, Math.round((vs.reduce((a, v) => a + v, 0) / vs.length) * 100) / 100, `row ${m.timestamp}`);
    checked++;
  }
  t.ok(checked >= 1, `${checked} complete rows checked against the raw samples`);
});

t.test('custom metrics: accepted, queryable, on /metrics under promtool; every bad input rejected with nothing stored', async (t) => {
  const pw = await startApp(t, { collection: { interval: '200ms' }, server: { body_limit: 4096 }, custom_metrics: { max_series: 3, ttl: '1s', max_batch: 5 } });
  const base = `${pw.url}/api/v1/performance`;
  const api = new PerfwatchClient(pw.url, { token: TOKEN });
  // the batch first: it starts the batch worker, which from TypeScript source takes longer than this test's 1 s TTL
  const batch = await api.addMetrics([
    { name: 'api_response_time', value: 150, unit: 'ms', category: 'performance' },
    { name: 'oops', value: Number.NaN },
    { name: 'bad-name', value: 1 },
  ]);
  const r = await api.addMetric({ name: 'custom_api_calls', value: 150, unit: 'count', category: 'business', tags: { service: 'api', endpoint: '/api/v1/config' } });
  t.match(r.metric_id, /^metric_\d+$/);
  t.match(r.created_at, ISO_UTC);
  t.equal(batch.accepted, 1);
  t.equal(batch.rejected, 2);
  t.same(batch.errors.map((e) => [e.index, e.code, e.field]), [
    [1, 'INVALID_METRIC_VALUE', 'metrics[1].value'],
    [2, 'INVALID_METRIC', 'metrics[2].name'],
  ]);
  await pw.nextTick();
  const hist = await api.getPerformanceHistory({ minutes: 1, interval: 1, metrics: ['api_response_time', 'custom_api_calls'] });
  const row = hist.metrics.find((m) => 'api_response_time' in m)!;
  t.equal(row.api_response_time, 150, 'history keeps the name and unit the client sent');
  t.ok(hist.metrics.some((m) => m['custom_api_calls{endpoint="/api/v1/config",service="api"}'] === 150), 'tagged series are named with their tags');

  const text = await (await fetch(`${pw.url}/metrics`)).text();
  t.match(text, /perfwatch_custom_api_response_time_seconds 0\.15\n/, 'ms → seconds');
  t.match(text, /perfwatch_custom_custom_api_calls\{service="api",endpoint="\/api\/v1\/config"\} 150/);
  t.equal(await promtool(text), '');

  // bad inputs: each gets its code, and nothing is stored
  const before = pw.store.count('custom');
  const cases: Array<[string, string, number, string]> = [
    ['{"name":"x","value":"12"}', 'INVALID_METRIC_VALUE', 400, 'value'],
    ['{"name":"x","value":1e999}', 'INVALID_METRIC_VALUE', 400, 'value'],
    ['{"name":"x","value":null}', 'INVALID_METRIC_VALUE', 400, 'value'],
    ['{"name":"9x","value":1}', 'INVALID_METRIC', 400, 'name'],
    ['{"name":"x","value":1,"tags":{"a":1}}', 'INVALID_METRIC', 400, 'tags.a'],
    ['{"name":"x","value":1,"unit":"' + 'u'.repeat(40) + '"}', 'INVALID_METRIC', 400, 'unit'],
    ['{"name":"x",', 'INVALID_JSON', 400, ''],
    ['', 'INVALID_JSON', 400, ''],
    ['[1]', 'INVALID_METRIC', 400, ''],
    [JSON.stringify({ name: 'x', value: 1, tags: { pad: 'y'.repeat(250) }, category: 'z'.repeat(60), x: 'w'.repeat(4000) }), 'PAYLOAD_TOO_LARGE', 413, ''],
  ];
  for (const [body, code, status, field] of cases) {
    const res = await post(`${base}/metrics`, body);
    t.equal(res.status, status, `${body.slice(0, 40)} → ${status}`);
    t.equal(res.body.error.code, code);
    if (field) t.match(res.body.error.message, field);
  }
  const batchTooBig = await post(`${base}/metrics/batch`, JSON.stringify({ metrics: Array.from({ length: 6 }, (_, i) => ({ name: `b${i}`, value: i })) }));
  t.equal(batchTooBig.status, 400);
  t.equal(batchTooBig.body.error.code, 'BATCH_TOO_LARGE');
  t.equal((await post(`${base}/metrics/batch`, '{"metrics": 5}')).body.error.code, 'INVALID_JSON');
  // inconsistent tag keys for one name
  const tagsDiffer = await post(`${base}/metrics`, '{"name":"custom_api_calls","value":1,"tags":{"service":"api"}}');
  t.equal(tagsDiffer.body.error.code, 'INVALID_METRIC');
  t.match(tagsDiffer.body.error.message, /same tag keys/);
  t.equal(pw.store.count('custom'), before, 'nothing was stored by any rejected request');
  const unauth = await post(`${base}/metrics`, '{"name":"x","value":1}', {});
  t.equal(unauth.status, 401);
  t.equal(unauth.body.error.code, 'UNAUTHORIZED');
  t.equal((await getJson(`${base}/history?metrics=x`)).body.error.code, 'METRIC_NOT_FOUND', 'a refused write left no series');

  // the cap: a third series fits, a fourth does not until one passes its TTL
  t.equal((await post(`${base}/metrics`, '{"name":"third","value":1}')).status, 200);
  const over = await post(`${base}/metrics`, '{"name":"fourth","value":1}');
  t.equal(over.status, 422);
  t.equal(over.body.error.code, 'SERIES_LIMIT_EXCEEDED');
  t.equal((await post(`${base}/metrics`, '{"name":"third","value":2}')).status, 200, 'existing series keep updating');
  // TTL: after 1 s without updates a series leaves /metrics, and its slot can be taken
  await new Promise((r) => setTimeout(r, 1300));
  await pw.nextTick();
  const later = await (await fetch(`${pw.url}/metrics`)).text();
  t.notMatch(later, /perfwatch_custom_third /, 'stale series dropped off /metrics');
  t.equal((await post(`${base}/metrics`, '{"name":"fourth","value":1}')).status, 200, 'a stale series was evicted for the new one');
});

t.test('a batch spanning several ingest slices: every sample in order, errors by index, other requests served between', async (t) => {
  const pw = await startApp(t, { custom_metrics: { max_batch: 5000, max_series: 100 } });
  const base = `${pw.url}/api/v1/performance`;
  const bad = new Set([0, 199, 200, 401, 2999]);
  const metrics = Array.from({ length: 3000 }, (_, i) => (bad.has(i) ? { name: `n${i % 7}`, value: 'x' } : { name: `n${i % 7}`, value: i, tags: { k: `v${i % 3}` } }));
  const batch = post(`${base}/metrics/batch`, JSON.stringify({ metrics }));
  // requests sent while the batch is in flight get answered; a slice of 200 samples is well under a millisecond
  const health = await Promise.all(Array.from({ length: 5 }, () => fetch(`${pw.url}/healthz`).then((r) => r.status)));
  t.same(health, [200, 200, 200, 200, 200]);
  const res = await batch;
  t.equal(res.status, 200);
  t.equal(res.body.data.accepted, 2995);
  t.equal(res.body.data.rejected, 5);
  t.same(res.body.data.errors.map((e: { index: number }) => e.index), [...bad], 'rejected samples named by their index, across slices');
  t.ok(res.body.data.errors.every((e: { field: string; code: string }, j: number) => e.field === `metrics[${[...bad][j]}].value` && e.code === 'INVALID_METRIC_VALUE'));
  const ids: number[] = res.body.data.metric_ids.map((id: string) => Number(id.slice('metric_'.length)));
  t.equal(new Set(ids).size, 2995, 'one id per accepted sample');
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'ids increase in sample order');
  // every accepted sample of one series, in order: n0{k=v0} got i = 0 (rejected), 21, 42, …
  const want = metrics.flatMap((m, i) => (m.name === 'n0' && i % 3 === 0 && !bad.has(i) ? [i] : []));
  const got: number[] = [];
  pw.store.get('custom:n0{k="v0"}')!.data.forEachRaw(0, Infinity, (_t, v) => got.push(v));
  t.same(got, want);

  // a sample whose series conflicts with its family (other tag keys) is named by its index, like the others
  const conflict = await post(`${base}/metrics/batch`, JSON.stringify({ metrics: [{ name: 'n1', value: 1, tags: { k: 'v0' } }, { name: 'n1', value: 2, tags: { other: 'x' } }] }));
  t.same(conflict.body.data.errors.map((e: { index: number; code: string; field: string }) => [e.index, e.code, e.field]), [[1, 'INVALID_METRIC', 'metrics[1].tags']]);
  t.match(conflict.body.data.errors[0].message, /^metrics\[1\]\.tags: every series of "n1" needs the same tag keys \(k\)/);
});

t.test('a batch reaching a series evicted since an earlier batch resolved it creates the series again', async (t) => {
  // batches keep each route's resolved series between requests; eviction must not leave them writing into a dead one
  const pw = await startApp(t, { collection: { interval: '100ms' }, custom_metrics: { max_series: 1, ttl: '1s' } });
  const send = async (name: string, value: number) => (await post(`${pw.url}/api/v1/performance/metrics/batch`, JSON.stringify({ metrics: [{ name, value }] }))).body.data;
  const values = (key: string) => {
    const got: number[] = [];
    pw.store.get(key)?.data.forEachRaw(0, Infinity, (_t, v) => got.push(v));
    return got;
  };
  t.equal((await send('first', 1)).accepted, 1);
  await new Promise((r) => setTimeout(r, 1200));
  t.equal((await send('second', 2)).accepted, 1, 'the stale first series made room');
  t.equal(pw.store.get('custom:first'), undefined, 'first was evicted');
  const refused = await send('first', 3);
  t.same([refused.accepted, refused.rejected, refused.errors[0]?.code, refused.errors[0]?.index], [0, 1, 'SERIES_LIMIT_EXCEEDED', 0], 'no room while second is fresh');
  await new Promise((r) => setTimeout(r, 1200));
  t.equal((await send('first', 4)).accepted, 1);
  t.same(values('custom:first'), [4], 'a new series holds only the new sample');
  t.equal(pw.store.get('custom:second'), undefined);
  await pw.nextTick();
  t.match(await (await fetch(`${pw.url}/metrics`)).text(), /perfwatch_custom_first 4\n/);
});

t.test('auth.open_writes lets legacy clients write without a header', async (t) => {
  const pw = await startApp(t, { auth: { open_writes: true } });
  const res = await post(`${pw.url}/api/v1/performance/metrics`, '{"name":"legacy","value":1}', {});
  t.equal(res.status, 200);
  t.equal((await post(`${pw.url}/plugin/x/start`, '', {})).status, 401, 'plugin admin routes still need the token');
});

t.test('the history survives a restart through the checkpoint', async (t) => {
  const pw = await startApp(t, { collection: { interval: '200ms' } });
  const api = new PerfwatchClient(pw.url, { token: TOKEN });
  await api.addMetric({ name: 'kept', value: 42, unit: 'ms' });
  await pw.nextTick();
  const storage = `${pw.dir}/data`;
  await pw.stop();
  const { loadConfig } = await import('../../src/config/load.js');
  const { pino } = await import('pino');
  const cfg = await loadConfig({ file: pw.configFile });
  const again = await startPerfwatch({ config: cfg, logger: pino({ level: 'silent' }), env: { ...process.env, PERFWATCH_ADMIN_TOKEN: TOKEN } });
  t.teardown(() => again.stop());
  t.equal(cfg.storage.path, storage);
  const h = await new PerfwatchClient(again.url).getPerformanceHistory({ minutes: 5, interval: 1, metrics: ['kept', 'cpu_percent'] });
  t.ok(h.metrics.some((m) => m.kept === 42), 'the custom sample from before the restart');
  t.ok(h.metrics.filter((m) => 'cpu_percent' in m).length >= 1, 'host history from before the restart');
  const err = await new PerfwatchClient(again.url).getPerformanceHistory({ metrics: ['never'] }).catch((e) => e);
  t.type(err, PerfwatchApiError);
  t.equal(err.code, 'METRIC_NOT_FOUND');
  t.equal(err.status, 404);
});
