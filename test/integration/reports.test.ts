import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { pino } from 'pino';
import t from 'tap';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startPerfwatch } from '../../src/main.js';
import { ReportStore } from '../../src/reports/store.js';
import { auth, getJson, nodePlugin, startApp, TOKEN, waitFor } from '../helpers/index.js';

const have = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
};
const hasChromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].some((p) => existsSync(p));
const hasPoppler = have('pdftotext');

const post = async (url: string, body: unknown, headers: Record<string, string> = auth) => {
  const r = await fetch(`${url}/api/v1/performance/reports`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as any };
};
const ready = (url: string, id: string, timeoutMs = 30_000) =>
  waitFor(async () => {
    const r = (await getJson(`${url}/api/v1/performance/reports/${id}`, auth)).body.data;
    return r.status === 'ready' || r.status === 'failed' ? r : null;
  }, { what: `report ${id} finished`, timeoutMs });
const download = async (url: string, id: string) => {
  const r = await fetch(`${url}/api/v1/performance/reports/${id}/download`, { headers: auth });
  return { status: r.status, type: r.headers.get('content-type'), disposition: r.headers.get('content-disposition'), bytes: Buffer.from(await r.arrayBuffer()) };
};

t.test('JSON and CSV reports: the seed\'s request and answer, content, the same numbers in both', async (t) => {
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    plugins: [nodePlugin('echo', 'idle.cjs', { start_grace: '100ms' }), nodePlugin('cache', 'hold-memory.cjs', { env: { MEGABYTES: '16' }, start_grace: '100ms' })],
  });
  for (let i = 0; i < 25; i++) await pw.nextTick();
  // a window the data fills: 30 s at a 1 s step
  const end = new Date().toISOString();
  const start = new Date(Date.now() - 30_000).toISOString();

  // echo reports 200 calls, a quarter of them failed: the report's service columns and a recommendation
  const calls = Array.from({ length: 200 }, (_, i) => ({ tool: 'search', duration_ms: 10, ok: i % 4 !== 0, ...(i % 4 === 0 ? { error: 'boom' } : {}) }));
  t.equal((await fetch(`${pw.url}/plugin/echo/report`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ calls }) })).status, 200);
  const r = await post(pw.url, { type: 'summary', period: '24h', format: 'json', metrics: ['cpu', 'memory', 'disk'], include_alerts: true, include_recommendations: true });
  t.equal(r.status, 200);
  t.match(r.body, { status: 'success', data: { report_id: 'report_001', download_url: '/api/v1/performance/reports/report_001/download', estimated_ready_time: /^\d{4}-\d\d-\d\dT/ } }, 'seed 001\'s answer, field for field');
  const info = await ready(pw.url, 'report_001');
  t.match(info, { report_id: 'report_001', status: 'ready', type: 'summary', format: 'json', period: '24h', error: null });
  t.ok(info.size > 100);
  const d = await download(pw.url, 'report_001');
  t.equal(d.status, 200);
  t.equal(d.type, 'application/json; charset=utf-8');
  t.match(d.disposition, /^attachment; filename="perfwatch-summary-\d{4}-\d\d-\d\d-report_001\.json"$/);
  const summary = JSON.parse(d.bytes.toString('utf8'));
  t.match(summary, { report_id: 'report_001', type: 'summary', period: { name: '24h' }, alerts: { total: Number, by_level: { critical: Number } } });
  t.ok(summary.summary.cpu.average >= 0 && summary.summary.memory.current > 0, 'host KPIs');
  t.same(summary.plugins.top_memory.map((p: any) => p.plugin_id), ['cache', 'echo'], 'top plugins by memory');
  t.ok(summary.plugins.top_memory[0].memory_average_mb > 16, 'cache holds its 16 MB');
  t.same(summary.series, [], 'a summary has no series');
  t.ok(Array.isArray(summary.recommendations), 'recommendations asked for');
  t.ok(summary.recommendations.some((x: any) => x.kind === 'silent_rule' && x.evidence.trigger_count === 0), 'rules that never fired');
  t.match(summary.plugins.all.find((p: any) => p.plugin_id === 'echo'), { calls_total: 200, calls_failed: 50, calls_error_rate: 0.25, avg_response_time: 0.01 });
  t.match(summary.recommendations.find((x: any) => x.kind === 'failing_calls'), { subject: 'echo', severity: 'warning', evidence: { calls: 200, failed: 50, error_rate: 0.25 } }, 'failing calls, with the evidence');

  // the same custom period as JSON and as CSV: the same numbers
  const body = { type: 'detailed', start, end, include_recommendations: true };
  const j = (await post(pw.url, { ...body, format: 'json' })).body.data.report_id;
  const c = (await post(pw.url, { ...body, format: 'csv' })).body.data.report_id;
  await ready(pw.url, j);
  await ready(pw.url, c);
  const json = JSON.parse((await download(pw.url, j)).bytes.toString('utf8'));
  const csvDownload = await download(pw.url, c);
  t.equal(csvDownload.type, 'text/csv; charset=utf-8');
  const text = csvDownload.bytes.toString('utf8');
  t.ok(text.startsWith('\uFEFF# series\n'), 'a BOM, then the series section');
  const sections: Record<string, any[]> = Object.fromEntries(
    text
      .replace(/^\uFEFF/, '')
      .split(/\n\n/)
      .filter((s) => s.trim())
      .map((s) => {
        const [head, ...rest] = s.split('\n');
        return [head!.replace(/^# /, ''), parseCsv(rest.join('\n'), { columns: true })];
      }),
  );
  t.same(Object.keys(sections), ['series', 'summary', 'plugins', 'alerts', 'recommendations']);
  const cpu = json.series.find((s: any) => s.name === 'cpu_percent');
  t.ok(cpu.points.length > 3, 'the detailed report has the cpu series');
  const csvCpu = sections.series!.filter((row: any) => row.series === 'cpu_percent');
  t.same(csvCpu.map((row: any) => [Date.parse(row.timestamp), Number(row.value)]), cpu.points, 'the CSV series equal the JSON points');
  t.ok(json.series.some((s: any) => s.name === 'plugin cache memory_mb'), 'each plugin\'s series');
  t.equal(Number(sections.summary!.find((row: any) => row.metric === 'cpu').average), json.summary.cpu.average);
  t.equal(Number(sections.plugins!.find((row: any) => row.plugin_id === 'cache').memory_average_mb), json.plugins.all.find((p: any) => p.plugin_id === 'cache').memory_average_mb);

  const list = (await getJson(`${pw.url}/api/v1/performance/reports`, auth)).body.data.reports;
  t.same(list.map((x: any) => x.report_id), [c, j, 'report_001'], 'newest first');
  t.equal((await fetch(`${pw.url}/api/v1/performance/reports/${j}`, { method: 'DELETE', headers: auth })).status, 200);
  t.equal((await getJson(`${pw.url}/api/v1/performance/reports/${j}`, auth)).body.error.code, 'REPORT_NOT_FOUND');
  t.notOk(readdirSync(path.join(pw.dir, 'data/reports')).includes(`${j}.json`), 'its file is gone');
});

