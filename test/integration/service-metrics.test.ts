import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { auth, fixture, getJson, otlpJsonReceiver, ROOT, startApp, tempDir, TOKEN, waitFor } from '../helpers/index.js';

const sdkPlugin = (id: string, extra: Record<string, unknown> = {}) => ({ id, command: process.execPath, args: ['--import', 'tsx', fixture('sdk-plugin.ts')], cwd: ROOT, start_grace: '100ms', stop_timeout: '3s', ...extra });
const service = async (url: string, id: string) => (await getJson(`${url}/plugin/${id}/service-metrics`, auth)).body;
const metrics = async (url: string) => (await fetch(`${url}/metrics`)).text();

t.test('a Node plugin reporting through perfwatch/plugin: seed 003 fields, /metrics RED series, OTLP, rules', async (t) => {
  const dir = tempDir(t);
  const modeFile = path.join(dir, 'mode');
  writeFileSync(modeFile, '');
  // OTLP/JSON receiver: the raw bodies, to find the call-duration histogram
  const rx = await otlpJsonReceiver(t);
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    service_metrics: { window: '2s', max_tools: 5 },
    otlp: { endpoint: `${rx.url}/v1/metrics`, protocol: 'http/json', interval: '1s' },
    plugins: [
      sdkPlugin('tools', { env: { MODE_FILE: modeFile }, health_checks: [{ name: 'beat', type: 'heartbeat', ttl: '2s', interval: '200ms' }] }),
      { id: 'quiet', command: 'sleep', args: ['1000'], start_grace: '100ms' },
    ],
  });

  const first = await waitFor(async () => {
    const s = await service(pw.url, 'tools');
    return s.total_calls > 20 && s;
  }, { timeoutMs: 30_000, what: async () => `calls reported; the plugin's stderr: ${(await getJson(`${pw.url}/plugin/tools/logs`, auth)).body.lines.join(' | ')}` });
  t.same(Object.keys(first).slice(0, 12), ['service_name', 'status', 'uptime', 'tools_count', 'active_connections', 'total_calls', 'failed_calls', 'avg_response_time', 'last_activity', 'error_rate', 'last_error', 'consecutive_failures'], 'seed 003\'s fields, in its order');
  t.match(first, { service_name: 'tools', status: 'running', tools_count: 3, failed_calls: 0, error_rate: 0, last_error: null, consecutive_failures: 0 });
  t.ok(first.avg_response_time > 0.001 && first.avg_response_time < 1, `avg_response_time in seconds (${first.avg_response_time})`);
  t.match(first.last_activity, /^\d{4}-\d\d-\d\dT/);
  t.ok(first.active_connections >= 0 && first.active_connections < 5);
  t.same(first.tools.map((x: any) => x.name).sort(), ['fetch', 'search']);
  await waitFor(async () => (await getJson(`${pw.url}/plugin/status?plugin_id=tools`)).body.health === 'healthy', { what: async () => `heartbeats through the report channel: ${JSON.stringify((await getJson(`${pw.url}/plugin/tools/health`, auth)).body)}` });

  await pw.nextTick();
  let text = await metrics(pw.url);
  t.match(text, /^perfwatch_plugin_calls_total\{plugin_id="tools",tool="search",outcome="ok"\} [1-9]\d*$/m);
  t.match(text, /^perfwatch_plugin_calls_total\{plugin_id="tools",tool="fetch",outcome="error"\} 0$/m);
  t.match(text, /^# TYPE perfwatch_plugin_call_duration_seconds histogram$/m);
  t.match(text, /^perfwatch_plugin_call_duration_seconds_bucket\{plugin_id="tools",tool="search",le="0\.025"\} [1-9]/m);
  const count = Number(/^perfwatch_plugin_call_duration_seconds_count\{plugin_id="tools",tool="search"\} (\d+)$/m.exec(text)?.[1]);
  const inf = Number(/^perfwatch_plugin_call_duration_seconds_bucket\{plugin_id="tools",tool="search",le="\+Inf"\} (\d+)$/m.exec(text)?.[1]);
  t.ok(count > 0 && count === inf, '_count equals the +Inf bucket');
  t.match(text, /^perfwatch_plugin_call_error_ratio\{plugin_id="tools"\} 0$/m);
  t.match(text, /^perfwatch_plugin_tools\{plugin_id="tools"\} 3$/m);
  t.notMatch(text, /plugin_id="quiet"\} .*\n(?=.*call)/, 'nothing for a plugin that never reported');
  t.notMatch(text, /perfwatch_plugin_calls_total\{plugin_id="quiet"/);

  // failures: the error rate, the last error, consecutive failures, and a rule on plugin_error_rate fires
  writeFileSync(modeFile, 'fail');
  const failing = await waitFor(async () => {
    const s = await service(pw.url, 'tools');
    return s.failed_calls > 10 && s.window.error_rate > 0.4 && s;
  }, { what: 'failures reported' });
  t.equal(failing.last_error, 'upstream 502');
  t.equal(failing.last_error_tool, 'fetch');
  t.ok(failing.error_rate > 0 && failing.error_rate < 0.5, 'lifetime error_rate');
  t.ok(Math.abs(failing.window.error_rate - 0.5) < 0.1, `the window's error rate near one call in two (${failing.window.error_rate})`);
  const rule = await fetch(`${pw.url}/api/v1/performance/alerts/rules`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'tools_errors', metric: 'plugin_error_rate', operator: 'greater_than', threshold: 0.1, level: 'error', selector: { plugin_id: 'tools' } }),
  });
  t.equal(rule.status, 200);
  const alert = await waitFor(async () => {
    const list = (await getJson(`${pw.url}/api/v1/performance/alerts`, auth)).body.data.alerts as any[];
    return list.find((a) => a.rule_id && /tools_errors|tools/.test(JSON.stringify(a)) && a.status === 'active');
  }, { what: 'an alert on the error rate' });
  t.match(JSON.stringify(alert), /tools/);

  // slow calls: p95 of the window, the mean
  writeFileSync(modeFile, 'slow');
  const slow = await waitFor(async () => {
    const s = await service(pw.url, 'tools');
    return s.window.p95_response_time > 5 && s.window.avg_response_time > 1 && s;
  }, { what: 'slow calls in the window' });
  t.ok(slow.window.p95_response_time <= 7.5, `p95 inside the 5–7.5 s bucket (${slow.window.p95_response_time} s)`);

  // the tool cap: past five distinct tools, calls count under "other"
  writeFileSync(modeFile, 'many');
  await waitFor(async () => /perfwatch_plugin_calls_total\{plugin_id="tools",tool="other",outcome="ok"\} [1-9]/.test(await metrics(pw.url)), { what: 'the other tool' });
  text = await metrics(pw.url);
  const tools = new Set([...text.matchAll(/^perfwatch_plugin_calls_total\{plugin_id="tools",tool="([^"]+)"/gm)].map((m) => m[1]));
  t.equal(tools.size, 6, `max_tools (5) names, then other (${[...tools].join(', ')})`);
  t.ok(['fetch', 'other', 'render', 'search'].every((x) => tools.has(x)));

  // OTLP: the histogram, with the semantic conventions' error.type on failures
  await pw.otlp!.flush();
  const hist = rx.metrics('perfwatch.plugin.call.duration');
  t.ok(hist.length > 0, 'perfwatch.plugin.call.duration exported');
  const points = hist.flatMap((m: any) => m.histogram.dataPoints);
  t.ok(points.some((p: any) => p.attributes.some((a: any) => a.key === 'error.type' && a.value.stringValue === 'tool_error')), 'failed calls carry error.type');
  t.same(points[0].explicitBounds, [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10], 'OpenTelemetry\'s advised boundaries');

  // every plugin at once
  const all = (await getJson(`${pw.url}/plugins/service-metrics`, auth)).body;
  t.same(all.services.map((s: any) => [s.service_name, s.total_calls > 0]), [['tools', true], ['quiet', false]]);
  t.equal((await getJson(`${pw.url}/plugins/service-metrics`)).status, 401, 'admin only');
  t.equal((await getJson(`${pw.url}/plugin/tools/service-metrics`)).status, 401, 'admin only');
});

