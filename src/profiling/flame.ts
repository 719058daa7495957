import type { Frame } from './record.js';

/**
 * Sampled trees merged into one (a route flame graph): frames with the same function and file under the same parent
 * become one, their times added. Roots merge whatever their names (each window's root is the route). The trees are
 * merged in place (the first becomes the result): pass trees of your own, such as freshly parsed ones.
 */
export function mergeFrames(trees: Frame[]): Frame | null {
  if (!trees.length) return null;
  // each merged node's children by function and file: a thousand wide windows stay linear, not quadratic
  const index = new WeakMap<Frame, Map<string, Frame>>();
  const key = (f: Frame) => `${f.function}\u0000${f.file_path_short}`;
  const childrenOf = (f: Frame) => {
    let m = index.get(f);
    if (!m) index.set(f, (m = new Map(f.children.map((c) => [key(c), c]))));
    return m;
  };
  const into = (a: Frame, b: Frame) => {
    a.time += b.time;
    a.self_time += b.self_time;
    a.calls += b.calls;
    const kids = childrenOf(a);
    for (const c of b.children) {
      const same = kids.get(key(c));
      if (same) into(same, c);
      else (a.children.push(c), kids.set(key(c), c));
    }
  };
  const root = trees[0]!;
  for (const t of trees.slice(1)) into(root, t);
  const sort = (f: Frame) => {
    f.children.sort((x, y) => y.time - x.time);
    f.children.forEach(sort);
  };
  sort(root);
  return root;
}

/** Folded stacks (`root;child;leaf 1234`, self time in µs; the count follows the last space), as flamegraph.pl, speedscope and Pyroscope read them. */
export function toCollapsed(root: Frame | null): string {
  if (!root) return '';
  const lines: string[] = [];
  const clean = (s: string) => s.replace(/[;\n]/g, '_');
  const walk = (f: Frame, prefix: string) => {
    const stack = prefix ? `${prefix};${clean(f.function)}` : clean(f.function);
    const us = Math.round(f.self_time * 1e6);
    if (us > 0) lines.push(`${stack} ${us}`);
    for (const c of f.children) walk(c, stack);
  };
  walk(root, '');
  return lines.join('\n') + (lines.length ? '\n' : '');
}