t.test('refusals: a 4xx naming the field, nothing stored; auth; a full queue; not ready; failed with the cause', async (t) => {
  const pw = await startApp(t, { collection: { interval: '200ms' }, reports: { chromium: '/nonexistent/chromium' } });
  await pw.nextTick();
  const bad: Array<[unknown, string, RegExp]> = [
    [{ type: 'weekly' }, 'type', /^type: /],
    [{ format: 'docx' }, 'format', /^format: /],
    [{ type: 'custom' }, 'metrics', /^metrics: a custom report lists its metrics/],
    [{ type: 'custom', metrics: ['cpu', 'nope_metric'] }, 'metrics', /^metrics: "nope_metric" is not a host metric/],
    [{ period: '1y' }, 'period', /^period: /],
    [{ start: '2026-01-01T00:00:00Z' }, 'end', /^end: start and end go together/],
    [{ start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' }, 'end', /^end: must be after start/],
    [{ period: '1h', start: '2026-01-01T00:00:00Z', end: '2026-01-01T01:00:00Z' }, 'period', /not both/],
    [{ include_alerts: 'yes' }, 'include_alerts', /^include_alerts: /],
    [{ extra: 1 }, 'body', /extra/],
  ];
  for (const [body, , message] of bad) {
    const r = await post(pw.url, body);
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(r.body.error.message, message);
  }
  t.equal((await post(pw.url, {}, {})).status, 401, 'writes need the admin token');
  t.same((await getJson(`${pw.url}/api/v1/performance/reports`, auth)).body.data.reports, [], 'nothing stored by a refusal');
  t.equal((await getJson(`${pw.url}/api/v1/performance/reports`)).status, 401, 'reading needs it too');

  // a PDF without Chromium fails, with the cause
  const first = (await post(pw.url, { format: 'pdf', period: '1h' })).body.data.report_id;
  const failed = await ready(pw.url, first);
  t.equal(failed.status, 'failed');
  t.match(failed.error, /no Chromium to print the PDF: .*apt-get install chromium fonts-noto-cjk.*\/nonexistent\/chromium is not an executable/);
  const d = await fetch(`${pw.url}/api/v1/performance/reports/${first}/download`, { headers: auth });
  t.equal(d.status, 500);
  t.match(((await d.json()) as any).error, { code: 'REPORT_GENERATION_FAILED', message: /no Chromium/ });
});

t.test('a report survives a restart; one running at the stop is failed, not lost', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'perfwatch-reports-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'perfwatch.yaml');
  const doc: ConfigInput = { server: { host: '127.0.0.1', port: 0 }, storage: { path: path.join(dir, 'data') }, collection: { interval: '200ms' } };
  writeFileSync(file, stringify(doc));
  const start = async () => startPerfwatch({ config: await loadConfig({ file }), logger: pino({ level: 'silent' }), env: { ...process.env, PERFWATCH_ADMIN_TOKEN: TOKEN } });
  let pw = await start();
  await pw.nextTick();
  const id = (await post(pw.url, { format: 'csv', period: '1h' })).body.data.report_id;
  await ready(pw.url, id);
  const before = await download(pw.url, id);
  await pw.stop();
  // a report left `running` by a crash
  const store = new ReportStore(path.join(dir, 'data/reports'));
  const crashed = store.insert({ type: 'summary', format: 'json', period: '1h', startMs: 0, endMs: 1, metrics: null, includeAlerts: true, includeRecommendations: false, origin: 'api' }, Date.now());
  store.running(crashed.id, Date.now());
  store.close();
  pw = await start();
  t.teardown(() => pw.stop());
  const after = await download(pw.url, id);
  t.equal(after.status, 200, 'the ready report is still there');
  t.same(after.bytes, before.bytes, 'the same file');
  const lost = (await getJson(`${pw.url}/api/v1/performance/reports/${crashed.id}`, auth)).body.data;
  t.match(lost, { status: 'failed', error: /^interrupted: perfwatch stopped/ });
});

t.test('PDF: printed by Chromium, numbers as in the JSON, Chinese text, page numbers', { skip: !hasChromium || !hasPoppler ? 'needs chromium and poppler-utils (.ci/run installs them)' : false }, async (t) => {
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    plugins: [nodePlugin('cache', 'hold-memory.cjs', { env: { MEGABYTES: '16' }, start_grace: '100ms' })],
    alerting: { default_rules: false },
    reports: { max_queue: 2 },
  });
  // an alert with a Chinese title, so the PDF has Chinese text from the data, not only from its template
  await fetch(`${pw.url}/api/v1/performance/alerts/rules`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'mem_any', metric: 'memory_percent', operator: '>', threshold: 0, level: 'warning', description: '内存使用率过高', cooldown: 0 }) });
  for (let i = 0; i < 15; i++) await pw.nextTick();
  // a window the data fills: 20 s at a 1 s step, so every chart has points
  const end = new Date().toISOString();
  const start = new Date(Date.now() - 20_000).toISOString();
  const body = { type: 'detailed', start, end, include_recommendations: true };
  const p = (await post(pw.url, { ...body, format: 'pdf' })).body.data.report_id;
  const j = (await post(pw.url, { ...body, format: 'json' })).body.data.report_id;
  // while the PDF prints (a second or so), the JSON waits: not ready yet; and the queue holds two at most
  const early = await fetch(`${pw.url}/api/v1/performance/reports/${j}/download`, { headers: auth });
  t.equal(early.status, 409);
  t.equal(((await early.json()) as any).error.code, 'REPORT_NOT_READY');
  const more = await Promise.all([1, 2, 3].map(() => post(pw.url, { format: 'json', period: '1h' })));
  t.ok(more.some((a) => a.status === 429 && a.body.error.code === 'REPORTS_BUSY'), `past reports.max_queue: 429 REPORTS_BUSY (${more.map((a) => a.status).join(', ')})`);
  const info = await ready(pw.url, p, 60_000);
  t.equal(info.status, 'ready', info.error ?? '');
  await ready(pw.url, j);
  const json = JSON.parse((await download(pw.url, j)).bytes.toString('utf8'));
  const pdf = await download(pw.url, p);
  t.equal(pdf.type, 'application/pdf');
  t.equal(pdf.bytes.subarray(0, 5).toString(), '%PDF-');
  const out = mkdtempSync(path.join(tmpdir(), 'perfwatch-pdf-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  writeFileSync(path.join(out, 'r.pdf'), pdf.bytes);
  const pages = Number(/Pages:\s+(\d+)/.exec(execFileSync('pdfinfo', [path.join(out, 'r.pdf')], { encoding: 'utf8' }))![1]);
  t.ok(pages >= 2, `a title page, then the rest (${pages} pages)`);
  const text = execFileSync('pdftotext', ['-layout', path.join(out, 'r.pdf'), '-'], { encoding: 'utf8' });
  t.match(text, /性能报告/, 'Chinese from the template');
  t.match(text, /内存使用率过高/, 'Chinese from the data');
  t.match(text, new RegExp(`\\b1\\s*/\\s*${pages}\\b`), 'page numbers');
  t.match(text, new RegExp(json.host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the host');
  for (const k of ['cpu', 'memory'] as const) {
    const s = json.summary[k];
    t.match(text, new RegExp(`${k}\\s+${s.current}%\\s+${s.average}%\\s+${s.maximum}%\\s+${s.minimum}%`), `${k}: the JSON's numbers (${s.current}, ${s.average}, ${s.maximum}, ${s.minimum})`);
  }
  t.match(text, /Time series · 时间序列[\s\S]*cpu_percent[\s\S]*plugin cache[\s\S]*memory_mb/, 'the charts (their SVG titles and units are text)');
  const cache = json.plugins.all.find((x: any) => x.plugin_id === 'cache');
  t.match(text, new RegExp(`cache .*${cache.memory_average_mb} MB`), 'the plugin table');
  execFileSync('pdftoppm', ['-png', '-r', '50', path.join(out, 'r.pdf'), path.join(out, 'page')]);
  t.equal(readdirSync(out).filter((f) => f.endsWith('.png')).length, pages, 'every page renders');
});

t.test('schedules: node-cron makes the report, it goes to a folder, an email channel (attached) and a webhook', async (t) => {
  const { SMTPServer } = await import('smtp-server');
  const { simpleParser } = await import('mailparser');
  const { createServer } = await import('node:http');
  const mails: any[] = [];
  const smtp = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], onData: (stream, _s, cb) => void simpleParser(stream).then((m) => (mails.push(m), cb()), cb) });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => smtp.close(() => r())));
  const hooks: any[] = [];
  const hook = createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => (hooks.push(JSON.parse(s)), res.end('{}')));
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => hook.close(() => r())));
  const outDir = mkdtempSync(path.join(tmpdir(), 'perfwatch-delivered-'));
  t.teardown(() => rmSync(outDir, { recursive: true, force: true }));
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    alerting: { channels: [{ name: 'mail', type: 'email', smtp: { host: '127.0.0.1', port: (smtp.server.address() as { port: number }).port }, from: 'perfwatch@example.com', to: ['ops@example.com'] }] },
    reports: { schedules: [{ name: 'every2s', cron: '*/2 * * * * *', type: 'summary', period: '1h', format: 'csv', deliver: [{ file: outDir }, { channel: 'mail' }, { webhook: `http://127.0.0.1:${(hook.address() as { port: number }).port}/reports` }] }] },
  });
  const mail = await waitFor(() => mails[0], { what: 'the emailed report', timeoutMs: 20_000 });
  t.match(mail.subject, /^\[perfwatch\] every2s: summary report report_\d+ \(1h\)$/);
  t.equal(mail.attachments.length, 1);
  t.match(mail.attachments[0].filename, /^perfwatch-summary-\d{4}-\d\d-\d\d-report_\d+\.csv$/);
  t.ok(mail.attachments[0].content.toString('utf8').startsWith('\uFEFF# series'), 'the CSV itself');
  t.match(mail.text, new RegExp(`download \\(admin token\\): ${pw.url}/api/v1/performance/reports/report_\\d+/download`));
  await waitFor(() => hooks.length > 0 && readdirSync(outDir).length > 0, { what: 'the webhook and the folder' });
  t.match(hooks[0], { event: 'report_ready', schedule: 'every2s', report: { status: 'ready', origin: 'schedule:every2s', format: 'csv' } });
  t.match(readdirSync(outDir)[0], /\.csv$/);
  const list = (await getJson(`${pw.url}/api/v1/performance/reports`, auth)).body.data.reports;
  t.ok(list.every((r: any) => r.origin === 'schedule:every2s'));
});

