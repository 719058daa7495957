import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import KoaRouter from '@koa/router';
import expressApp from 'express';
import fastifyApp from 'fastify';
import Koa from 'koa';
import t from 'tap';
import { Collector, express as expressMw, fastify as fastifyPlugin, koa as koaMw, resolveConfig } from '../../packages/sdk/src/index.js';
import { loadConfig } from '../../src/config/load.js';
import { auth, getJson, jsonReceiver, listen, otlpJsonReceiver, ROOT, startApp, waitFor } from '../helpers/index.js';
import { burnCpu, processCpuMs } from '../helpers/cpu.js';
import { freePort } from '../helpers/peers.js';
import { KEY, OTHER_KEY, agent, records, sleep, frames, has } from '../helpers/profiling.js';

t.test('Koa: route templates, statuses and the span tree of a known workload reach perfwatch', async (t) => {
  const pw = await agent(t);
  const collector = new Collector({ project_key: KEY, api_endpoint: `${pw.url}/api/v1/performance/collect`, batch_size: 5, flush_interval: 60 }, {});
  t.teardown(() => collector.shutdown());
  const loadUser = collector.monitor(async function loadUser(id: string) {
    await sleep(5);
    return { id };
  });
  const render = collector.monitor(function render(u: unknown) {
    return JSON.stringify(u);
  });
  const app = new Koa();
  app.use(koaMw(collector)); // before the router, as docs/profiling.md says
  const router = new KoaRouter({ prefix: '/api' });
  router.get('/users/:id', async (ctx) => {
    const u = await loadUser(ctx.params.id!);
    await loadUser(ctx.params.id!);
    ctx.body = render(u);
  });
  router.get('/fail', () => {
    throw Object.assign(new Error('boom'), { status: 503 });
  });
  router.get('/parallel', async (ctx) => {
    // each branch's inner span nests under its own branch, not under whichever started last
    const db = collector.monitor(async function db() {
      await sleep(2);
    });
    await Promise.all([collector.collect(() => db(), 'branchA'), collector.collect(() => db(), 'branchB')]);
    ctx.body = 'ok';
  });
  app.use(router.routes());
  app.on('error', () => undefined);
  const url = await listen(t, createServer(app.callback()));

  for (let i = 0; i < 10; i++) t.equal((await fetch(`${url}/api/users/${1000 + i}`)).status, 200);
  t.equal((await fetch(`${url}/api/fail`)).status, 503);
  t.equal((await fetch(`${url}/nowhere/42`)).status, 404);
  t.equal((await fetch(`${url}/api/parallel`)).status, 200);
  await collector.flush();
  t.match(collector.stats(), { recorded: 13, sent: 13, dropped_queue_full: 0, dropped_send_failed: 0, queued: 0 });

  const all = await records(pw.url, '&project=shop');
  t.equal(all.length, 13);
  const routes = new Set(all.map((r) => r.route));
  t.same([...routes].sort(), ['/api/fail', '/api/parallel', '/api/users/:id', '<unmatched>'], 'templates, never a raw URL');
  t.match(all.find((r) => r.route === '/api/fail'), { method: 'GET', status: 503 });
  t.match(all.find((r) => r.route === '<unmatched>'), { status: 404, path: '/nowhere/42' });

  const user = all.find((r) => r.route === '/api/users/:id')!;
  const one = (await getJson(`${pw.url}/api/v1/performance/records/${user.id}`, auth)).body.data;
  const root = one.tree.root_frame;
  t.equal(root.function, 'GET /api/users/:id');
  t.same(root.children.map((c: { function: string; calls: number }) => [c.function, c.calls]), [['loadUser', 2], ['render', 1]], 'repeated calls merge into one node with calls');
  const load = root.children[0];
  t.ok(load.time >= 0.009, `two awaited 5 ms loads take at least 9 ms (${(load.time * 1000).toFixed(1)} ms)`);
  t.ok(load.time <= root.time, 'a child never outlasts its request');
  t.ok(one.duration_ms >= load.time * 1000);

  const par = all.find((r) => r.route === '/api/parallel')!;
  const tree = (await getJson(`${pw.url}/api/v1/performance/records/${par.id}`, auth)).body.data.tree.root_frame;
  t.same(tree.children.map((c: { function: string; children: Array<{ function: string; calls: number }> }) => [c.function, c.children.map((x) => [x.function, x.calls])]), [['branchA', [['db', 1]]], ['branchB', [['db', 1]]]], 'concurrent spans nest under their own parent');

  const speedscope = (await getJson(`${pw.url}/api/v1/performance/records/${user.id}/profile?format=speedscope`, auth)).body;
  t.equal(speedscope.$schema, 'https://www.speedscope.app/file-format-schema.json');
  const ev = speedscope.profiles[0].events as Array<{ type: string; at: number }>;
  t.equal(ev.filter((e) => e.type === 'O').length, ev.filter((e) => e.type === 'C').length, 'every frame opened is closed');
  t.same(speedscope.shared.frames.map((f: { name: string }) => f.name), ['GET /api/users/:id', 'loadUser', 'render']);

  await pw.nextTick(); // /metrics is rendered once per tick
  const metrics = await (await fetch(`${pw.url}/metrics`)).text();
  t.match(metrics, /perfwatch_profiling_requests_total\{project="shop",route="\/api\/users\/:id",method="GET",status_class="2xx"\} 10/);
  t.match(metrics, /perfwatch_profiling_requests_total\{project="shop",route="\/api\/fail",method="GET",status_class="5xx"\} 1/);
  t.match(metrics, /perfwatch_profiling_request_duration_seconds_count\{project="shop",route="\/api\/users\/:id",method="GET"\} 10/);
  t.match(metrics, /perfwatch_profiling_records_total\{result="accepted"\} 13/);

  const stats = (await getJson(`${pw.url}/api/v1/performance/routes?project=shop&minutes=5`, auth)).body.data.routes as Array<Record<string, any>>;
  const users = stats.find((s) => s.route === '/api/users/:id')!;
  t.match(users, { project: 'shop', method: 'GET', count: 10, errors: 0, error_rate: 0 });
  t.ok(users.p50_ms >= 9 && users.p50_ms <= users.p95_ms && users.p95_ms <= users.p99_ms && users.p99_ms <= users.max_ms, `p50 ${users.p50_ms} ≤ p95 ${users.p95_ms} ≤ p99 ${users.p99_ms} ≤ max ${users.max_ms}`);
  t.match(stats.find((s) => s.route === '/api/fail'), { count: 1, errors: 1, error_rate: 1 });

  // filters
  t.equal((await records(pw.url, '&status=503')).length, 1);
  t.equal((await records(pw.url, '&route=%2Fapi%2Fusers%2F%3Aid&min_duration_ms=9')).length, 10);
  t.equal((await records(pw.url, '&project=blog')).length, 0);
});

