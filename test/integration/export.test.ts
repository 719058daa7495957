import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { LONG_FIELDS, SAMPLE_FIELDS } from '../../src/sinks/compat/export.js';
import { auth, getJson, nodePlugin, runCli, startApp, tempDir, TOKEN, waitFor } from '../helpers/index.js';

/** Monitoring-data export (seed 003's export_to_json / export_to_csv) from a real server with real plugins. */

type Sample = Record<string, string | number>;

t.test('export: the seed JSON and CSV, equal to the history API for the same range', async (t) => {
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    alerting: { default_rules: false, rules_file: undefined },
    plugins: [nodePlugin('echo', 'idle.cjs', { start_grace: '100ms' }), nodePlugin('cache', 'hold-memory.cjs', { env: { MEGABYTES: '8' }, start_grace: '100ms' })],
  });
  const api = `${pw.url}/api/v1/performance`;
  // an alert that fires at once, so the export has one
  const rule = await fetch(`${api}/alerts/rules`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'memory_any', metric: 'memory_percent', operator: '>', threshold: 0, level: 'warning', cooldown: 0 }) });
  t.equal(rule.status, 200);
  await waitFor(async () => (await getJson(`${api}/alerts`)).body.data.alerts.length > 0, { what: 'the alert' });
  await waitFor(async () => (await getJson(`${pw.url}/plugin/metrics/cache/history?limit=1000`, auth)).body.count >= 10, { what: 'ten samples' });
  const until = new Date().toISOString();
  const since = new Date(Date.now() - 60_000).toISOString();
  const range = `since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}`;

  const unauth = await getJson(`${api}/export`);
  t.equal(unauth.status, 401, 'admin only');

  const res = await fetch(`${api}/export?format=json&${range}`, { headers: auth });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.match(res.headers.get('content-disposition'), /attachment; filename="monitoring_data_\d{8}_\d{6}\.json"/, 'the seed\'s file name');
  const doc = (await res.json()) as { export_time: string; services: Record<string, Sample[]>; alerts: Array<Record<string, unknown>> };
  t.same(Object.keys(doc), ['export_time', 'services', 'alerts'], 'the seed\'s shape');
  t.same(Object.keys(doc.services).sort(), ['cache', 'echo']);
  for (const id of ['echo', 'cache']) {
    const hist = await getJson(`${pw.url}/plugin/metrics/${id}/history?limit=1000&start_time=${encodeURIComponent(since)}&end_time=${encodeURIComponent(until)}`, auth);
    const expected = [...hist.body.history].reverse();
    t.ok(expected.length >= 10, `${id}: ${expected.length} samples in the range`);
    t.same(doc.services[id]!.map(({ pid: _pid, ...rest }) => rest), expected, `${id}: oldest first, the history API's values`);
    t.ok(doc.services[id]!.every((s) => typeof s.pid === 'number' && s.pid > 0), `${id}: with the pid`);
  }
  t.ok(doc.alerts.some((a) => (a.metadata as { rule_name?: string }).rule_name === 'memory_any'), 'alerts raised in the range');

  // CSV, long: one file, a plugin_id column, the sorted union of fields as header
  const long = await fetch(`${api}/export?format=csv&${range}`, { headers: auth });
  t.match(long.headers.get('content-type'), /^text\/csv/);
  t.match(long.headers.get('content-disposition'), /filename="metrics_\d{8}_\d{6}\.csv"/);
  const longText = await long.text();
  t.match(longText.slice(0, 200), /^cpu_percent,memory_mb,memory_percent,num_threads,pid,plugin_id,timestamp\r\n/, 'RFC 4180 header and CRLF');
  const rows = parse(longText, { columns: true }) as Array<Record<string, string>>;
  t.same(Object.keys(rows[0]!), [...LONG_FIELDS]);
  const fromJson = Object.entries(doc.services).flatMap(([id, samples]) => samples.map((s) => ({ ...s, plugin_id: id })));
  t.equal(rows.length, fromJson.length, 'as many rows as the JSON has samples');
  t.same(rows.map((r) => ({ ...r, cpu_percent: Number(r.cpu_percent), memory_mb: Number(r.memory_mb), memory_percent: Number(r.memory_percent), num_threads: Number(r.num_threads), pid: Number(r.pid) })), fromJson, 'parsed back, the JSON\'s values');

  // CSV per plugin, with a BOM for Excel
  const one = await fetch(`${api}/export?format=csv&plugin=cache&bom=true&${range}`, { headers: auth });
  t.match(one.headers.get('content-disposition'), /filename="metrics_cache_\d{8}_\d{6}\.csv"/);
  const oneBytes = Buffer.from(await one.arrayBuffer());
  t.same([...oneBytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM first');
  const oneText = oneBytes.toString('utf8');
  const oneRows = parse(oneText, { columns: true, bom: true }) as Array<Record<string, string>>;
  t.same(Object.keys(oneRows[0]!), [...SAMPLE_FIELDS]);
  t.equal(oneRows.length, doc.services.cache!.length);

  // refusals
  for (const [query, field] of [
    ['format=xml', 'format'],
    ['format=csv&layout=per-plugin', 'layout'],
    ['since=yesterday', 'since'],
    ['period=1h&since=2026-01-01T00:00:00Z', 'period'],
    ['since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z', 'since'],
  ] as const) {
    const r = await getJson(`${api}/export?${query}`, auth);
    t.equal(r.status, 400, query);
    t.match(r.body.error.message, new RegExp(field), `${query}: names ${field}`);
  }
  t.equal((await getJson(`${api}/export?plugin=nope`, auth)).status, 404);

  await t.test('runExport in this process: files, names, refusals', async (t) => {
    const { readToken, runExport } = await import('../../src/export-cli.js');
    const dir = tempDir(t);
    const files = await runExport({ url: `${pw.url}/`, token: TOKEN, format: 'csv', layout: 'per-plugin', since, until, bom: false, out: dir });
    t.equal(files.length, 2, 'one file per plugin');
    t.ok(files.every((f) => /metrics_(cache|echo)_\d{8}_\d{6}\.csv$/.test(f)));
    const one = await runExport({ url: pw.url, token: TOKEN, format: 'json', layout: 'long', period: '1h', bom: false, out: path.join(dir, 'x.json') });
    t.same(one, [path.join(dir, 'x.json')], 'a file named by --out');
    await t.rejects(runExport({ url: pw.url, token: 'wrong-token-0123456789', format: 'json', layout: 'long', bom: false, out: dir }), { name: 'ExportError', message: /^401 / });
    await t.rejects(runExport({ url: pw.url, token: TOKEN, format: 'json', layout: 'long', plugin: 'nope', bom: false, out: dir }), /404 .*nope/);
    await t.rejects(runExport({ url: 'http://127.0.0.1:9', token: TOKEN, format: 'json', layout: 'long', bom: false }), /cannot reach/);
    t.equal(readToken({ PERFWATCH_ADMIN_TOKEN: 'from-env' }, '/nonexistent'), 'from-env');
    t.equal(readToken({}, '/nonexistent'), null);
    t.equal(readToken({}, undefined), null);
  });

  await t.test('perfwatch export: the CLI writes the seed\'s files', async (t) => {
    const dir = tempDir(t);
    const common = ['--url', pw.url, '--since', since, '--until', until];
    const json = runCli(['export', ...common, '--format', 'json', '--out', path.join(dir, 'all.json')]);
    t.equal((await json.exited).code, 0, json.stderr());
    t.same(JSON.parse(readFileSync(path.join(dir, 'all.json'), 'utf8')).services, doc.services, 'the same JSON as the API');
    const csv = runCli(['export', ...common, '--format', 'csv', '--layout', 'per-plugin', '--out', dir]);
    t.equal((await csv.exited).code, 0, csv.stderr());
    const files = readdirSync(dir).filter((f) => f.endsWith('.csv')).sort();
    t.match(files, [/^metrics_cache_\d{8}_\d{6}\.csv$/, /^metrics_echo_\d{8}_\d{6}\.csv$/], 'one file per plugin, named as the seed names them');
    t.match(csv.stdout(), /metrics_cache_\d{8}_\d{6}\.csv/, 'says what it wrote');
    const echoRows = parse(readFileSync(path.join(dir, files[1]!), 'utf8'), { columns: true }) as unknown[];
    t.equal(echoRows.length, doc.services.echo!.length);
    const bad = runCli(['export', '--url', pw.url, '--format', 'xml']);
    t.equal((await bad.exited).code, 2, 'bad usage exits 2');
    const noToken = runCli(['export', '--url', pw.url], { env: { PERFWATCH_ADMIN_TOKEN: 'wrong-token-0123456789' } });
    t.equal((await noToken.exited).code, 1);
    t.match(noToken.stderr(), /401/);
  });
});

