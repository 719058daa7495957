/**
 * The opt-in CPU sampler (`profiler: 'inspector'`): one V8 sampling profiler for the whole process, started once and
 * kept running, never one per request (each start re-logs every compiled function for ~15 ms, and overlapping
 * per-request profiles see each other's samples: docs/profiling.md and ../shared/reference/profiling.md §1.2).
 *
 * Attribution: an async hook writes a timeline of "which request's context runs now" (ms, request id); the
 * profile's sample times are on the same monotonic clock, so each sample goes to the request that was running when
 * it was taken. At each `take()` the window's profile ends and the next begins, and every sample becomes a trimmed
 * stack added to its request's tree. No dependency: `node:inspector` is part of Node.
 *
 * Windows are the inspector's console profiles (`console.profile(title)`), each begun before the last one ends, so V8's
 * profiler never stops between two: `Profiler.stop` then `Profiler.start` held the app's thread 16–30 ms per take while
 * V8 logged every compiled function again (more in an app with more code), where a take now holds it about 0.6 ms,
 * attribution included (bench/README.md, issue 15). A DevTools attached to the app sees these windows in its profiles
 * list, titled `perfwatch-<s>.<n>`.
 */
import { createHook, type AsyncHook } from 'node:async_hooks';
import { Session, console as inspectorConsole } from 'node:inspector';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Frame } from './index.js';

/** A frame of a sampled tree: every field there (`calls` is 0: samples cannot count calls). */
export interface SampledFrame extends Frame {
  file_path_short: string;
  self_time: number;
  calls: number;
  is_application_code: boolean;
  children: SampledFrame[];
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A node of a sampled tree while samples are added: samples that ended here (self) and below (total). */
interface SNode {
  fn: string;
  file: string;
  app: boolean;
  total: number;
  self: number;
  children: Map<string, SNode>;
}

/**
 * V8 stamps a sample later than the stack it holds: measured on Node 20.20 (V8 11.3) at 1, 5, 10 and 20 ms intervals,
 * attribution was right most often with sample times moved 0.5–1 ms earlier, more under CPU contention. So a sample's
 * estimated time is its stamp minus LAG_MS, and it is kept only when its request is the only code that ran within
 * GUARD_MS of that time: another request, or code outside any request (idle, timers, the server) for longer than
 * GAP_MS, and the sample is dropped rather than guessed (docs/profiling.md has the measurement). Shorter gaps are the
 * server's own code around a request's synchronous part, before its first callback.
 */
const LAG_MS = 0.75;
const GUARD_MS = 0.75;
const GAP_MS = 0.25;

/** Whether request `id` (the state at timeline[k]) is the only code that ran within GUARD_MS of `at`. */
function alone(timeline: number[], k: number, id: number, at: number, end: number): boolean {
  const other = (j: number) => {
    const who = timeline[j + 1];
    if (who === id) return false;
    if (who !== 0) return true;
    return (timeline[j + 2] ?? end) - timeline[j]! >= GAP_MS; // outside any request, and not just between two callbacks
  };
  for (let j = k - 2; j >= 0 && timeline[j + 2]! > at - GUARD_MS; j -= 2) if (other(j)) return false;
  for (let j = k + 2; j < timeline.length && timeline[j]! < at + GUARD_MS; j += 2) if (other(j)) return false;
  return true;
}

/** A sampled tree as records and route profiles carry it; times are samples × interval, in seconds. */
export interface SampledTree {
  kind: 'sampled';
  interval_ms: number;
  sample_count: number;
  node_count: number;
  truncated: boolean;
  root_frame: SampledFrame;
}

/** This SDK's directory as a URL prefix: its frames (the middleware, the collector) are never the application's. */
const SDK_URL = new URL('.', import.meta.url).href;
const newSNode = (fn: string, file: string, app: boolean): SNode => ({ fn, file, app, total: 0, self: 0, children: new Map() });

/** Samples of one request, or merged over a route: a tree of trimmed stacks. */
export class SampleTree {
  readonly root = newSNode('', '', true);
  samples = 0;

  add(stack: readonly SNode[]): void {
    this.samples++;
    this.root.total++;
    let n = this.root;
    for (const f of stack) {
      const key = `${f.fn}\u0000${f.file}`;
      let c = n.children.get(key);
      if (!c) n.children.set(key, (c = newSNode(f.fn, f.file, f.app)));
      c.total++;
      n = c;
    }
    n.self++;
  }

