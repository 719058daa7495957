import t from 'tap';
import { HOST_SERIES, hostKey } from '../../../src/model/legacy-names.js';
import { composeReport, gatherReport, transferables, type ReportSources } from '../../../src/reports/content.js';
import { reportCsv } from '../../../src/reports/csv.js';
import { chartPoints, reportHtml } from '../../../src/reports/pdf.js';
import type { ReportRequest } from '../../../src/reports/store.js';
import { createHistory } from '../../../src/store/history.js';
import { tempDir, type TapLike } from '../../helpers/index.js';

/**
 * The report content as the build worker makes it, here on the main thread: a day of host series and of three plugins
 * at 60 s, with known values, read by gatherReport from a real history store and composed by composeReport.
 */
const H = 3_600_000;
const END = Date.UTC(2026, 11, 1);
const START = END - 24 * H;

function sources(t: TapLike): ReportSources {
  const history = createHistory({ rawCapacity: 10, pluginSamples: 2000, retentionDays: 7, memTotalBytes: 2 ** 30, checkpointFile: `${tempDir(t)}/h.ckpt`, checkpointIntervalMs: 3_600_000, log: () => {} });
  for (let t0 = START, i = 0; t0 <= END; t0 += 60_000, i++) {
    for (const s of HOST_SERIES) history.store.append(hostKey(s.name), { name: s.name, unit: s.unit, kind: 'host' }, t0, s.name === 'cpu_percent' ? 40 : s.name === 'disk_usage_percent' ? 50 + i / 100 : 10);
    // p0 busy (90 %), p1 growing by 2 MB an hour, p2 quiet (and restarted five times)
    history.plugins.append(['p0', 'p1', 'p2'].map((id, k) => ({ pluginId: id, pid: 100 + k, timestampMs: t0, cpuPercent: k === 0 ? 90 : 5, cpuUserSeconds: i, cpuSystemSeconds: 0, rssBytes: (100 + (k === 1 ? i / 30 : 0)) * 1048576, memoryPercent: 1, threads: 4, processes: 1 })));
  }
  const status = (id: string) => ({ id, name: `plugin ${id}`, state: 'running', restarts: id === 'p2' ? 5 : 0, health: 'healthy', calls: null });
  return {
    history: history.reader,
    pluginRing: (id) => history.plugins.view(id),
    plugins: () => ['p0', 'p1', 'p2'].map(status),
    alerts: () => [
      { id: 'alert_1', level: 'warning', title: 'CPU 过高', message: 'p0 > 80%', rule_id: 'cpu_high', created_at: new Date(START + H).toISOString(), resolved_at: new Date(START + 3 * H).toISOString() },
      { id: 'alert_2', level: 'critical', title: 'CPU 过高', message: 'again', rule_id: 'cpu_high', created_at: new Date(START + 5 * H).toISOString(), resolved_at: null },
    ],
    rules: () => [{ id: 'cpu_high', name: 'CPU 过高', enabled: true, trigger_count: 2 }, { id: 'never', name: 'never fires', enabled: true, trigger_count: 0 }],
    hostname: 'test-host',
  };
}
const request = (over: Partial<ReportRequest> = {}): ReportRequest => ({ type: 'detailed', format: 'csv', period: '24h', startMs: START, endMs: END, metrics: null, includeAlerts: true, includeRecommendations: true, origin: 'api', ...over });

