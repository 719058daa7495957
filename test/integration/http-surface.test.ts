import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { ADMIN_ROUTE } from '../../src/http/auth.js';
import { auth, getJson, nodePlugin, startApp, tempDir, waitFor } from '../helpers/index.js';

const run = promisify(execFile);

/** Runs `promtool check metrics` on the text; resolves to its combined output (empty when clean). */
async function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') reject(new Error('promtool not installed: .ci/run installs the prometheus package'));
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(text);
  });
}

t.test('every admin route answers 401 without the token, and the route list comes from the routers', async (t) => {
  const pw = await startApp(t, { plugins: [nodePlugin('p', 'idle.cjs')] });
  const adminRoutes: Array<{ method: string; path: string }> = [];
  for (const router of pw.routers) {
    for (const layer of router.stack) {
      if (!layer.stack.some((fn) => (fn as unknown as Record<symbol, unknown>)[ADMIN_ROUTE])) continue;
      for (const method of layer.methods.filter((m) => m !== 'HEAD')) adminRoutes.push({ method, path: String(layer.path) });
    }
  }
  // the seeds fix which routes are admin: these must be among them
  const expected = [
    'POST /plugin/:plugin_id/start',
    'POST /plugin/:plugin_id/stop',
    'POST /plugin/:plugin_id/reload',
    'GET /plugin/metrics',
    'GET /plugin/metrics/:plugin_id',
    'GET /plugin/metrics/:plugin_id/history',
  ];
  const found = adminRoutes.map((r) => `${r.method} ${r.path}`);
  expected.push('POST /api/v1/performance/metrics', 'POST /api/v1/performance/metrics/batch');
  for (const e of expected) t.ok(found.includes(e), `${e} is an admin route`);
  const pid = pw.supervisor.get('p').pid;
  for (const r of adminRoutes) {
    const url = pw.url + r.path.replace(':plugin_id', 'p');
    for (const headers of [{}, { Authorization: 'Bearer wrong' }, { Authorization: 'Basic dGVzdDp0ZXN0' }] as Array<Record<string, string>>) {
      const res = await fetch(url, { method: r.method, headers });
      t.equal(res.status, 401, `${r.method} ${r.path} ${JSON.stringify(headers)}`);
      t.match(res.headers.get('www-authenticate'), /^Bearer/);
      const body = (await res.json()) as { code?: string; error?: { code: string } };
      t.equal(body.code ?? body.error?.code, 'UNAUTHORIZED', 'in the envelope of the route family');
    }
  }
  t.equal(pw.supervisor.get('p').pid, pid, 'refused stop/reload changed nothing');
  t.equal(pw.supervisor.get('p').state === 'running' || pw.supervisor.get('p').state === 'starting', true);
  // open routes stay open
  for (const p of ['/plugins', '/plugin/status', '/metrics', '/healthz']) t.equal((await fetch(pw.url + p)).status, 200, p);
});

t.test('unknown routes get 404 and wrong methods 405 with Allow, in the family envelope', async (t) => {
  const pw = await startApp(t);
  const nf = await getJson(`${pw.url}/nope`);
  t.equal(nf.status, 404);
  t.same(nf.body, { error: { code: 'NOT_FOUND', message: 'no route for GET /nope' } });
  const legacy = await getJson(`${pw.url}/plugin/x/y/z`);
  t.equal(legacy.status, 404);
  t.equal(legacy.body.code, 'NOT_FOUND');
  t.type(legacy.body.detail, 'string');
  const res = await fetch(`${pw.url}/plugins`, { method: 'DELETE' });
  t.equal(res.status, 405);
  t.match(res.headers.get('allow'), /GET/);
  t.equal(((await res.json()) as { code: string }).code, 'METHOD_NOT_ALLOWED');
  const perf = await fetch(`${pw.url}/api/v1/performance/stats`, { method: 'DELETE' });
  t.equal(perf.status, 405);
  const perfBody = (await perf.json()) as { status: string; error: { code: string; message: string }; timestamp: string };
  t.match(perfBody, { status: 'error', error: { code: 'METHOD_NOT_ALLOWED', message: /DELETE is not allowed on \/api\/v1\/performance\/stats; allowed: .*GET/ } });
  t.match(perfBody.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'errors stamped in UTC like the family\'s successes');
});