  merge(other: SampleTree): void {
    const walk = (into: SNode, from: SNode) => {
      into.total += from.total;
      into.self += from.self;
      for (const [key, c] of from.children) {
        let t = into.children.get(key);
        if (!t) into.children.set(key, (t = newSNode(c.fn, c.file, c.app)));
        walk(t, c);
      }
    };
    walk(this.root, other.root);
    this.samples += other.samples;
  }

  /** The tree in the record's frame fields, under a root named `rootName`, at most `maxNodes` frames (the rest fold into their parent's self time). */
  toTree(rootName: string, intervalMs: number, maxNodes: number): SampledTree {
    const s = intervalMs / 1000;
    let nodes = 0;
    let truncated = false;
    const frame = (n: SNode, name: string, file: string): SampledFrame => {
      nodes++;
      const children: SampledFrame[] = [];
      let folded = 0;
      // the heaviest first, so a cap keeps what matters
      for (const c of [...n.children.values()].sort((a, b) => b.total - a.total)) {
        if (nodes >= maxNodes) {
          truncated = true;
          folded += c.total;
          continue;
        }
        children.push(frame(c, c.fn, c.file));
      }
      return { function: name, file_path_short: file, time: n.total * s, self_time: (n.self + folded) * s, calls: 0, is_application_code: n.app, children };
    };
    const root_frame = frame(this.root, rootName, '');
    return { kind: 'sampled', interval_ms: intervalMs, sample_count: this.samples, node_count: nodes, truncated, root_frame };
  }
}

/** Samplers made in this process, for their windows' titles. */
let samplers = 0;

/**
 * The process-wide sampler. `current` is the request id running now (0: none); `getId` reads the id from the
 * request's AsyncLocalStorage store. The hook costs about 0.25 µs per async callback while it is on (bench/README.md).
 */
export class Sampler {
  readonly #session = new Session();
  readonly #hook: AsyncHook;
  readonly #intervalMs: number;
  readonly #root: string;
  /** [ms, id, ms, id, …]: from each time on, request `id` ran (0: none). */
  #timeline: number[] = [];
  current = 0;
  /** Profile time (µs, monotonic) minus performance.now() × 1000. */
  #offsetUs = 0;
  readonly #trees = new Map<number, { tree: SampleTree; age: number }>();
  #running = false;
  /** Console profiles go to every inspector session of the process: titles name this sampler (`perfwatch-<s>.<n>`). */
  readonly #name = `perfwatch-${++samplers}`;
  /** The window's number. */
  #window = 0;
  /** Ended windows whose profile has not arrived yet. */
  readonly #ending = new Map<string, (profile: CpuProfile) => void>();

  constructor(intervalMs: number, getId: () => number, root = process.cwd()) {
    this.#intervalMs = intervalMs;
    this.#root = root;
    // `before` only: a callback's end is where the next callback (a request's or not) begins, and what runs between two
    // (the event loop's native work, waiting) samples as `(program)` or `(idle)`, which no request gets. An `after`
    // that marked 0 doubled the hook's cost: 5.7 against 2.6 µs per request of ten awaits (bench/apps/hook-cost.mjs,
    // bench/README.md issue 15).
    this.#hook = createHook({ before: () => this.mark(getId()) });
  }

  /** Records that request `id` runs from now on (0: none). */
  mark(id: number): void {
    if (id === this.current) return;
    this.current = id;
    this.#timeline.push(performance.now(), id);
  }

  #post<T>(method: string, params?: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => this.#session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
  }