t.test('schedule config: the cron, the time zone, the channel name, one target per entry', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'perfwatch-sched-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'c.yaml'), JSON.stringify({ reports: { schedules: [{ name: 'a', cron: 'every monday', timezone: 'Mars/Olympus', deliver: [{ channel: 'nope' }, { file: 'x', webhook: 'http://x/' }] }, { name: 'a', cron: '0 8 * * 1', type: 'custom' }] } }));
  const err = (await loadConfig({ file: path.join(dir, 'c.yaml') }).catch((e) => e)) as { problems: string[] };
  const text = err.problems.join('\n');
  for (const re of [/reports\.schedules\[0\]\.cron: expected a cron expression/, /reports\.schedules\[0\]\.timezone: expected an IANA time zone/]) t.match(text, re);
  writeFileSync(path.join(dir, 'd.yaml'), JSON.stringify({ reports: { schedules: [{ name: 'a', cron: '0 8 * * 1', deliver: [{ channel: 'nope' }, { file: 'x', webhook: 'http://x/' }] }, { name: 'b', cron: '0 8 * * 1', type: 'custom' }] } }));
  const err2 = (await loadConfig({ file: path.join(dir, 'd.yaml') }).catch((e) => e)) as { problems: string[] };
  const text2 = err2.problems.join('\n');
  for (const re of [/reports\.schedules\[0\]\.deliver\[0\]\.channel: no alerting\.channels entry is named "nope"/, /reports\.schedules\[0\]\.deliver\[1\]: each entry is one of channel, file or webhook/, /reports\.schedules\[1\]\.metrics: a custom report lists its metrics/]) t.match(text2, re);
});