t.test('methods no route serves (TRACE, PROPFIND) answer 501 through the same formatter, in the family envelope', async (t) => {
  const pw = await startApp(t);
  for (const [p, envelope] of [['/plugins', 'plugin'], ['/api/v1/performance/stats', 'performance'], ['/metrics', 'plain']] as const) {
    for (const method of ['TRACE', 'PROPFIND']) {
      // fetch refuses TRACE: a plain http request, as curl -X TRACE sends it
      const res = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
        const req = request(pw.url + p, { method }, (r) => {
          let text = '';
          r.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: r.statusCode!, type: String(r.headers['content-type']), text }));
        });
        req.on('error', reject).end();
      });
      t.equal(res.status, 501, `${method} ${p}`);
      t.match(res.type, /json/, 'not a plain-text 501');
      const body = JSON.parse(res.text) as Record<string, any>;
      const code = envelope === 'plugin' ? body.code : body.error.code;
      t.equal(code, 'NOT_IMPLEMENTED', `${method} ${p} in the ${envelope} envelope`);
      if (envelope === 'plugin') t.type(body.detail, 'string');
    }
  }
});

t.test('plugin_id given twice is refused, not read as "every plugin"', async (t) => {
  const pw = await startApp(t, { plugins: [nodePlugin('a', 'idle.cjs'), nodePlugin('b', 'idle.cjs')] });
  const r = await getJson(`${pw.url}/plugin/status?plugin_id=a&plugin_id=b`);
  t.equal(r.status, 400);
  t.match(r.body, { code: 'INVALID_PARAMETER', detail: /plugin_id must be given once/ });
});

t.test('healthz and readyz', async (t) => {
  const pw = await startApp(t, { collection: { interval: '200ms' } });
  t.same((await getJson(`${pw.url}/healthz`)).body, { status: 'ok' });
  await pw.nextTick();
  const r = await getJson(`${pw.url}/readyz`);
  t.equal(r.status, 200);
  t.same(r.body, { status: 'ready' });
});