t.test('a detailed report: KPIs, plugins, series, alerts and findings from the data', async (t) => {
  const input = await gatherReport('r1', request(), sources(t), END + 1000);
  t.equal(input.plugins.length, 3);
  t.ok(input.plugins[0]!.ring!.ts.buffer instanceof SharedArrayBuffer, 'the plugin rings are shared, not copied');
  t.equal(transferables(input).length, input.hostSeries.length + 1, 'the series and the disk are handed over');
  const c = composeReport(input);
  t.match(c.summary.cpu, { current: 40, average: 40, maximum: 40, minimum: 40, trend: 'stable', unit: '%' });
  t.same(c.plugins.top_cpu.map((p) => p.plugin_id), ['p0', 'p1', 'p2']);
  t.match(c.plugins.all[0], { plugin_id: 'p0', samples: 1441, cpu_average: 90, cpu_maximum: 90, memory_first_mb: 100, memory_last_mb: 100 });
  t.match(c.plugins.all[1], { plugin_id: 'p1', memory_first_mb: 100, memory_last_mb: 148 });
  const hostNames = c.series.filter((s) => !s.name.startsWith('plugin ')).map((s) => s.name);
  t.same(c.series.slice(0, hostNames.length).map((s) => s.name), hostNames, 'host series first');
  t.same(hostNames, HOST_SERIES.filter((s) => !s.counter).map((s) => s.name), 'in catalogue order (the gauges)');
  t.ok(c.series.some((s) => s.name === 'plugin p1 memory_mb'));
  t.match(c.alerts, { total: 2, by_level: { warning: 1, critical: 1 }, most_frequent: { rule_id: 'cpu_high', count: 2 } });
  const kinds = c.recommendations!.map((r) => `${r.kind} ${r.subject}`);
  for (const k of ['sustained_cpu p0', 'memory_growth p1', 'restart_loop p2']) t.ok(kinds.some((x) => x.startsWith(k)), k);
  t.ok(kinds.some((x) => x.startsWith('silent_rule')), 'a rule that never fired');

  const csv = reportCsv(c).toString('utf8');
  t.ok(csv.startsWith('\uFEFF# series\nseries,unit,timestamp,value\n'));
  const rows = csv.split('\n# summary\n')[0]!.split('\n').slice(2).filter(Boolean);
  t.equal(rows.length, c.series.reduce((a, s) => a + s.data.length / 2, 0), 'a row per point');
  t.match(csv, /\n# plugins\n.*\np0,running,healthy,0,1441,90,90,/);
  t.match(csv, /\n# alerts\n[^]*CPU 过高/);

  const html = reportHtml(c);
  t.equal(html.options.length, html.data.length);
  t.equal((html.html.match(/<!--chart:\d+-->/g) ?? []).length, html.options.length, 'a slot per chart');
  t.match(html.html, /test-host/);
});

t.test('a summary reads no series and copies no disk; custom reads only what it lists; an unknown name fails the report', async (t) => {
  const src = sources(t);
  const summary = await gatherReport('r2', request({ type: 'summary', includeRecommendations: false, includeAlerts: false }), src, END);
  t.same([summary.hostSeries.length, summary.disk, summary.alerts], [0, null, null]);
  const c = composeReport(summary);
  t.same([c.series.length, c.recommendations, c.alerts], [0, null, null]);
  const custom = composeReport(await gatherReport('r3', request({ type: 'custom', metrics: ['cpu', 'p1'], includeRecommendations: false }), src, END));
  t.same(custom.series.map((s) => s.name).sort(), ['cpu_percent', 'plugin p1 cpu_percent', 'plugin p1 memory_mb']);
  t.same(custom.plugins.all.map((p) => p.plugin_id), ['p1']);
  await t.rejects(gatherReport('r4', request({ type: 'custom', metrics: ['nope'] }), src, END), /metrics: "nope" is not a host metric/);
});

t.test('a chart breaks its line where buckets are missing, rather than drawing across the gap', async (t) => {
  t.same(chartPoints(Float64Array.from([0, 1, 60, 2, 120, 3]), 60), [[0, 1], [60, 2], [120, 3]], 'no gap, no break');
  t.same(chartPoints(Float64Array.from([0, 1, 60, 2, 600, 3, 660, 4]), 60), [[0, 1], [60, 2], [120, null], [600, 3], [660, 4]]);
  t.same(chartPoints(new Float64Array(0), 60), []);
});
