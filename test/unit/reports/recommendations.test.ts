import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { linearFit, recommend } from '../../../src/reports/recommendations.js';
import { ReportStore, type ReportRequest } from '../../../src/reports/store.js';

const H = 3_600_000;
const D = 24 * H;
const none = { samples: 0, above: 0, average: 0 };
/** `[x, y]` pairs as the reports' flat `[x0, y0, x1, y1, …]`. */
const flat = (points: Array<[number, number]>) => Float64Array.from(points.flat());

t.test('least squares: slope, intercept, R²', async (t) => {
  const fit = linearFit(flat([[0, 1], [1, 3], [2, 5], [3, 7]]))!;
  t.same([fit.slope, fit.intercept, fit.r2], [2, 1, 1]);
  t.equal(linearFit(flat([[0, 1], [1, 1], [2, 1]]))!.r2, 0, 'a flat line explains nothing');
  t.equal(linearFit(flat([[0, 1], [1, 2]])), null, 'too few points');
  t.equal(linearFit(flat([[1, 1], [1, 2], [1, 3]])), null, 'no spread in x');
});

t.test('each finding fires on its evidence and not without it', async (t) => {
  const leak = flat(Array.from({ length: 48 }, (_, i) => [i * H, 100 + 5 * i + (i % 2)])); // +5 MB an hour
  const noisy = flat(Array.from({ length: 48 }, (_, i) => [i * H, 100 + (i % 2 ? 40 : -40)]));
  const disk = flat(Array.from({ length: 24 }, (_, i) => [i * H, 80 + (i / 24) * 2])); // +2 points a day from 80
  const found = recommend({
    rows: [
      { plugin_id: 'hot', status: 'running', restarts: 0, samples: 100 },
      { plugin_id: 'leaky', status: 'running', restarts: 0, samples: 100 },
      { plugin_id: 'wobbly', status: 'running', restarts: 0, samples: 100 },
      { plugin_id: 'crashy', status: 'error', restarts: 5, samples: 3 },
      { plugin_id: 'failing', status: 'running', restarts: 0, samples: 0, calls_total: 400, calls_failed: 60 },
      { plugin_id: 'few', status: 'running', restarts: 0, samples: 0, calls_total: 20, calls_failed: 20 },
    ],
    disk,
    alerts: [...Array.from({ length: 12 }, () => ({ rule_id: 'flappy', title: 'x' })), { rule_id: 'rare', title: 'y' }],
    rules: [
      { id: 'flappy', enabled: true, trigger_count: 12 },
      { id: 'never', enabled: true, trigger_count: 0, metric: 'cpu_percent', threshold: 99 },
      { id: 'off', enabled: false, trigger_count: 0 },
    ],
    spanMs: 2 * D,
    pluginSeries: (id) => (id === 'leaky' ? leak : id === 'wobbly' ? noisy : new Float64Array(0)),
    cpuStats: (id) => (id === 'hot' ? { samples: 100, above: 70, average: 91 } : id === 'wobbly' ? { samples: 100, above: 30, average: 50 } : none),
  });
  const by = (kind: string) => found.filter((f) => f.kind === kind).map((f) => f.subject);
  t.same(by('sustained_cpu'), ['hot'], 'above 80 % in 70 % of samples; not 30 %');
  t.same(by('memory_growth'), ['leaky'], 'a steady rise; not noise around a level');
  const leakEvidence = found.find((f) => f.kind === 'memory_growth')!.evidence;
  t.equal(leakEvidence.slope_mb_per_hour, 5);
  t.ok(Number(leakEvidence.r2) > 0.99, `R² ${leakEvidence.r2}`);
  t.same(by('restart_loop'), ['crashy']);
  t.equal(found.find((f) => f.kind === 'restart_loop')!.severity, 'critical', 'gave up: critical');
  t.same(by('failing_calls'), ['failing'], '15 % of 400; not 20 calls, however bad');
  t.same(by('disk_full'), ['disk']);
  // 81.92 % at the end, 2 points a day: (100 − 81.92) / 2 = 9.04 days
  t.match(found.find((f) => f.kind === 'disk_full')!.evidence, { days_to_full: 9, slope_percent_per_day: 2, current_percent: 81.92 });
  t.same(by('noisy_rule'), ['flappy'], '12 fires; not 1');
  t.same(by('silent_rule'), ['never'], 'enabled and never fired; not a disabled rule');
});

t.test('the store: ids, statuses, interrupted runs, pruning by age and count with the files', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'perfwatch-report-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ReportStore(dir);
  t.teardown(() => store.close());
  const req: ReportRequest = { type: 'summary', format: 'json', period: '1h', startMs: 0, endMs: 1, metrics: null, includeAlerts: true, includeRecommendations: false, origin: 'api' };
  const now = 10 * D;
  const rows = [0, 1, 2, 3].map((i) => store.insert(req, now - (4 - i) * D));
  t.same(rows.map((r) => r.id), ['report_001', 'report_002', 'report_003', 'report_004']);
  for (const r of rows) {
    writeFileSync(store.fileOf(r), '{}');
    store.ready(r.id, 2, now);
  }
  store.running(rows[3]!.id, now);
  t.equal(store.failInterrupted(now), 1);
  t.match(store.get('report_004'), { status: 'failed', error: /^interrupted/ });
  // older than 3.5 days: the first; past the newest two: the second too
  t.equal(await store.prune(now, 3.5 * D, 2), 2);
  t.same(store.list(10).map((r) => r.id), ['report_004', 'report_003']);
  t.same(readdirSync(dir).filter((f) => f.endsWith('.json')).sort(), ['report_003.json', 'report_004.json'], 'their files went with them');
  t.equal(store.insert(req, now).id, 'report_005', 'ids keep counting');
});
