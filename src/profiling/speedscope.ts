import type { Frame } from './record.js';

/**
 * A record's span tree as a speedscope file (https://www.speedscope.app/file-format-schema.json): one `evented`
 * profile whose open and close events come from the frames' times, children laid one after another from their
 * parent's start (a span tree keeps durations, not start offsets), so the flame chart shows each frame's share.
 */
export function toSpeedscope(r: { id: string; route: string; method: string; tree: { root_frame: Frame } | null }): Record<string, unknown> {
  const frames: Array<{ name: string; file?: string }> = [];
  const index = new Map<string, number>();
  const events: Array<{ type: 'O' | 'C'; at: number; frame: number }> = [];
  const frameOf = (f: Frame) => {
    const key = `${f.function}\u0000${f.file_path_short}`;
    let i = index.get(key);
    if (i === undefined) {
      i = frames.push({ name: f.function, ...(f.file_path_short ? { file: f.file_path_short } : {}) }) - 1;
      index.set(key, i);
    }
    return i;
  };
  const walk = (f: Frame, at: number) => {
    const id = frameOf(f);
    const ms = f.time * 1000;
    events.push({ type: 'O', at, frame: id });
    let t = at;
    for (const c of f.children) {
      // children cannot outlast their parent on the chart (concurrent children can add up to more than it)
      const end = Math.min(t + c.time * 1000, at + ms);
      walk({ ...c, time: (end - t) / 1000 }, t);
      t = end;
    }
    events.push({ type: 'C', at: at + ms, frame: id });
  };
  const root = r.tree?.root_frame;
  if (root) walk(root, 0);
  const end = root ? root.time * 1000 : 0;
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    name: `${r.method} ${r.route} (${r.id})`,
    exporter: 'perfwatch',
    activeProfileIndex: 0,
    shared: { frames },
    profiles: [{ type: 'evented', name: `${r.method} ${r.route}`, unit: 'milliseconds', startValue: 0, endValue: end, events }],
  };
}

/**
 * A sampled tree (a record's CPU samples, or a route's merged) as a speedscope `sampled` profile: one stack per frame
 * with self time, weighted by it in milliseconds, so the left-heavy and sandwich views show where the CPU went.
 */
export function sampledSpeedscope(name: string, root: Frame | null): Record<string, unknown> {
  const frames: Array<{ name: string; file?: string }> = [];
  const index = new Map<string, number>();
  const samples: number[][] = [];
  const weights: number[] = [];
  const walk = (f: Frame, stack: number[]) => {
    const key = `${f.function}\u0000${f.file_path_short}`;
    let i = index.get(key);
    if (i === undefined) index.set(key, (i = frames.push({ name: f.function, ...(f.file_path_short ? { file: f.file_path_short } : {}) }) - 1));
    const here = [...stack, i];
    if (f.self_time > 0) (samples.push(here), weights.push(Math.round(f.self_time * 1e6) / 1000));
    for (const c of f.children) walk(c, here);
  };
  if (root) walk(root, []);
  const total = weights.reduce((s, w) => s + w, 0);
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    name,
    exporter: 'perfwatch',
    activeProfileIndex: 0,
    shared: { frames },
    profiles: [{ type: 'sampled', name, unit: 'milliseconds', startValue: 0, endValue: total, samples, weights }],
  };
}
