import t from 'tap';
import { mergeFrames, toCollapsed } from '../../../src/profiling/flame.js';
import type { Frame } from '../../../src/profiling/record.js';
import { sampledSpeedscope } from '../../../src/profiling/speedscope.js';

const f = (fn: string, file: string, time: number, self: number, children: Frame[] = []): Frame => ({ function: fn, file_path_short: file, time, self_time: self, calls: 0, is_application_code: true, children });

t.test('route windows merge: same function and file under the same parent add up; others stay apart', async (t) => {
  const a = f('GET /x', '', 0.05, 0, [f('handler', 'app.js:3', 0.05, 0.01, [f('hash', 'app.js:9', 0.04, 0.04)])]);
  const b = f('GET /x', '', 0.03, 0, [f('handler', 'app.js:3', 0.02, 0, [f('hash', 'app.js:9', 0.02, 0.02)]), f('(garbage collector)', '', 0.01, 0.01)]);
  const c = f('GET /x', '', 0.01, 0, [f('hash', 'other.js:1', 0.01, 0.01)]); // same name, another file: another frame
  const m = mergeFrames([a, b, c])!;
  t.equal(m.time.toFixed(2), '0.09');
  t.same(
    m.children.map((x) => [x.function, x.file_path_short, Number(x.time.toFixed(3))]),
    [
      ['handler', 'app.js:3', 0.07],
      ['(garbage collector)', '', 0.01],
      ['hash', 'other.js:1', 0.01],
    ],
    'heaviest first',
  );
  t.equal(Number(m.children[0]!.children[0]!.self_time.toFixed(3)), 0.06);
  t.equal(mergeFrames([]), null);
});

t.test('folded stacks and speedscope from a sampled tree', async (t) => {
  const tree = f('GET /x', '', 0.05, 0, [f('handler', 'app.js:3', 0.05, 0.01, [f('a;b c', 'app.js:9', 0.04, 0.04)])]);
  t.equal(toCollapsed(tree), 'GET /x;handler 10000\nGET /x;handler;a_b c 40000\n', 'self time in µs; a ";" in a name is escaped, spaces kept');
  t.equal(toCollapsed(null), '');
  const ss = sampledSpeedscope('GET /x', tree) as { shared: { frames: Array<{ name: string; file?: string }> }; profiles: Array<{ type: string; samples: number[][]; weights: number[]; endValue: number }> };
  t.same(ss.shared.frames, [{ name: 'GET /x' }, { name: 'handler', file: 'app.js:3' }, { name: 'a;b c', file: 'app.js:9' }]);
  t.same(ss.profiles[0]!.samples, [[0, 1], [0, 1, 2]]);
  t.same(ss.profiles[0]!.weights, [10, 40]);
  t.equal(ss.profiles[0]!.endValue, 50);
  t.same((sampledSpeedscope('empty', null) as { profiles: Array<{ samples: unknown[] }> }).profiles[0]!.samples, []);
});