t.test('Express and Fastify: their route templates, a mount prefix templated', async (t) => {
  const pw = await agent(t);
  const collector = new Collector({ project_key: OTHER_KEY, api_endpoint: `${pw.url}/api/v1/performance/collect`, flush_interval: 60 }, {});
  t.teardown(() => collector.shutdown());
  const step = collector.monitor(async function step() {
    await sleep(1);
  });

  const ex = expressApp();
  ex.use(expressMw(collector));
  const items = expressApp.Router();
  items.get('/items/:item', async (_req, res) => {
    await step();
    res.json({ ok: true });
  });
  ex.use('/t/:tenant', items);
  const exUrl = await listen(t, createServer(ex));
  t.equal((await fetch(`${exUrl}/t/42/items/7`)).status, 200);
  t.equal((await fetch(`${exUrl}/t/acme/nothing`)).status, 404);

  const fa = fastifyApp();
  await fa.register(fastifyPlugin(collector));
  fa.get('/api/orders/:order', async () => {
    await step();
    return { ok: true };
  });
  await fa.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => fa.close());
  const faUrl = `http://127.0.0.1:${(fa.server.address() as AddressInfo).port}`;
  t.equal((await fetch(`${faUrl}/api/orders/99?x=1`)).status, 200);

  await collector.flush();
  const all = await records(pw.url, '&project=blog');
  t.same(all.map((r) => `${r.method} ${r.route} ${r.status}`).sort(), ['GET /api/orders/:order 200', 'GET /t/:param/items/:item 200', 'GET <unmatched> 404']);
  for (const r of all.filter((x) => x.status === 200)) {
    const tree = (await getJson(`${pw.url}/api/v1/performance/records/${r.id}`, auth)).body.data.tree.root_frame;
    t.same(tree.children.map((c: { function: string }) => c.function), ['step'], `${r.route}: the handler's span is in the request's tree`);
  }
  t.equal(all.find((r) => r.route === '/api/orders/:order')!.path, '/api/orders/99', 'the raw path without its query string');
});

/** Spins for `ms` of CPU; two twins with their own names, so a sample says whose it is. */


t.test('sampling, batching, a queue that is bounded, and perfwatch down: the app never notices', async (t) => {
  const pw = await agent(t);
  const none = new Collector({ project_key: KEY, api_endpoint: `${pw.url}/api/v1/performance/collect`, sampling_rate: 0 }, {});
  t.teardown(() => none.shutdown());
  for (let i = 0; i < 5; i++) await none.request({ method: 'GET', route: '/x' }, () => 1);
  t.match(none.stats(), { recorded: 0, sampled_out: 5 });

  // batches of 4: 10 records leave as 4 + 4 when the queue fills, and the last 2 on flush
  const batched = new Collector({ project_key: KEY, api_endpoint: `${pw.url}/api/v1/performance/collect`, batch_size: 4, flush_interval: 60 }, {});
  t.teardown(() => batched.shutdown());
  for (let i = 0; i < 10; i++) await batched.request({ method: 'POST', route: '/orders' }, () => 1);
  await waitFor(() => batched.stats().sent >= 8, { what: 'two full batches sent' });
  await sleep(100);
  t.match(batched.stats(), { sent: 8, queued: 2 }, 'two full batches left on their own; the partial one waits');
  await batched.shutdown();
  t.match(batched.stats(), { sent: 10, queued: 0 });
  t.equal((await records(pw.url, '&route=%2Forders')).length, 10);

  // nobody listening: tries, gives up, counts; the requests themselves are not slowed
  const down = new Collector({ project_key: KEY, api_endpoint: 'http://127.0.0.1:1/api/v1/performance/collect', max_queue: 3, max_retries: 2, flush_interval: 60, batch_size: 100 }, {});
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) await down.request({ method: 'GET', route: '/y' }, () => 1);
  t.ok(performance.now() - t0 < 100, 'recording five requests takes no network time');
  t.match(down.stats(), { recorded: 5, queued: 3, dropped_queue_full: 2 }, 'the queue holds max_queue and counts the rest');
  await down.shutdown();
  t.match(down.stats(), { sent: 0, dropped_send_failed: 3, queued: 0 });
});

