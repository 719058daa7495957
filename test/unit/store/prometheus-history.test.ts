import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../../src/config/load.js';
import { StartupError } from '../../../src/model/errors.js';
import { Registry } from 'prom-client';
import { createHistoryBackend } from '../../../src/store/history-backend.js';
import { LocalHistoryReader } from '../../../src/store/history-reader.js';
import { PluginHistory } from '../../../src/store/plugin-history.js';
import { BackendError, parseAnswer, PrometheusApi } from '../../../src/store/prometheus-api.js';
import { joinPluginSamples, PrometheusHistoryReader, type BackendOptions, type QueryApi } from '../../../src/store/prometheus-history.js';
import { SeriesStore } from '../../../src/store/series-store.js';
import { tempDir } from '../../helpers/index.js';

/** A stand-in for the query API: records each request (path, headers, form parameters) and answers with `reply`. */
async function standIn(t: { teardown(fn: () => unknown): void }, reply: (params: URLSearchParams, req: IncomingMessage) => { status?: number; body: unknown }, tls?: { key: string; cert: string }) {
  const seen: Array<{ path: string; headers: IncomingMessage['headers']; params: URLSearchParams }> = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const params = new URLSearchParams(body);
      seen.push({ path: req.url ?? '', headers: req.headers, params });
      const r = reply(params, req);
      res.writeHead(r.status ?? 200, { 'content-type': 'application/json' }).end(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
    });
  };
  const server = tls ? createHttps(tls, handler) : createHttp(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function caught(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

/** A successful range answer holding `result`. */
const matrix = (result: unknown[]) => ({ body: { status: 'success', data: { resultType: 'matrix', result } } });

const empty = { status: 'success', data: { resultType: 'matrix', result: [] } };

function options(api: PrometheusApi, over: Partial<BackendOptions> = {}): BackendOptions & { fallbacks: string[] } {
  const fallbacks: string[] = [];
  const local = new LocalHistoryReader({ store: new SeriesStore({ rawCapacity: 60, tiers: [{ bucketMs: 60_000, capacity: 10 }] }), plugins: new PluginHistory({ capacity: 10, memTotalBytes: 1 << 30 }) });
  return { api, job: 'perfwatch', instance: 'h:1', hostname: 'h', scrapeIntervalMs: 5000, maxPoints: 11_000, mountpoint: '/', local, onQuery: () => {}, onFallback: (r) => fallbacks.push(r), retryAfterMs: 0, health: { downUntilMs: 0, lastError: null }, fallbacks, ...over };
}

const api = (url: string, extra: Partial<ConstructorParameters<typeof PrometheusApi>[0]> = {}) => new PrometheusApi({ url, timeoutMs: 1000, headers: {}, tls: { insecureSkipVerify: false }, ...extra });

t.test('history: one query_range, PromQL from the catalogue, buckets aligned to the step', async (t) => {
  const s = await standIn(t, () =>
    matrix([
      { metric: { instance: 'h:1', pw_column: '0.0' }, values: [[1_700_000_040, '0.25'], [1_700_000_100, '0.125']] },
      { metric: { instance: 'h:1', pw_column: '0.1' }, values: [[1_700_000_100, '1234567']] },
    ]),
  );
  const a = api(s.url);
  t.teardown(() => a.close());
  const reader = new PrometheusHistoryReader(options(a));
  const [cpu, sent, rate, procs, disk] = await reader.range(['cpu_percent', 'network_bytes_sent', 'network_upload_rate', 'processes_total', 'disk_usage_percent'], 1_700_000_010_500, 1_700_000_100_000, 60_000);
  t.same(cpu, [{ name: 'cpu_percent', times: [1_699_999_980_000, 1_700_000_040_000], hundredths: [25, 13] }], 'evaluated at b + step, reported at b; values ×100 in hundredths');
  t.same(sent, [{ name: 'network_bytes_sent', times: [1_700_000_040_000], hundredths: [123456700] }]);
  t.same([rate, procs, disk], [[], [], []], 'no series, no points');
  t.equal(reader.source, 'prometheus');
  const { params, path: p, headers } = s.seen[0]!;
  t.equal(p, '/api/v1/query_range');
  t.equal(headers.authorization, undefined);
  t.equal(params.get('start'), '1700000040.000', 'start floored to the step, plus the step');
  t.equal(params.get('end'), '1700000160.000');
  t.equal(params.get('step'), '60.000');
  t.equal(params.get('timeout'), '1000ms');
  const query = params.get('query')!;
  const sel = 'job="perfwatch",instance="h:1"';
  for (const part of [
    `label_replace(avg_over_time(perfwatch_host_cpu_usage_ratio{${sel}}[59999ms]) * 100, "pw_column", "0.0", "", "")`,
    `label_replace(sum by (instance) (last_over_time(perfwatch_host_network_transmit_bytes_total{${sel},device!="lo"}[59999ms])), "pw_column", "0.1", "", "")`,
    `rate(perfwatch_host_network_transmit_bytes_total{${sel},device!="lo"}[60000ms])`,
    `avg_over_time(perfwatch_host_processes{${sel}}[59999ms])`,
    `perfwatch_host_filesystem_usage_ratio{${sel},mountpoint="/"}`,
  ]) {
    t.ok(query.includes(part), part);
  }
  t.equal(query.split(' or ').length, 5, 'one query for five columns');
  t.match(query, /^\(\(label_replace\(.*\) or label_replace\(.*\)\) or \(label_replace\(.*\) or \(label_replace\(.*\) or label_replace\(.*\)\)\)\)$/, 'joined as a balanced tree');
});

t.test('host=: another agent by instance or by host name; names that are not label values are refused', async (t) => {
  const s = await standIn(t, () => ({ body: empty }));
  const a = api(s.url);
  t.teardown(() => a.close());
  await new PrometheusHistoryReader(options(a), 'web-2:9470').range(['cpu_percent'], 0, 60_000, 60_000);
  t.match(s.seen.at(-1)!.params.get('query'), /instance="web-2:9470"/);
  await new PrometheusHistoryReader(options(a), 'web.2').range(['cpu_percent'], 0, 60_000, 60_000);
  t.match(s.seen.at(-1)!.params.get('query'), /instance=~"web\\\\.2\(:\[0-9\]\+\)\?"/, 'a host name matches any port, its dots escaped');
  t.equal(new PrometheusHistoryReader(options(a), 'h').own, true, 'this host is this agent');
  t.equal(new PrometheusHistoryReader(options(a), 'web-2').own, false);
  t.throws(() => new PrometheusHistoryReader(options(a), 'a"} or vector(1) or {b="'), { code: 'INVALID_PARAMETER', field: 'host' });
  t.rejects(new PrometheusHistoryReader(options(a), 'web-2').range(['cpu_percent'], 0, 20_000_000, 1000), { code: 'INVALID_PARAMETER', field: 'interval' }, 'more points than max_points');
});

t.test('auth, headers and TLS reach the backend', async (t) => {
  const dir = tempDir(t);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=prom.test', '-addext', 'subjectAltName=DNS:prom.test', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  const tls = { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  const s = await standIn(t, () => ({ body: empty }), tls);
  writeFileSync(path.join(dir, 'password'), 'secret\n');
  const registry = new Registry();
  const local = options(api(s.url)).local;
  const made = createHistoryBackend({
    backend: 'prometheus',
    prometheus: { url: s.url, timeout: 1000, headers: { 'X-Scope-OrgID': 'tenant-1' }, basic_auth: { username: 'pw', password_file: path.join(dir, 'password') }, tls: { ca_file: path.join(dir, 'cert.pem'), server_name: 'prom.test', insecure_skip_verify: false }, job: 'perfwatch', max_points: 11_000, retry_after: 0 },
    local,
    retentionDays: 7,
    hostname: 'h',
    port: () => 9470,
    collectionIntervalMs: 1000,
    mountpoint: '/',
    registry,
    env: {},
    log: () => {},
  });
  t.teardown(() => made.component.stop());
  const reader = made.readers.forRequest();
  await reader.range(['cpu_percent'], 0, 60_000, 60_000);
  t.equal(reader.source, 'prometheus', 'the certificate was checked against ca_file and server_name');
  const h = s.seen.at(-1)!.headers;
  t.equal(h.authorization, `Basic ${Buffer.from('pw:secret').toString('base64')}`);
  t.equal(h['x-scope-orgid'], 'tenant-1');
  t.match(s.seen.at(-1)!.params.get('query'), /instance="h:9470"/, 'instance defaults to <hostname>:<port>');

  // the same server without its CA: refused, and this agent's answer falls back to the local ring
  const untrusted = options(api(s.url, { bearerToken: 'tok' }));
  const r2 = new PrometheusHistoryReader(untrusted);
  t.same(await r2.range(['cpu_percent'], 0, 60_000, 60_000), [[]]);
  t.equal(r2.source, 'local-fallback');
  t.same(untrusted.fallbacks, ['unavailable']);
  t.match(await registry.getSingleMetricAsString('perfwatch_history_backend_requests_total'), /outcome="ok"} 1/);

  const err = caught(
    () => createHistoryBackend({ backend: 'prometheus', prometheus: { url: s.url, timeout: 1000, headers: {}, bearer_token_file: path.join(dir, 'missing'), tls: { insecure_skip_verify: false }, job: 'perfwatch', max_points: 11_000, retry_after: 0 }, local, retentionDays: 7, hostname: 'h', port: () => 1, collectionIntervalMs: 1000, mountpoint: '/', registry: new Registry(), env: {}, log: () => {} }),
  );
  t.ok(err instanceof StartupError && err.message.includes(path.join(dir, 'missing')), 'a missing secret file stops start-up, naming the file');
});

t.test('refusals and garbage: bad_response or unavailable, this agent falls back, another is HISTORY_BACKEND_UNAVAILABLE', async (t) => {
  let answer: { status?: number; body: unknown } = { status: 400, body: { status: 'error', errorType: 'bad_data', error: 'exceeded maximum resolution' } };
  const s = await standIn(t, () => answer);
  const a = api(s.url);
  t.teardown(() => a.close());
  const o = options(a);
  const own = new PrometheusHistoryReader(o);
  await own.summarize({ gauges: ['cpu_percent'], counters: ['network_bytes_sent'], trend: true }, 0, 3_600_000, 10_000);
  t.equal(own.source, 'local-fallback');
  t.same(o.fallbacks, ['bad_response'], 'two failed queries, one fallback');
  answer = { status: 502, body: '<html>bad gateway</html>' };
  await t.rejects(new PrometheusHistoryReader(o, 'web-2:1').plugin('p', { limit: 5 }), { code: 'HISTORY_BACKEND_UNAVAILABLE', message: /unavailable: HTTP 502/ });
  t.throws(() => parseAnswer(200, '{"status":"success","data":{}}'), BackendError);
  t.equal(caught(() => parseAnswer(200, 'not json')).reason, 'bad_response');
});

t.test('retry_after: after a timeout the backend is left alone, then asked again', async (t) => {
  let delay = 300;
  const s = await standIn(t, () => ({ body: empty }));
  const slow: QueryApi = {
    query: () => new Promise((_, reject) => setTimeout(() => reject(new BackendError('timeout', 'no answer within 200 ms')), delay)),
    queryRange: (expr, start, end, step) => (delay ? new Promise((_, reject) => setTimeout(() => reject(new BackendError('timeout', 'no answer within 200 ms')), delay)) : a.queryRange(expr, start, end, step)),
  };
  const a = api(s.url);
  t.teardown(() => a.close());
  const o = options(a, { api: slow, retryAfterMs: 400 });
  const timed = async (host?: string) => {
    const r = new PrometheusHistoryReader(o, host);
    const t0 = performance.now();
    const out = await r.range(['cpu_percent'], 0, 60_000, 60_000).then(() => r.source, (err: { code: string }) => err.code);
    return { out, ms: performance.now() - t0 };
  };
  const first = await timed();
  t.same(first.out, 'local-fallback');
  t.ok(first.ms >= 250, `the first waited for the backend (${first.ms.toFixed(0)} ms)`);
  const second = await timed();
  t.same(second.out, 'local-fallback');
  t.ok(second.ms < 100, `the next did not (${second.ms.toFixed(1)} ms)`);
  t.equal((await timed('web-2:1')).out, 'HISTORY_BACKEND_UNAVAILABLE', 'another agent: 503 at once');
  t.same(o.fallbacks, ['timeout', 'backend_down']);
  t.equal(s.seen.length, 0);
  delay = 0;
  await new Promise((r) => setTimeout(r, 450));
  t.same((await timed()).out, 'prometheus', 'asked again after retry_after, and it answered');
  t.equal(s.seen.length, 1);
});

t.test('summary: statistics pinned to the end of the range, trend and counters by bucket, in one range query', async (t) => {
  const col = (tag: string, values: Array<[number, string]>) => ({ metric: { pw_column: `0.${tag}` }, values });
  const s = await standIn(t, () =>
    matrix([
      col('g0avg', [[100, '22.5']]),
      col('g0max', [[100, '40']]),
      col('g0min', [[100, '5']]),
      col('g0last', [[100, '31']]),
      col('g0', [[200, '10'], [300, '20'], [400, '30']]),
      col('c0', [[200, '1000'], [400, '3000']]),
    ]),
  );
  const a = api(s.url);
  t.teardown(() => a.close());
  const r = await new PrometheusHistoryReader(options(a)).summarize({ gauges: ['cpu_percent', 'memory_percent'], counters: ['network_bytes_recv'], trend: true }, 0, 300_000, 100_000);
  t.same(r.gauges, [{ current: 31, average: 22.5, maximum: 40, minimum: 5, trend: 'increasing' }, null], 'a gauge without data is null, as locally');
  t.same(r.counters, [{ throughput: 10, total: 3000 }], '(3000 − 1000) bytes over 200 s');
  t.equal(s.seen.length, 1, 'one request');
  t.equal(s.seen[0]!.path, '/api/v1/query_range');
  const query = s.seen[0]!.params.get('query')!;
  t.ok(query.includes('max_over_time(perfwatch_host_cpu_usage_ratio{job="perfwatch",instance="h:1"}[300000ms] @ 300.000) * 100'), 'statistics over the whole range');
  t.ok(query.includes(') and on() (vector(time()) < 150.000)'), 'kept at the first step only, by one filter');
  t.equal(query.split('and on()').length, 2);
  t.ok(query.includes('avg_over_time(perfwatch_host_cpu_usage_ratio{job="perfwatch",instance="h:1"}[99999ms]) * 100'), 'trend buckets');
});

t.test('a history answer and its summary block leave as one request', async (t) => {
  const s = await standIn(t, () => ({ body: empty }));
  const a = api(s.url);
  t.teardown(() => a.close());
  const reader = new PrometheusHistoryReader(options(a));
  await Promise.all([reader.range(['cpu_percent', 'load_1m'], 0, 120_000, 60_000), reader.summarize({ gauges: ['cpu_percent', 'memory_percent'], counters: [], trend: false }, 0, 120_000, 60_000)]);
  t.equal(s.seen.length, 1);
  t.equal(s.seen[0]!.params.get('query')!.split(' or ').length, 2 + 2 * 4, 'two columns and four statistics of two gauges');
  t.equal(s.seen[0]!.params.get('query')!.split('@').length, 1 + 2 * 4, 'the statistics pinned to the end');
  await reader.range(['cpu_percent'], 0, 180_000, 60_000);
  t.equal(s.seen.length, 2, 'a later call is its own request');
});

const series = (name: string, points: Array<[number, number]>) => ({ metric: { __name__: name }, times: Float64Array.from(points, (p) => p[0]), values: Float64Array.from(points, (p) => p[1]) });

t.test('plugin samples: the four series joined by scrape time, newest first, a partial row left out', async (t) => {
  const rows = joinPluginSamples(
    [
      series('perfwatch_plugin_cpu_usage_ratio', [[1000, 0.5], [2000, 0.25], [3000, 0.1]]),
      series('perfwatch_plugin_resident_memory_bytes', [[1000, 1048576], [2000, 2097152]]),
      series('perfwatch_plugin_memory_usage_ratio', [[1000, 0.01], [2000, 0.02]]),
      series('perfwatch_plugin_threads', [[2000, 7]]),
    ],
    1500,
  );
  t.same(rows, [{ timestampMs: 2000, cpuPercent: 25, rssBytes: 2097152, memoryPercent: 2, threads: 7 }]);
});

t.test('config: a prometheus backend needs its url; basic auth and bearer exclude each other; files resolve', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'perfwatch.yaml');
  writeFileSync(file, 'history: { backend: prometheus }\n');
  const noUrl = await loadConfig({ file, env: {} }).catch((e: unknown) => e);
  t.ok(noUrl instanceof ConfigError && noUrl.problems.some((p) => p.includes('history.prometheus.url')), 'url named');
  writeFileSync(file, 'history:\n  backend: prometheus\n  prometheus: { url: "http://p:9090", bearer_token_file: t, basic_auth: { username: u, password_file: p } }\n');
  const both = await loadConfig({ file, env: {} }).catch((e: unknown) => e);
  t.ok(both instanceof ConfigError && both.problems.some((p) => p.includes('history.prometheus.bearer_token_file')), 'both auths refused');
  writeFileSync(file, 'history:\n  backend: prometheus\n  prometheus: { url: "http://p:9090", bearer_token_file: secrets/t, tls: { ca_file: ca.pem } }\n');
  const c = await loadConfig({ file, env: {} });
  t.equal(c.history.prometheus?.bearer_token_file, path.join(dir, 'secrets/t'));
  t.equal(c.history.prometheus?.tls.ca_file, path.join(dir, 'ca.pem'));
  t.equal(c.history.prometheus?.timeout, 5000);
});
