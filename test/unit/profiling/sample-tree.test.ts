import t from 'tap';
import { SampleTree } from '../../../packages/sdk/src/sampler.js';

// a stack as the sampler builds it: root first, each frame's function, file and whether it is the app's
const stack = (...names: string[]) => names.map((fn) => ({ fn, file: `app.js:${fn.length}`, app: true, total: 0, self: 0, children: new Map() }));

t.test('a request\'s samples as a tree, merged per route, cut at max_nodes into the parents\' self time', async (t) => {
  const a = new SampleTree();
  for (let i = 0; i < 3; i++) a.add(stack('handler', 'hash'));
  a.add(stack('handler'));
  const b = new SampleTree();
  b.add(stack('handler', 'render'));
  b.add(stack('gc'));
  const route = new SampleTree();
  route.merge(a);
  route.merge(b);
  t.equal(route.samples, 6);
  const tree = route.toTree('GET /x', 10, 100);
  t.match(tree, { kind: 'sampled', interval_ms: 10, sample_count: 6, node_count: 5, truncated: false });
  const r = tree.root_frame;
  t.equal(r.time.toFixed(2), '0.06');
  t.same(r.children.map((c) => [c.function, Math.round(c.time * 1000), Math.round(c.self_time * 1000)]), [['handler', 50, 10], ['gc', 10, 10]], 'heaviest first; times are samples × interval');
  t.same(r.children[0]!.children.map((c) => [c.function, c.file_path_short, Math.round(c.time * 1000), c.calls]), [['hash', 'app.js:4', 30, 0], ['render', 'app.js:6', 10, 0]], 'sampling counts no calls');

  const cut = route.toTree('GET /x', 10, 2);
  t.match(cut, { node_count: 2, truncated: true });
  t.same(cut.root_frame.children.map((c) => c.function), ['handler']);
  t.equal(Math.round(cut.root_frame.self_time * 1000), 10, 'the cut gc frame counts in the root');
  t.equal(Math.round(cut.root_frame.children[0]!.self_time * 1000), 50, 'the cut hash and render count in handler');
});