t.test('under steady load a flush ends, and batches stay full', async (t) => {
  const { url, got } = await jsonReceiver(t);
  const c = new Collector({ project_key: KEY, api_endpoint: `${url}/api/v1/performance/collect`, batch_size: 50, flush_interval: 3600 }, {});
  t.teardown(() => c.shutdown());
  let stop = false;
  // four callers that never pause: records keep arriving while every batch is on its way
  const load = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (!stop) await c.request({ method: 'GET', route: '/load' }, () => new Promise((r) => setImmediate(r)));
    }),
  );
  await sleep(200);
  const flushed = await Promise.race([c.flush().then(() => true), sleep(3000).then(() => false)]);
  t.ok(flushed, 'flush() resolves while requests keep coming: it sends what was queued when it ran');
  await sleep(200);
  stop = true;
  await load;
  await c.flush();
  const sizes = got.map((g) => g.body.records.length as number);
  t.equal(sizes.reduce((a, b) => a + b, 0), c.stats().recorded, 'every record left');
  t.ok(sizes.length >= 5, `${sizes.length} batches`);
  const short = sizes.filter((n) => n < 50);
  t.ok(short.length <= 2, `only the two flushes' remainders are short of batch_size (${short.length} of ${sizes.length}: ${short.slice(0, 10).join(' ')})`);
});