  async start(): Promise<void> {
    this.#session.connect();
    this.#session.on('Profiler.consoleProfileFinished', ({ params }: { params: { title?: string; profile: CpuProfile } }) => {
      const done = params.title === undefined ? undefined : this.#ending.get(params.title);
      if (!done) return; // someone else's console.profile
      this.#ending.delete(params.title!);
      done(params.profile);
    });
    await this.#post('Profiler.enable');
    await this.#post('Profiler.setSamplingInterval', { interval: Math.round(this.#intervalMs * 1000) });
    this.#offsetUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
    inspectorConsole.profile(`${this.#name}.${++this.#window}`);
    this.#timeline = [performance.now(), this.current];
    this.#hook.enable();
    this.#running = true;
  }

  /** Ends the window's profile; resolves to it (the inspector sends it as an event). */
  #end(window: number): Promise<CpuProfile> {
    const title = `${this.#name}.${window}`;
    return new Promise<CpuProfile>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#ending.delete(title);
        reject(new Error(`the inspector sent no profile for ${title}`));
      }, 5000);
      timer.unref();
      this.#ending.set(title, (profile) => {
        clearTimeout(timer);
        resolve(profile);
      });
      inspectorConsole.profileEnd(title);
    });
  }

  /**
   * Begins the next window, ends this one, and adds each of its samples to its request's tree. Trees stay until
   * `claim`ed; one nobody claims for three takes (a request sampled out, or one that never ended) is dropped.
   */
  async take(): Promise<void> {
    if (!this.#running) return;
    const ending = this.#window;
    inspectorConsole.profile(`${this.#name}.${++this.#window}`); // first, so the profiler never stops
    const arriving = this.#end(ending);
    // the new timeline starts once the old window has ended: a sample both windows hold is attributed once, by the old
    const timeline = this.#timeline;
    this.#timeline = [performance.now(), this.current];
    const profile = await arriving;
    for (const [id, t] of this.#trees) if (++t.age > 3) this.#trees.delete(id);
    this.#attribute(profile, timeline);
  }

  #attribute(profile: CpuProfile, timeline: number[]): void {
    const byId = new Map<number, ProfileNode>();
    const parent = new Map<number, number>();
    for (const n of profile.nodes) {
      byId.set(n.id, n);
      for (const c of n.children ?? []) parent.set(c, n.id);
    }
    const stacks = new Map<number, SNode[]>();
    const stackOf = (leaf: number): SNode[] => {
      let s = stacks.get(leaf);
      if (!s) stacks.set(leaf, (s = this.#trim(leaf, byId, parent)));
      return s;
    };
    // the thread waiting in the event loop, or in its native work between two callbacks, is never a request's work,
    // whatever the timeline says
    const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)').map((n) => n.id));
    const end = performance.now();
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    let t = (profile.startTime - this.#offsetUs) / 1000;
    let k = -2; // timeline[k] is the last switch at or before the sample's estimated time
    for (let i = 0; i < samples.length; i++) {
      t += (deltas[i] ?? 0) / 1000;
      const at = t - LAG_MS;
      while (k + 2 < timeline.length && timeline[k + 2]! <= at) k += 2;
      const id = k >= 0 ? timeline[k + 1]! : 0;
      if (id === 0 || !alone(timeline, k, id, at, end) || idle.has(samples[i]!)) continue;
      let entry = this.#trees.get(id);
      if (!entry) this.#trees.set(id, (entry = { tree: new SampleTree(), age: 0 }));
      entry.tree.add(stackOf(samples[i]!));
    }
  }

  /**
   * The stack of a sample, root first, trimmed above the first frame of the application (not node's internals, not a
   * package, not this SDK) below the SDK's own frames: the part before an await and the part after it start from
   * different roots, and trimming makes them one tree (pyinstrument's `_trim_stem`). A stack with no application frame
   * keeps its named frames.
   */
  #trim(leaf: number, byId: Map<number, ProfileNode>, parent: Map<number, number>): SNode[] {
    const chain: CallFrame[] = [];
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) chain.push(byId.get(id)!.callFrame);
    chain.reverse();
    const frames = chain.filter((f) => f.functionName !== '(root)');
    const isApp = (f: CallFrame) => f.url !== '' && !f.url.startsWith('node:') && !f.url.includes('/node_modules/') && !this.#isSdk(f.url);
    // what called the middleware (the server, the framework, the module that began the request) is not the request's
    const below = frames.slice(frames.findLastIndex((f) => this.#isSdk(f.url)) + 1);
    const first = below.findIndex(isApp);
    const kept = first >= 0 ? below.slice(first) : below.filter((f) => f.url !== '' || f.functionName.startsWith('('));
    return kept.map((f) => newSNode(f.functionName || '(anonymous)', this.#short(f), isApp(f)));
  }

  #isSdk(url: string): boolean {
    return url.startsWith('file://') && url.startsWith(SDK_URL);
  }

  /** `src/app.js:12`: relative to the project, so records group across hosts and leak no home directories. */
  #short(f: CallFrame): string {
    if (!f.url) return '';
    const file = f.url.startsWith('file://') ? path.relative(this.#root, fileURLToPath(f.url)) : f.url;
    return `${file}:${f.lineNumber + 1}`;
  }

  /** The samples of request `id` since it began, and forgets them. */
  claim(id: number): SampleTree | null {
    const t = this.#trees.get(id);
    if (!t) return null;
    this.#trees.delete(id);
    return t.tree;
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#hook.disable();
    await this.#end(this.#window).catch(() => undefined);
    this.#session.disconnect();
    this.#trees.clear();
  }
}
