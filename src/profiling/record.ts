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
  const children = v.children ?? [];
  if (!Array.isArray(children)) throw new Problem(`${at}.children`, 'expected an array');
  return {
    function: str(v, 'function', `${at}.`, 512)!,
    file_path_short: typeof v.file_path_short === 'string' ? v.file_path_short.slice(0, 512) : '',
    time: num(v, 'time', `${at}.`, 0, 86_400),
    self_time: num(v, 'self_time', `${at}.`, 0, 86_400, { optional: true }),
    calls: v.calls === undefined ? 1 : num(v, 'calls', `${at}.`, 0, 1e9, { int: true }),
    is_application_code: v.is_application_code !== false,
    children: children.map((c, i) => frame(c, `${at}.children[${i}]`, depth + 1, budget)),
  };
}

/** The record, or a problem naming the field. `at` prefixes field paths (`records[3].`). */
export function parseRecord(v: unknown, at: string, limits: Limits): { record: RecordInput } | { field: string; message: string } {
  try {
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
        method: str(v, 'method', at, 16, { re: METHOD_RE, want: 'an HTTP method in capitals (GET, POST, …)' })!,
        status: num(v, 'status', at, 100, 599, { int: true }),
        path: str(v, 'path', at, 512, { optional: true }),
        start_time: num(v, 'start_time', at, 946_684_800, 4_102_444_800),
        duration_ms: num(v, 'duration_ms', at, 0, 86_400_000),
        cpu_time_ms: num(v, 'cpu_time_ms', at, 0, 86_400_000, { optional: true }),
        memory_delta_bytes: num(v, 'memory_delta_bytes', at, -(2 ** 50), 2 ** 50, { optional: true }),
        tree,
      },
    };
  } catch (err) {
    if (err instanceof Problem) return { field: err.field, message: err.message };
    throw err;
  }
}