t.test('the server refuses bad records and keeps the good ones; a wrong key stores nothing', async (t) => {
  const pw = await agent(t, { max_batch: 10, max_nodes: 3 });
  const post = (p: string, body: unknown, key: string | null = KEY) => fetch(`${pw.url}/api/v1/performance/${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { 'x-project-key': key } : {}) }, body: JSON.stringify(body) });
  const good = { route: '/a', method: 'GET', status: 200, start_time: Date.now() / 1000, duration_ms: 12.5 };
  const frame = (n: number): object => ({ function: `f${n}`, time: 0.001, children: n > 1 ? [frame(n - 1)] : [] });

  const single = await post('collect', good);
  t.equal(single.status, 200);
  t.match(((await single.json()) as any).data, { record_id: /^rec_\d+$/, project: 'shop' });

  const res = await post('batch', {
    records: [good, { ...good, status: 999 }, { ...good, route: undefined }, { ...good, tree: { kind: 'instrumented', root_frame: frame(4) } }, { ...good, tree: { kind: 'instrumented', root_frame: frame(3) } }, 'nope', { ...good, method: 'get' }],
  });
  t.equal(res.status, 200);
  const body = ((await res.json()) as any).data;
  t.match(body, { accepted: 2, rejected: 5 });
  t.same(
    body.errors.map((e: { index: number; field: string }) => [e.index, e.field]),
    [
      [1, 'records[1].status'],
      [2, 'records[2].route'],
      [3, 'records[3].tree.root_frame.children[0].children[0].children[0]'],
      [5, 'records[5]'],
      [6, 'records[6].method'],
    ],
    'each refusal names its record and field',
  );
  t.equal((await records(pw.url)).length, 3, 'the single one and the two good ones');
  t.equal(body.record_ids.length, 2, 'the stored records\' ids');
  t.equal(res.headers.get('preference-applied'), null);

  // `Prefer: return=minimal` (what the SDK sends): the same answer without the ids
  const lean = await fetch(`${pw.url}/api/v1/performance/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-project-key': KEY, prefer: 'respond-async, return=minimal' }, body: JSON.stringify({ records: [good, { ...good, status: 999 }] }) });
  t.equal(lean.headers.get('preference-applied'), 'return=minimal');
  const leanBody = ((await lean.json()) as any).data;
  t.same(Object.keys(leanBody).sort(), ['accepted', 'errors', 'rejected'], 'no record_ids');
  t.match(leanBody, { accepted: 1, rejected: 1, errors: [{ index: 1, field: 'records[1].status', message: /^records\[1\]\.status: / }] });
  t.equal((await records(pw.url)).length, 4, 'the good one is stored all the same');

  // sampled trees and route profiles are checked the same way, each refusal by its own path
  const sampled = (extra: object) => ({ kind: 'sampled', interval_ms: 10, sample_count: 1, root_frame: { function: 'GET /a', time: 0.01 }, ...extra });
  const profile = (extra: object) => ({ route: '/a', method: 'GET', window_start: good.start_time - 5, window_end: good.start_time, requests: 1, tree: sampled({}), ...extra });
  const checked = await post('batch', {
    records: [{ ...good, sampled: sampled({ kind: 'instrumented' }) }, { ...good, sampled: 'x' }, { ...good, sampled: sampled({ interval_ms: 0 }) }],
    route_profiles: [profile({ window_end: good.start_time - 10 }), 'nope', profile({ method: 'get' }), profile({ tree: sampled({ sample_count: 1.5 }) }), profile({})],
  });
  const cb = ((await checked.json()) as any).data;
  t.same(cb.errors.map((e: { field: string }) => e.field), ['records[0].sampled.kind', 'records[1].sampled', 'records[2].sampled.interval_ms']);
  t.same(cb.route_profile_errors.map((e: { index: number; field: string }) => [e.index, e.field]), [[0, 'route_profiles[0].window_end'], [1, 'route_profiles[1]'], [2, 'route_profiles[2].method'], [3, 'route_profiles[3].tree.sample_count']]);
  t.equal(cb.route_profiles_accepted, 1, 'the good one is kept');
  for (const [body, code] of [
    [{ records: [], route_profiles: {} }, 'INVALID_JSON'],
    [{ records: [], route_profiles: Array.from({ length: 201 }, () => profile({})) }, 'BATCH_TOO_LARGE'],
  ] as const) {
    const r = await post('batch', body);
    t.equal(r.status, 400);
    t.match(((await r.json()) as any).error, { code, message: /^route_profiles: / });
  }

  for (const [key, why] of [
    [null, /send the project key/],
    ['wrong-key-0123456789', /not one of profiling.projects/],
  ] as const) {
    const r = await post('batch', { records: [good] }, key);
    t.equal(r.status, 401);
    t.match(((await r.json()) as any).error, { code: 'PROJECT_KEY_INVALID', message: why });
  }
  const tooMany = await post('batch', { records: Array.from({ length: 11 }, () => good) });
  t.equal(tooMany.status, 400);
  t.match(((await tooMany.json()) as any).error, { code: 'BATCH_TOO_LARGE' });
  const huge = await fetch(`${pw.url}/api/v1/performance/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-project-key': KEY }, body: JSON.stringify({ records: [{ ...good, route: 'x'.repeat(2_000_000) }] }) });
  t.equal(huge.status, 413);
  t.equal((await records(pw.url)).length, 4, 'nothing more was stored');
  await pw.nextTick();
  t.match(await (await fetch(`${pw.url}/metrics`)).text(), /perfwatch_profiling_records_total\{result="unauthorized"\} 2/);

  // reads are admin
  t.equal((await getJson(`${pw.url}/api/v1/performance/records`)).status, 401);
  t.equal((await getJson(`${pw.url}/api/v1/performance/records/rec_999`, auth)).body.error.code, 'RECORD_NOT_FOUND');
  t.equal((await getJson(`${pw.url}/api/v1/performance/records?status=42`, auth)).status, 400);
});


t.test('SDK configuration: code over environment over file over defaults; a bad value names its key', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-sdk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'performance_monitor.yaml'), 'other: 1\nperformance_monitor:\n  project_key: "from-file"\n  api_endpoint: http://file/api/v1/performance/collect\n  batch_size: 7   # a comment\n  sampling_rate: 0.5\n');
  t.match(resolveConfig({}, {}, dir), { project_key: 'from-file', api_endpoint: 'http://file/api/v1/performance/collect', batch_size: 7, sampling_rate: 0.5, async_send: true, flush_interval: 5 });
  const env = { PERFORMANCE_MONITOR_PROJECT_KEY: 'from-env', PERFORMANCE_MONITOR_BATCH_SIZE: '9', PERFORMANCE_MONITOR_ASYNC_SEND: 'false' };
  t.match(resolveConfig({}, env, dir), { project_key: 'from-env', batch_size: 9, async_send: false, sampling_rate: 0.5 });
  t.match(resolveConfig({ batch_size: 3 }, env, dir), { project_key: 'from-env', batch_size: 3 });
  writeFileSync(path.join(dir, 'p.json'), JSON.stringify({ performance_monitor: { project_key: 'from-json', api_endpoint: 'https://json/collect' } }));
  t.match(resolveConfig({}, { PERFORMANCE_MONITOR_CONFIG: path.join(dir, 'p.json') }, dir), { project_key: 'from-json', api_endpoint: 'https://json/collect' });
  t.throws(() => resolveConfig({}, { PERFORMANCE_MONITOR_CONFIG: path.join(dir, 'missing.json') }, dir), /PERFORMANCE_MONITOR_CONFIG .*missing\.json/);
  t.throws(() => resolveConfig({ sampling_rate: 2 }, {}, dir), /performance_monitor\.sampling_rate: expected a number from 0 to 1, got 2/);
  t.throws(() => resolveConfig({}, { PERFORMANCE_MONITOR_ASYNC_SEND: 'maybe' }, dir), /performance_monitor\.async_send: expected true or false/);
  t.throws(() => resolveConfig({}, {}, tmpdir()), /performance_monitor\.project_key: expected a non-empty string/);
  // the profiler: a bare `off` (a YAML and environment false) is off; it needs batches to ride with
  const base = { project_key: 'k', api_endpoint: 'http://x/collect' };
  t.match(resolveConfig(base, { PERFORMANCE_MONITOR_PROFILER: 'off' }, dir), { profiler: 'off', profiler_interval_ms: 10, profiler_min_samples: 5 });
  t.match(resolveConfig(base, { PERFORMANCE_MONITOR_PROFILER: 'inspector', PERFORMANCE_MONITOR_PROFILER_INTERVAL_MS: '1' }, dir), { profiler: 'inspector', profiler_interval_ms: 1 });
  t.throws(() => resolveConfig({ ...base, profiler: 'pprof' as 'off' }, {}, dir), /performance_monitor\.profiler: expected "off" or "inspector"/);
  t.throws(() => resolveConfig({ ...base, profiler: 'inspector', async_send: false }, {}, dir), /performance_monitor\.async_send: expected true while the profiler is on/);
  writeFileSync(path.join(dir, 'performance_monitor.yaml'), 'performance_monitor:\n  project_key: [a, b]\n');
  t.throws(() => resolveConfig({}, {}, dir), /performance_monitor\.yaml:2: the SDK reads flat "key: value" lines/);
});

t.test('the example apps: the Koa one, run as the demo config runs it, sends its records; the demo config is valid', async (t) => {
  // the examples import @perfwatch/sdk as users do, which resolves to the workspace's built dist/
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'packages/sdk/tsconfig.json')]);
  const demo = await loadConfig({ file: path.join(ROOT, 'examples/perfwatch.yaml') });
  t.same(demo.profiling.projects.map((p) => p.name), ['demo']);
  t.ok(['shop-koa', 'shop-express', 'shop-fastify'].every((id) => demo.plugins.some((p) => p.id === id)), 'the three example apps are demo plugins');

  const pw = await agent(t);
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'examples/profiling/koa-app.mjs')], {
    env: { ...process.env, PORT: String(port), EXAMPLE_LOAD_MS: '100', PERFORMANCE_MONITOR_PROJECT_KEY: KEY, PERFORMANCE_MONITOR_API_ENDPOINT: `${pw.url}/api/v1/performance/collect` },
    stdio: 'ignore',
  });
  t.teardown(() => void child.kill('SIGKILL'));
  const list = await waitFor(async () => {
    const r = await records(pw.url, '&route=%2Fapi%2Fusers');
    return r.length ? r : null;
  }, { timeoutMs: 20_000, what: 'records from the example app' });
  const tree = (await getJson(`${pw.url}/api/v1/performance/records/${list[0]!.id}`, auth)).body.data.tree.root_frame;
  t.same(tree.children.map((c: { function: string; calls: number }) => [c.function, c.calls]), [['findUser', 5], ['render', 1]], 'five lookups and one render in the tree');
  // its sampler: the CPU-bound route's records carry the unwrapped functions the span tree cannot see
  const report = await waitFor(async () => {
    for (const r of await records(pw.url, '&route=%2Fapi%2Freport')) {
      const rec = (await getJson(`${pw.url}/api/v1/performance/records/${r.id}`, auth)).body.data;
      if (rec.sampled) return rec;
    }
    return null;
  }, { timeoutMs: 20_000, what: 'a sampled /api/report record' });
  t.ok(has(report.sampled.root_frame, 'priceTable'), `priceTable in the samples of ${report.id}`);
  // priceTable's own frame, not the heaviest child: on a loaded machine that can be (garbage collector), with no file
  const priceTable = frames(report.sampled.root_frame).find((f) => f.function === 'priceTable');
  t.match(priceTable?.file_path_short, /^examples\/profiling\/koa-app\.mjs:\d+$/, 'frames name their file relative to the app, with the line');
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
});

t.test('analysis: the rules\' findings with evidence, then a chat-completions stand-in; each provider failure ends the job clearly', async (t) => {
  let mode: 'ok' | 'unauthorized' | 'busy' | 'hang' | 'garbage' = 'ok';
  const asked: Array<Record<string, any>> = [];
  const standIn = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      asked.push({ url: req.url, auth: req.headers.authorization, body: JSON.parse(body || '{}') });
      if (mode === 'hang') return; // never answers: the client's timeout ends it
      if (mode === 'unauthorized') return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"Incorrect API key"}}');
      if (mode === 'busy') return void res.writeHead(429, { 'retry-after': '0' }).end('{"error":{"message":"rate limit"}}');
      if (mode === 'garbage') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>gateway</html>');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model: 'stand-in-1', usage: { total_tokens: 321 }, choices: [{ message: { role: 'assistant', content: 'Here:\n{"summary": "findUser runs 12 times per request.", "suggestions": ["Load the users in one query."]}' } }] }));
    });
  });
  const base = await listen(t, standIn);
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-ai-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'key'), 'sk-stand-in\n');
  const pw = await agent(t, { analysis: { provider: 'custom', base_url: `${base}/v1`, model: 'stand-in-model', api_key_file: path.join(dir, 'key'), timeout: '1s', max_retries: 1, extra_body: { enable_thinking: false } } });
  type F = { function: string; time: number; self_time: number; calls: number; children: F[] };
  const frame = (name: string, ms: number, calls = 1, children: F[] = []): F => ({ function: name, time: ms / 1000, self_time: (ms - children.reduce((s, c) => s + c.time * 1000, 0)) / 1000, calls, children });
  const res = await fetch(`${pw.url}/api/v1/performance/collect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-project-key': KEY },
    body: JSON.stringify({ route: '/api/users', method: 'GET', status: 200, start_time: Date.now() / 1000, duration_ms: 150, cpu_time_ms: 10, tree: { kind: 'instrumented', root_frame: frame('GET /api/users', 0.15 * 1000, 1, [frame('findUser', 120, 12), frame('readFileSync', 8)]) } }),
  });
  const recordId = ((await res.json()) as any).data.record_id as string;

  const run = async () => {
    const started = await fetch(`${pw.url}/api/v1/analysis/analyze/${recordId}`, { method: 'POST', headers: auth });
    t.equal(started.status, 200);
    const { analysis_id } = ((await started.json()) as any).data;
    return waitFor(async () => {
      const a = (await getJson(`${pw.url}/api/v1/analysis/${analysis_id}`, auth)).body.data;
      return a.status === 'done' || a.status === 'failed' ? a : null;
    }, { timeoutMs: 20_000, what: 'the analysis ends' });
  };

  const ok = await run();
  t.match(ok, { status: 'done', provider: 'custom', error: null, result: { summary: 'findUser runs 12 times per request.', suggestions: ['Load the users in one query.'], model: 'stand-in-1', tokens: 321 } });
  const kinds = ok.result.findings.map((f: { kind: string }) => f.kind);
  t.ok(kinds.includes('repeated_calls') && kinds.includes('sync_io') && kinds.includes('hot_function') && kinds.includes('waiting'), `findings: ${kinds.join(', ')}`);
  t.match(ok.result.findings.find((f: { kind: string }) => f.kind === 'repeated_calls').evidence, { function: 'findUser', parent: 'GET /api/users', calls: 12, total_ms: 120, per_call_ms: 10 });
  const req = asked.at(-1)!;
  t.equal(req.url, '/v1/chat/completions');
  t.equal(req.auth, 'Bearer sk-stand-in', 'the key from api_key_file');
  t.match(req.body, { model: 'stand-in-model', max_tokens: 800, enable_thinking: false });
  t.match(req.body.messages[1].content, /GET \/api\/users → 200, 150 ms wall[\s\S]*findUser: 120 ms total, 120 ms self, 12 call\(s\)[\s\S]*repeated_calls/, 'the prompt carries the tree and the findings');

  for (const [m, error, tries] of [
    ['unauthorized', /refused the API key \(401\)/, 1],
    ['busy', /rate limiting \(429\); gave up after 2 tries/, 2],
    ['hang', /did not answer within 1 s; gave up after 2 tries/, 2],
    ['garbage', /not a chat completion \(<html>gateway/, 1],
  ] as const) {
    mode = m;
    const before = asked.length;
    const a = await run();
    t.match(a, { status: 'failed', error }, m);
    t.equal(asked.length - before, tries, `${m}: ${tries} tries`);
    t.ok(a.result.findings.length >= 3, `${m}: the findings are kept`);
  }
  t.equal((await getJson(`${pw.url}/api/v1/analysis?record_id=${recordId}`, auth)).body.data.analyses.length, 5);
  t.equal((await getJson(`${pw.url}/api/v1/analysis/ana_999`, auth)).body.error.code, 'ANALYSIS_NOT_FOUND');
  t.equal((await fetch(`${pw.url}/api/v1/analysis/analyze/rec_999`, { method: 'POST', headers: auth })).status, 404);
  t.equal((await fetch(`${pw.url}/api/v1/analysis/analyze/${recordId}`, { method: 'POST' })).status, 401);
});

t.test('analysis without a provider: the findings alone; a provider without a key refuses to start', async (t) => {
  const pw = await agent(t);
  const res = await fetch(`${pw.url}/api/v1/performance/collect`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-project-key': KEY }, body: JSON.stringify({ route: '/r', method: 'GET', status: 200, start_time: Date.now() / 1000, duration_ms: 80, cpu_time_ms: 78 }) });
  const recordId = ((await res.json()) as any).data.record_id;
  const { analysis_id } = ((await (await fetch(`${pw.url}/api/v1/analysis/analyze/${recordId}`, { method: 'POST', headers: auth })).json()) as any).data;
  const a = await waitFor(async () => {
    const x = (await getJson(`${pw.url}/api/v1/analysis/${analysis_id}`, auth)).body.data;
    return x.status === 'done' ? x : null;
  }, { what: 'done' });
  t.match(a, { provider: 'none', result: { summary: null, suggestions: [], findings: [{ kind: 'cpu_bound', evidence: { cpu_ms: 78, duration_ms: 80 } }] } });
  await t.rejects(agent(t, { analysis: { provider: 'qwen', model: 'qwen-plus' } }), /profiling\.analysis\.provider qwen needs an API key/);
});

t.test('records also leave as OTLP traces when the app sets an OTLP endpoint', async (t) => {
  const pw = await agent(t);
  const { url: otlp, got } = await jsonReceiver(t);
  const collector = new Collector({ project_key: KEY, api_endpoint: `${pw.url}/api/v1/performance/collect`, flush_interval: 60 }, { OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_SERVICE_NAME: 'shop-api' });
  t.teardown(() => collector.shutdown());
  const query = collector.monitor(async function query() {
    await sleep(3);
  });
  await collector.request({ method: 'GET', path: '/api/items/5' }, async (info) => {
    await sleep(2);
    await query();
    await query();
    info.route = '/api/items/:id';
    info.status = 502;
  });
  await collector.flush();
  t.match(collector.stats(), { sent: 1, otlp_sent: 1, otlp_failed: 0 });
  t.equal(got.length, 1);
  t.match(got[0], { url: '/v1/traces', type: 'application/json' });
  const rs = got[0]!.body.resourceSpans[0];
  t.same(rs.resource.attributes.find((a: { key: string }) => a.key === 'service.name').value, { stringValue: 'shop-api' }, 'OTEL_SERVICE_NAME');
  const [root, child] = rs.scopeSpans[0].spans;
  t.match(root, { name: 'GET /api/items/:id', kind: 2, status: { code: 2 } });
  t.notOk(root.parentSpanId, 'the request is the root span');
  const attrs = Object.fromEntries(root.attributes.map((a: { key: string; value: Record<string, string> }) => [a.key, Object.values(a.value)[0]]));
  t.match(attrs, { 'http.request.method': 'GET', 'http.route': '/api/items/:id', 'http.response.status_code': '502', 'url.path': '/api/items/5' });
  t.match(child, { name: 'query', kind: 1, traceId: root.traceId, parentSpanId: root.spanId });
  t.match(child.attributes, [{ key: 'perfwatch.calls', value: { intValue: '2' } }]);
  const ns = (s: string) => BigInt(s);
  t.ok(ns(child.startTimeUnixNano) >= ns(root.startTimeUnixNano) + 1_000_000n, 'the child starts after the 2 ms the handler slept first');
  t.ok(ns(child.endTimeUnixNano) <= ns(root.endTimeUnixNano) + 1000n, 'and ends within the request');
  t.match(root.traceId, /^[0-9a-f]{32}$/);
  t.match(child.spanId, /^[0-9a-f]{16}$/);
});

t.test('the wire form: spans leave without the fields perfwatch defaults, times to the microsecond; perfwatch reads them whole', async (t) => {
  const pw = await agent(t);
  const { url, got } = await jsonReceiver(t);
  const collector = new Collector({ project_key: KEY, api_endpoint: `${url}/api/v1/performance/collect`, flush_interval: 60 }, {});
  t.teardown(() => collector.shutdown());
  const query = collector.monitor(async function query() {
    await sleep(2);
  });
  await collector.request({ method: 'GET', path: '/api/items/7' }, async (info) => {
    await query();
    info.route = '/api/items/:id';
  });
  await collector.flush();
  t.equal(got.length, 1);
  const rec = got[0]!.body.records[0];
  const frames: any[] = [];
  const walk = (f: any) => (frames.push(f), (f.children ?? []).forEach(walk));
  walk(rec.tree.root_frame);
  t.equal(frames.length, 2);
  t.same(Object.keys(frames[0]).sort(), ['children', 'function', 'time'], 'the root: only what perfwatch has no default for');
  t.same(Object.keys(frames[1]).sort(), ['function', 'time'], 'a leaf called once: no calls, no children, no self time');
  for (const f of frames) t.equal(Math.round(f.time * 1e6) / 1e6, f.time, 'time to the microsecond');
  t.ok(frames[1].time >= 0.0015, 'the 2 ms of the span are in it');
  t.equal(Math.round(rec.duration_ms * 1000) / 1000, rec.duration_ms, 'duration to the microsecond');

  // the same body, posted to perfwatch, reads back with the defaults filled in
  const res = await fetch(`${pw.url}/api/v1/performance/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-project-key': KEY }, body: JSON.stringify(got[0]!.body) });
  t.equal(res.status, 200);
  const stored = (await records(pw.url, '&route=/api/items/:id'))[0]!;
  const full = ((await (await fetch(`${pw.url}/api/v1/performance/records/${stored.id}`, { headers: auth })).json()) as any).data;
  t.match(full.tree.root_frame.children[0], { function: 'query', file_path_short: '', is_application_code: true, calls: 1, time: frames[1].time, self_time: frames[1].time, children: [] });
  t.ok(Math.abs(full.tree.root_frame.self_time - (frames[0].time - frames[1].time)) < 1e-9, 'self time: the time its children do not account for');

  // a pyinstrument tree (no self_time, no calls) reads the same way; concurrent children never make it negative
  const py = { function: 'GET /py', time: 0.01, children: [{ function: 'a', time: 0.004, children: [{ function: 'b', time: 0.003 }] }, { function: 'c', time: 0.005 }] };
  const busy = { function: 'GET /all', time: 0.002, children: [{ function: 'x', time: 0.002 }, { function: 'y', time: 0.002 }] };
  const base = { method: 'GET', status: 200, start_time: Date.now() / 1000, duration_ms: 10 };
  const posted = await fetch(`${pw.url}/api/v1/performance/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-project-key': KEY }, body: JSON.stringify({ records: [{ ...base, route: '/py', tree: { kind: 'instrumented', root_frame: py } }, { ...base, route: '/all', tree: { kind: 'instrumented', root_frame: busy } }] }) });
  t.equal(posted.status, 200);
  const read = async (route: string) => ((await (await fetch(`${pw.url}/api/v1/performance/records/${(await records(pw.url, `&route=${route}`))[0]!.id}`, { headers: auth })).json()) as any).data.tree.root_frame;
  const pyRoot = await read('/py');
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;
  t.ok(close(pyRoot.self_time, 0.001) && close(pyRoot.children[0].self_time, 0.001) && close(pyRoot.children[0].children[0].self_time, 0.003) && close(pyRoot.children[1].self_time, 0.005), `derived self times: ${JSON.stringify(pyRoot)}`);
  t.equal((await read('/all')).self_time, 0, 'children adding up to more than their parent: 0, not below');
});

t.test('a request\'s node count and max_nodes hold at every depth; a request inside a request is part of it', async (t) => {
  const { url, got } = await jsonReceiver(t);
  const send = async (maxNodes: number) => {
    const collector = new Collector({ project_key: KEY, api_endpoint: `${url}/api/v1/performance/collect`, flush_interval: 60, max_nodes: maxNodes }, {});
    t.teardown(() => collector.shutdown());
    const leaf = collector.monitor(function leaf() {
      return 1;
    });
    const inner = collector.monitor(async function inner() {
      await sleep(1);
      leaf();
    });
    const outer = collector.monitor(async function outer() {
      await inner();
      await collector.request({ method: 'GET', route: '/nested' }, () => leaf()); // part of this request
    });
    await collector.request({ method: 'GET', route: '/deep' }, () => outer());
    await collector.flush();
    return { records: got.splice(0).flatMap((g) => g.body.records), stats: collector.stats() };
  };
  const whole = await send(100);
  t.equal(whole.records.length, 1, 'one record: the inner request is part of the outer one');
  const names = (f: any): unknown => [f.function, (f.children ?? []).map(names)];
  t.same(names(whole.records[0].tree.root_frame), ['GET /deep', [['outer', [['inner', [['leaf', []]]], ['leaf', []]]]]]);
  t.match(whole.records[0].tree, { node_count: 5, truncated: false }, 'every node counted, however deep');
  t.match(whole.stats, { recorded: 1, sampled_out: 0 });

  const cut = await send(3);
  t.same(names(cut.records[0].tree.root_frame), ['GET /deep', [['outer', [['inner', []]]]]]);
  t.match(cut.records[0].tree, { node_count: 3, truncated: true }, 'the cap is the request\'s, and a cut deep down says so');
});

t.test('a request\'s CPU time is its process CPU: a busy request has its own, the idle one right after it has none of it', async (t) => {
  const { url, got } = await jsonReceiver(t);
  const collector = new Collector({ project_key: KEY, api_endpoint: `${url}/api/v1/performance/collect`, flush_interval: 60 }, {});
  t.teardown(() => collector.shutdown());
  const busy = () => burnCpu(30);
  await sleep(5);
  // the second request begins right after the first ends: its start is bridged from the first one's end reading
  await collector.request({ method: 'GET', route: '/busy' }, busy);
  // what the process spends meanwhile (on a busy machine its other threads can spend much while this one sleeps)
  const before = processCpuMs();
  await collector.request({ method: 'GET', route: '/idle' }, () => sleep(30));
  const around = processCpuMs() - before;
  await sleep(20);
  await collector.request({ method: 'GET', route: '/busy-after-a-pause' }, busy); // its start is read
  await collector.flush();
  const cpu: Record<string, number> = Object.fromEntries(got.flatMap((g) => g.body.records).map((r: { route: string; cpu_time_ms: number }) => [r.route, r.cpu_time_ms]));
  t.ok(cpu['/busy']! >= 30, `the busy request: at least its 30 ms (${cpu['/busy']})`);
  t.ok(cpu['/busy-after-a-pause']! >= 30, `after a pause too (${cpu['/busy-after-a-pause']})`);
  t.ok(cpu['/idle']! <= around + 1, `the idle request: the process' CPU around it (${around.toFixed(3)}), none of the busy one's (${cpu['/idle']})`);
});

t.test('projects through the admin API: a key shown once, used by the SDK, refused after the delete; config projects read-only', async (t) => {
  const pw = await agent(t);
  const api = (method: string, p: string, body?: unknown, headers: Record<string, string> = auth) => fetch(`${pw.url}/api/v1/performance${p}`, { method, headers: { ...headers, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const made = await api('POST', '/projects', { name: 'mobile' });
  t.equal(made.status, 200);
  const { key, name } = ((await made.json()) as any).data;
  t.equal(name, 'mobile');
  t.match(key, /^pwk_[\w-]{32}$/);
  const listed = ((await (await api('GET', '/projects')).json()) as any).data.projects;
  t.same(listed.map((p: { name: string; source: string }) => `${p.name}:${p.source}`), ['shop:config', 'blog:config', 'mobile:api']);
  t.notOk(JSON.stringify(listed).includes(key), 'the key is never listed');

  const collector = new Collector({ project_key: key, api_endpoint: `${pw.url}/api/v1/performance/collect`, flush_interval: 60 }, {});
  t.teardown(() => collector.shutdown());
  await collector.request({ method: 'GET', route: '/m' }, () => 1);
  await collector.flush();
  t.equal((await records(pw.url, '&project=mobile')).length, 1, 'the SDK sends with the new key');

  t.equal((await api('POST', '/projects', { name: 'mobile' })).status, 409, 'PROJECT_EXISTS');
  t.equal((await api('POST', '/projects', { name: 'shop' })).status, 409, 'a config name too');
  const bad = await api('POST', '/projects', { name: 'no spaces' });
  t.equal(bad.status, 400);
  t.match(((await bad.json()) as any).error, { code: 'INVALID_JSON', message: /^name: / });
  t.equal((await api('POST', '/projects', { name: 'x' }, {})).status, 401, 'admin only');
  t.equal((await api('DELETE', '/projects/shop')).status, 409, 'PROJECT_READ_ONLY');
  t.equal((await api('DELETE', '/projects/nope')).status, 404);

  t.equal((await api('DELETE', '/projects/mobile')).status, 200);
  const refused = await fetch(`${pw.url}/api/v1/performance/collect`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-project-key': key }, body: JSON.stringify({ route: '/m', method: 'GET', status: 200, start_time: Date.now() / 1000, duration_ms: 1 }) });
  t.equal(refused.status, 401, 'a deleted project\'s key is refused');
  t.equal((await records(pw.url, '&project=mobile')).length, 1, 'its records stay until they age out');
});

t.test('the apps\' requests and their routes\' sampled CPU leave in the OTLP push too', async (t) => {
  const rx = await otlpJsonReceiver(t);
  const pw2 = await startApp(t, { profiling: { projects: [{ name: 'shop', key: KEY }] }, otlp: { endpoint: `${rx.url}/v1/metrics`, protocol: 'http/json', interval: '1s' } });
  const now = Date.now() / 1000;
  const tree = { kind: 'sampled', interval_ms: 10, sample_count: 3, root_frame: { function: 'GET /api/users/:id', time: 0.03, self_time: 0.03, children: [] } };
  const res = await fetch(`${pw2.url}/api/v1/performance/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-project-key': KEY },
    body: JSON.stringify({
      records: [
        { route: '/api/users/:id', method: 'GET', status: 200, start_time: now, duration_ms: 12 },
        { route: '/api/users/:id', method: 'GET', status: 503, start_time: now, duration_ms: 40 },
      ],
      route_profiles: [{ route: '/api/users/:id', method: 'GET', window_start: now - 5, window_end: now, requests: 2, tree }],
    }),
  });
  t.equal(res.status, 200);
  const metricsOf = rx.metrics;
  await waitFor(() => metricsOf('http.server.request.duration').length > 0 && metricsOf('perfwatch.profiling.sampled_cpu').length > 0, { timeoutMs: 15_000, what: 'an export with the apps\' requests' });
  // OTLP/JSON writes an int attribute as a string or a number: read both as numbers
  const attrs = (p: any) => Object.fromEntries(p.attributes.map((a: any) => [a.key, a.value.intValue !== undefined ? Number(a.value.intValue) : Object.values(a.value)[0]]));
  const points = metricsOf('http.server.request.duration').at(-1).histogram.dataPoints.map((p: any) => ({ ...attrs(p), count: Number(p.count), sum: p.sum }));
  t.same(
    points.sort((a: any, b: any) => Number(a['http.response.status_code']) - Number(b['http.response.status_code'])),
    [
      { 'perfwatch.profiling.project': 'shop', 'http.route': '/api/users/:id', 'http.request.method': 'GET', 'http.response.status_code': 200, count: 1, sum: 0.012 },
      { 'perfwatch.profiling.project': 'shop', 'http.route': '/api/users/:id', 'http.request.method': 'GET', 'http.response.status_code': 503, 'error.type': '503', count: 1, sum: 0.04 },
    ],
    'one point per status, the semantic conventions\' attributes',
  );
  const cpu = metricsOf('perfwatch.profiling.sampled_cpu').at(-1).sum.dataPoints[0];
  t.match(attrs(cpu), { 'perfwatch.profiling.project': 'shop', 'http.route': '/api/users/:id', 'http.request.method': 'GET' });
  t.equal(cpu.asDouble, 0.03);
});