t.test('the report route: the plugin\'s token, caps, all-or-nothing validation', async (t) => {
  const pw = await startApp(t, {
    service_metrics: { max_batch: 10 },
    plugins: [
      { id: 'a', command: 'sleep', args: ['1000'], start_grace: '100ms' },
      { id: 'b', command: 'sleep', args: ['1000'], start_grace: '100ms' },
      { id: 'off', command: 'sleep', args: ['1000'], autostart: false },
    ],
  });
  await waitFor(async () => (await getJson(`${pw.url}/plugin/status?plugin_id=b`)).body.status === 'running' && (await getJson(`${pw.url}/plugin/status?plugin_id=a`)).body.status === 'running');
  const a = pw.supervisor.get('a');
  const post = async (id: string, token: string | null, body: unknown) => {
    const r = await fetch(`${pw.url}/plugin/${id}/report`, { method: 'POST', headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as any };
  };
  const call = { tool: 'search', duration_ms: 3, ok: true };
  const total = async () => (await service(pw.url, 'a')).total_calls;

  t.equal((await post('a', null, { calls: [call] })).status, 401);
  t.equal((await post('a', pw.supervisor.get('b').token, { calls: [call] })).status, 401, 'another plugin\'s token');
  let r = await post('a', a.token, { calls: [call, { ...call, duration_ms: -1 }] });
  t.equal(r.status, 400);
  t.match(r.body, { code: 'INVALID_JSON', detail: /^report calls\[1\]\.duration_ms: .*nothing was recorded$/ });
  r = await post('a', a.token, { calls: [{ ...call, tool: ' lead' }] });
  t.match(r.body.detail, /^report calls\[0\]\.tool: expected 1 to 128 printable ASCII/);
  r = await post('a', a.token, { calls: [{ ...call, extra: 1 }] });
  t.equal(r.status, 400, 'unknown keys');
  r = await post('a', a.token, { calls: [{ ...call, ok: false, error: 'x'.repeat(1025) }] });
  t.match(r.body.detail, /^report calls\[0\]\.error: /);
  r = await post('a', a.token, { calls: Array.from({ length: 11 }, () => call) });
  t.equal(r.status, 400);
  t.equal(r.body.code, 'BATCH_TOO_LARGE');
  r = await post('a', a.token, { active_connections: -1 });
  t.match(r.body.detail, /^report active_connections: /);
  r = await post('a', a.token, { heartbeat: { status: 'meh' } });
  t.match(r.body.detail, /^report heartbeat\.status: /);
  t.equal(await total(), 0, 'nothing recorded by any refused report');
  t.equal(a.health.lastHeartbeat, null);

  r = await post('a', a.token, { calls: [call, { tool: 'fetch', duration_ms: 40, ok: false, error: 'timeout' }], active_connections: 2, tools: ['search', 'fetch', 'summarize'], heartbeat: { status: 'warn', note: 'busy' }, dropped_calls: 4 });
  t.equal(r.status, 200);
  t.equal(r.body.accepted, 2);
  const s = await service(pw.url, 'a');
  t.match(s, { total_calls: 2, failed_calls: 1, error_rate: 0.5, last_error: 'timeout', consecutive_failures: 1, active_connections: 2, tools_count: 3, avg_response_time: 0.0215, dropped_calls: 4 });
  await pw.nextTick();
  t.match(await metrics(pw.url), /^perfwatch_plugin_calls_dropped_total\{plugin_id="a"\} 4$/m, 'the plugin\'s own drops, counted');
  t.equal(a.health.lastHeartbeat?.note, 'busy', 'the heartbeat rides along');
  t.equal((await post('a', TOKEN, {})).status, 200, 'the admin token, an empty report');
  t.equal((await post('off', pw.supervisor.get('off').token, { calls: [call] })).status, 409);
  t.equal((await post('nope', TOKEN, { calls: [call] })).status, 404);
  t.equal((await post('a', a.token, '{')).status, 400);
});

t.test('the Python example plugin reports with the standard library alone', { skip: process.env.PYTHON === 'none' ? 'PYTHON=none' : false }, async (t) => {
  const pw = await startApp(t, {
    plugin_dirs: [path.join(ROOT, 'examples/sdk-plugins')],
  });
  const def = pw.supervisor.get('python-tools').definition;
  t.equal(def.command, 'python3');
  const s = await waitFor(async () => {
    const x = await service(pw.url, 'python-tools');
    return x.total_calls >= 30 && x.failed_calls > 0 && x;
  }, { what: 'the Python plugin\'s calls', timeoutMs: 15_000 });
  t.match(s, { service_name: 'python-tools', status: 'running', tools_count: 3, last_error: 'simulated failure' });
  t.ok(Math.abs(s.error_rate - 0.1) < 0.05, `one call in ten fails (${s.error_rate})`);
  t.equal((await getJson(`${pw.url}/plugin/status?plugin_id=python-tools`)).body.health, 'healthy', 'its heartbeats pass its readiness check');
  await pw.supervisor.stop('python-tools');
  const log = (await getJson(`${pw.url}/plugin/python-tools/logs?stream=stdout`, auth)).body.lines.join('\n');
  t.match(log, /stopped after \d+ calls, \d+ sent, 0 dropped/, 'a clean stop flushes');
});