t.test('/metrics passes promtool, in classic and after OpenMetrics, gzipped or not', async (t) => {
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    plugins: [nodePlugin('up1', 'idle.cjs'), nodePlugin('down1', 'idle.cjs', { autostart: false }), nodePlugin('gone', 'idle.cjs')],
  });
  await pw.nextTick();
  await pw.nextTick();
  await fetch(`${pw.url}/plugin/gone/stop`, { method: 'POST', headers: auth });
  await pw.nextTick();
  await new Promise((r) => setTimeout(r, 1100)); // up1 passes start_grace
  await pw.nextTick();

  const classic = await fetch(`${pw.url}/metrics`, { headers: { 'Accept-Encoding': 'identity' } });
  t.match(classic.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text1 = await classic.text();
  const check1 = await promtoolCheck(text1);
  t.equal(check1.output, '', 'promtool check metrics reports nothing');
  t.equal(check1.code, 0);

  const om = await fetch(`${pw.url}/metrics`, { headers: { Accept: 'application/openmetrics-text; version=1.0.0', 'Accept-Encoding': 'identity' } });
  t.match(om.headers.get('content-type'), /^application\/openmetrics-text/);
  const omText = await om.text();
  t.match(omText, /# EOF\n$/);
  t.match(omText, /# TYPE perfwatch_plugin_restarts counter\nperfwatch_plugin_restarts_total\{plugin_id="up1"\} 0/);

  // the trap: prom-client renames counters in place for OpenMetrics; a classic scrape afterwards must be intact
  await pw.nextTick();
  const text2 = await (await fetch(`${pw.url}/metrics`)).text();
  t.match(text2, /# TYPE perfwatch_plugin_restarts_total counter/);
  t.match(text2, /# TYPE process_cpu_seconds_total counter/);
  const check2 = await promtoolCheck(text2);
  t.equal(check2.output, '', 'classic after OpenMetrics still passes promtool');

  const gz = await fetch(`${pw.url}/metrics`, { headers: { 'Accept-Encoding': 'gzip' }, decompress: false } as RequestInit);
  // fetch decodes gzip itself; check the header and that raw bytes would be gzip via a plain http request
  t.equal(gz.headers.get('content-encoding'), 'gzip');
  const raw = await new Promise<Buffer>((resolve, reject) => {
    import('node:http').then(({ get }) =>
      get(`${pw.url}/metrics`, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject),
    );
  });
  t.match(gunzipSync(raw).toString(), /perfwatch_plugin_up\{plugin_id="up1"\} 1/);

  // configured but stopped plugins keep up 0, state and restarts; resource gauges disappear
  for (const id of ['down1', 'gone']) {
    t.match(text2, new RegExp(`perfwatch_plugin_up\\{plugin_id="${id}"\\} 0`), `${id} up 0`);
    t.match(text2, new RegExp(`perfwatch_plugin_state\\{plugin_id="${id}",state="stopped"\\} 1`));
    t.match(text2, new RegExp(`perfwatch_plugin_restarts_total\\{plugin_id="${id}"\\} 0`));
    t.notMatch(text2, new RegExp(`perfwatch_plugin_resident_memory_bytes\\{plugin_id="${id}"\\}`), `${id} has no memory gauge`);
    t.notMatch(text2, new RegExp(`perfwatch_plugin_cpu_usage_ratio\\{plugin_id="${id}"\\}`));
  }
  t.match(text2, /perfwatch_plugin_resident_memory_bytes\{plugin_id="up1"\} \d+/);
  t.match(text2, /perfwatch_plugin_info\{plugin_id="up1",name="up1",version="0.0.0"\} 1/);
  t.match(text2, /perfwatch_build_info\{version="[^"]+",nodejs_version="v20/);
  t.match(text2, /perfwatch_collection_cycle_duration_seconds_count \d+/);

  // the same sample feeds the JSON API and /metrics
  const json = await getJson(`${pw.url}/plugin/metrics/up1`, auth);
  const text3 = await (await fetch(`${pw.url}/metrics`)).text();
  const rss = Number(/perfwatch_plugin_resident_memory_bytes\{plugin_id="up1"\} (\d+)/.exec(text3)![1]);
  const json2 = await getJson(`${pw.url}/plugin/metrics/up1`, auth);
  if (json.body.metrics.timestamp === json2.body.metrics.timestamp) {
    t.equal(json.body.metrics.memory_mb, Math.round((rss / 1048576) * 100) / 100, 'memory_mb is the exported RSS, rounded');
  }
});

t.test('concurrent scrapes are served from one render per tick', async (t) => {
  const pw = await startApp(t, { collection: { interval: '10s' }, plugins: [nodePlugin('a', 'idle.cjs')] });
  await waitFor(async () => (await fetch(`${pw.url}/readyz`)).status === 200, { what: 'first tick collected' });
  await (await fetch(`${pw.url}/metrics`)).text(); // the first tick's render (it yields between families) is done
  const before = (await pw.exposition.registry.getSingleMetric('perfwatch_exposition_render_duration_seconds')!.get()).values[0]!.value;
  const bodies = await Promise.all(Array.from({ length: 16 }, () => fetch(`${pw.url}/metrics`).then((r) => r.text())));
  t.equal(new Set(bodies).size, 1, 'all sixteen got the same bytes');
  const after = (await pw.exposition.registry.getSingleMetric('perfwatch_exposition_render_duration_seconds')!.get()).values[0]!.value;
  t.equal(after, before, 'no render happened for the scrapes');
});

t.test('promtool sees the difference: a broken exposition fails the check', async (t) => {
  const bad = await promtoolCheck('# TYPE foo_bytes counter\nfoo_bytes 1\n');
  t.not(bad.output, '', 'promtool complains about a counter without _total');
  const dir = tempDir(t);
  await writeFile(path.join(dir, 'x'), '');
  t.ok((await run('promtool', ['--version'])).stdout.length + 1);
});
