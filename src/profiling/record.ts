/**
 * A request record as the SDK sends it (docs/profiling.md), checked field by field. Hand-written rather than a zod
 * schema: the tree is recursive and must be bounded while it is walked (nodes, depth, string lengths), and each
 * problem names its path (`records[3].tree.root_frame.children[0].time`).
 */

export interface Frame {
  function: string;
  file_path_short: string;
  time: number;
  self_time: number;
  calls: number;
  is_application_code: boolean;
  children: Frame[];
}

/** A CPU-sampled tree (the SDK's `profiler: inspector`): times are samples × interval; `calls` is 0 (samples cannot count calls). */
export interface SampledTree {
  kind: 'sampled';
  interval_ms: number;
  sample_count: number;
  truncated: boolean;
  root_frame: Frame;
}

/** One route's samples over a window, every request's merged: the route flame graph's input. */
export interface RouteProfileInput {
  route: string;
  method: string;
  window_start: number;
  window_end: number;
  requests: number;
  tree: SampledTree;
}

export interface RecordInput {
  route: string;
  method: string;
  status: number;
  path: string | null;
  start_time: number;
  duration_ms: number;
  cpu_time_ms: number;
  memory_delta_bytes: number;
  tree: { kind: 'instrumented'; truncated: boolean; root_frame: Frame } | null;
  sampled: SampledTree | null;
}

export interface Limits {
  maxNodes: number;
}

const MAX_DEPTH = 128;
const METHOD_RE = /^[A-Z]{1,16}$/;

class Problem extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Record<string, unknown>, key: string, at: string, max: number, opts: { optional?: boolean; re?: RegExp; want?: string } = {}): string | null {
  const v = o[key];
  if (v === undefined || v === null) {
    if (opts.optional) return null;
    throw new Problem(`${at}${key}`, 'required');
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new Problem(`${at}${key}`, `expected a string of 1 to ${max} characters`);
  if (opts.re && !opts.re.test(v)) throw new Problem(`${at}${key}`, `expected ${opts.want}`);
  return v;
}

function num(o: Record<string, unknown>, key: string, at: string, min: number, max: number, opts: { optional?: boolean; int?: boolean } = {}): number {
  const v = o[key];
  if (v === undefined && opts.optional) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (opts.int && !Number.isInteger(v))) throw new Problem(`${at}${key}`, `expected ${opts.int ? 'an integer' : 'a number'} from ${min} to ${max}`);
  return v;
}

function frame(v: unknown, at: string, depth: number, budget: { nodes: number }): Frame {
  if (!isObj(v)) throw new Problem(at, 'expected a frame object');
  if (depth > MAX_DEPTH) throw new Problem(at, `deeper than ${MAX_DEPTH} frames`);
  if (--budget.nodes < 0) throw new Problem(at, 'the tree has more frames than profiling.max_nodes');
  const list = v.children ?? [];
  if (!Array.isArray(list)) throw new Problem(`${at}.children`, 'expected an array');
  const fn = str(v, 'function', `${at}.`, 512)!;
  const time = num(v, 'time', `${at}.`, 0, 86_400);
  const children = list.map((c, i) => frame(c, `${at}.children[${i}]`, depth + 1, budget));
  return {
    function: fn,
    file_path_short: typeof v.file_path_short === 'string' ? v.file_path_short.slice(0, 512) : '',
    time,
    // absent (pyinstrument's JSON has none; the SDK leaves it out): what the children do not account for, never below 0
    self_time: v.self_time === undefined ? Math.max(0, time - children.reduce((sum, c) => sum + c.time, 0)) : num(v, 'self_time', `${at}.`, 0, 86_400),
    calls: v.calls === undefined ? 1 : num(v, 'calls', `${at}.`, 0, 1e9, { int: true }),
    is_application_code: v.is_application_code !== false,
    children,
  };
}

function sampledTree(v: unknown, at: string, limits: Limits): SampledTree {
  if (!isObj(v)) throw new Problem(at, 'expected an object');
  if (v.kind !== 'sampled') throw new Problem(`${at}.kind`, 'expected "sampled"');
  return {
    kind: 'sampled',
    interval_ms: num(v, 'interval_ms', `${at}.`, 0.1, 1000),
    sample_count: num(v, 'sample_count', `${at}.`, 0, 1e9, { int: true }),
    truncated: v.truncated === true,
    root_frame: frame(v.root_frame, `${at}.root_frame`, 1, { nodes: limits.maxNodes }),
  };
}

const METHOD = { re: METHOD_RE, want: 'an HTTP method in capitals (GET, POST, …)' };
const TIME: [number, number] = [946_684_800, 4_102_444_800];

/** Runs `parse`, turning a Problem into `{ field, message }`. */
function checked<T>(parse: () => T): T | { field: string; message: string } {
  try {
    return parse();
  } catch (err) {
    if (err instanceof Problem) return { field: err.field, message: err.message };
    throw err;
  }
}

/** A route profile of a batch's `route_profiles`, or a problem naming the field. */
export function parseRouteProfile(v: unknown, at: string, limits: Limits): { profile: RouteProfileInput } | { field: string; message: string } {
  return checked(() => {
    if (!isObj(v)) throw new Problem(at.replace(/\.$/, ''), 'expected a JSON object');
    const profile: RouteProfileInput = {
      route: str(v, 'route', at, 256)!,
      method: str(v, 'method', at, 16, METHOD)!,
      window_start: num(v, 'window_start', at, ...TIME),
      window_end: num(v, 'window_end', at, ...TIME),
      requests: num(v, 'requests', at, 0, 1e9, { int: true }),
      tree: sampledTree(v.tree, `${at}tree`, limits),
    };
    if (profile.window_end < profile.window_start) throw new Problem(`${at}window_end`, 'before window_start');
    return { profile };
  });
}

/** The record, or a problem naming the field. `at` prefixes field paths (`records[3].`). */
export function parseRecord(v: unknown, at: string, limits: Limits): { record: RecordInput } | { field: string; message: string } {
  return checked(() => {
    if (!isObj(v)) throw new Problem(at.replace(/\.$/, '') || 'body', 'expected a JSON object');
    let tree: RecordInput['tree'] = null;
    if (v.tree !== undefined && v.tree !== null) {
      if (!isObj(v.tree)) throw new Problem(`${at}tree`, 'expected an object');
      if (v.tree.kind !== 'instrumented') throw new Problem(`${at}tree.kind`, 'expected "instrumented"');
      tree = { kind: 'instrumented', truncated: v.tree.truncated === true, root_frame: frame(v.tree.root_frame, `${at}tree.root_frame`, 1, { nodes: limits.maxNodes }) };
    }
    return {
      record: {
        route: str(v, 'route', at, 256)!,
        method: str(v, 'method', at, 16, METHOD)!,
        status: num(v, 'status', at, 100, 599, { int: true }),
        path: str(v, 'path', at, 512, { optional: true }),
        start_time: num(v, 'start_time', at, ...TIME),
        duration_ms: num(v, 'duration_ms', at, 0, 86_400_000),
        cpu_time_ms: num(v, 'cpu_time_ms', at, 0, 86_400_000, { optional: true }),
        memory_delta_bytes: num(v, 'memory_delta_bytes', at, -(2 ** 50), 2 ** 50, { optional: true }),
        tree,
        sampled: v.sampled === undefined || v.sampled === null ? null : sampledTree(v.sampled, `${at}sampled`, limits),
      },
    };
  });
}