t.test('a large export streams: the heap holds a batch, not the file', async (t) => {
  const plugins = Array.from({ length: 50 }, (_, i) => ({ id: `p${i}`, command: '/bin/true', enabled: false }));
  const pw = await startApp(t, { collection: { interval: '60s' }, host: { enabled: false }, retention: { plugin_samples: 8000 }, plugins });
  const end = Date.now();
  for (let k = 0; k < 8000; k++) {
    const ts = end - (8000 - k) * 60_000;
    pw.history.append(plugins.map((p, i) => ({ pluginId: p.id, pid: 100 + i, timestampMs: ts, cpuPercent: k % 97, cpuUserSeconds: 0, cpuSystemSeconds: 0, rssBytes: 50 * 1048576, memoryPercent: 0.5, threads: 3, processes: 1 })));
  }
  // streamed: the first bytes leave long before the last (built in memory, nothing would leave before all of it was
  // made), in chunks with no Content-Length; bench/README.md ("export") measures the RSS of a week of 500 plugins
  await (await fetch(`${pw.url}/api/v1/performance/export?format=json&plugin=p0&period=1h`, { headers: auth })).text(); // warm
  const t0 = performance.now();
  const res = await fetch(`${pw.url}/api/v1/performance/export?format=json`, { headers: auth });
  let firstMs = 0;
  let bytes = 0;
  let tailText = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (!bytes) firstMs = performance.now() - t0;
    bytes += chunk.length;
    tailText = (tailText + Buffer.from(chunk).toString('latin1')).slice(-64);
  }
  const totalMs = performance.now() - t0;
  t.ok(bytes > 40 * 1048576, `a ${(bytes / 1048576).toFixed(0)} MiB export of 400 000 samples`);
  t.match(tailText, /\]\},"alerts":\[.*\]\}\n$/, 'complete to its last byte');
  t.equal(res.headers.get('content-length'), null);
  t.equal(res.headers.get('transfer-encoding'), 'chunked');
  t.ok(firstMs < totalMs / 3, `the first bytes after ${firstMs.toFixed(0)} ms of ${totalMs.toFixed(0)}`);
});
