import t from 'tap';
import { findings, prompt } from '../../../src/profiling/analysis.js';
import type { Frame } from '../../../src/profiling/record.js';

const f = (fn: string, file: string, ms: number, selfMs: number, children: Frame[] = [], app = true): Frame => ({ function: fn, file_path_short: file, time: ms / 1000, self_time: selfMs / 1000, calls: 0, is_application_code: app, children });
const base = { id: 'rec_1', route: '/r', method: 'GET', status: 200, duration_ms: 120, cpu_time_ms: 60, tree: null, route_stats: null };

t.test('findings from CPU samples: a hot application frame, a sync call, the garbage collector', async (t) => {
  const root = f('GET /r', '', 100, 0, [f('handler', 'app.js:3', 70, 5, [f('parseAll', 'app.js:9', 40, 40), f('readFileSync', 'node:fs:450', 25, 25, [], false)]), f('(garbage collector)', '', 20, 20, [], false), f('lodash', 'node_modules/x.js:1', 10, 10, [], false)]);
  const found = findings({ ...base, sampled: { root_frame: root, sample_count: 10, interval_ms: 10 } });
  const of = (kind: string) => found.filter((x) => x.kind === kind);
  t.match(of('hot_function'), [{ evidence: { function: 'parseAll', file: 'app.js:9', share: 0.4, samples: 4, source: 'cpu_samples' } }], 'an application frame with 40 % of the samples; not a package');
  t.match(of('sync_io'), [{ evidence: { function: 'readFileSync', source: 'cpu_samples' } }]);
  t.match(of('gc'), [{ evidence: { gc_ms: 20, share: 0.2 } }]);
  t.match(prompt({ ...base, sampled: { root_frame: root, sample_count: 10, interval_ms: 10 } }, found)[1]!.content, /CPU samples \(every 10 ms, 10 samples/);
});

t.test('no findings from samples when there are none, or nothing stands out', async (t) => {
  t.same(findings({ ...base, sampled: { root_frame: f('GET /r', '', 0, 0), sample_count: 0, interval_ms: 10 } }), []);
  const flat = f('GET /r', '', 100, 0, Array.from({ length: 5 }, (_, i) => f(`step${i}`, `app.js:${i}`, 20, 20)));
  t.same(findings({ ...base, sampled: { root_frame: flat, sample_count: 10, interval_ms: 10 } }), [], 'five frames of 20 % each: none is hot');
});
