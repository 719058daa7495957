/**
 * @perfwatch/sdk: per-request performance records with a span tree, for Node web apps, sent to perfwatch
 * (docs/profiling.md). No runtime dependency. The three ways in of seed 004: framework middleware (`koa`, `express`,
 * `fastify` below), a wrapper (`collector.monitor(fn)`, `collector.decorate()`), and a manual block
 * (`collector.collect(fn)`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { getHeapStatistics } from 'node:v8';
import { resolveConfig, type SdkConfig } from './config.js';
import { CpuClock } from './cpu.js';
import { toOtlp } from './otlp.js';
import { Sampler, SampleTree, type SampledTree } from './sampler.js';
import { Sender } from './send.js';

export { resolveConfig, parseYamlBlock, type SdkConfig } from './config.js';
export type { SampledFrame, SampledTree } from './sampler.js';

/**
 * A node of the tree, in pyinstrument's JSON frame fields plus `self_time` and `calls`; times in seconds. Spans leave
 * out what perfwatch defaults to (the OTLP export reads them back the same way); sampled trees carry every field.
 */
export interface Frame {
  function: string;
  /** `path/relative/to/cwd.js:line` of a sampled frame; left out of spans, which have none (perfwatch reads ''). */
  file_path_short?: string;
  /** Seconds, to the microsecond. */
  time: number;
  /** Left out of spans: `time` less the children's, never below 0 (concurrent children can add up to more). */
  self_time?: number;
  /** Left out of spans when 1. */
  calls?: number;
  /** Left out when true (perfwatch's default): spans are the app's own functions. */
  is_application_code?: boolean;
  /** Left out of spans without children. */
  children?: Frame[];
  /** Milliseconds from the request's start to this node's first call, for the OTLP spans only (perfwatch ignores it). */
  start_offset_ms?: number;
}

/** One request, as POST /api/v1/performance/collect takes it. */
export interface PerfRecord {
  route: string;
  method: string;
  status: number;
  path?: string;
  start_time: number;
  duration_ms: number;
  cpu_time_ms: number;
  memory_delta_bytes: number;
  tree: { kind: 'instrumented'; node_count: number; truncated: boolean; root_frame: Frame };
  /** The request's CPU samples (profiler on, and at least profiler_min_samples of them). */
  sampled?: SampledTree;
}

/** The samples of one route over a window, every request's merged (those with too few for a tree of their own too). */
export interface RouteProfile {
  route: string;
  method: string;
  window_start: number;
  window_end: number;
  requests: number;
  tree: SampledTree;
}

interface Node {
  name: string;
  /** ms from the request's start to the first call */
  start: number;
  time: number;
  calls: number;
  /** Made at the first child: most spans are leaves. */
  children: Map<string, Node> | null;
}

/** One request's tree and its counts, shared by every span of it. */
interface RequestState {
  /** The request's number, for the sampler's timeline. */
  id: number;
  t0: number;
  root: Node;
  nodes: number;
  truncated: boolean;
}

/** What the AsyncLocalStorage holds: the request, and the span that calls made here nest under. */
interface Context {
  req: RequestState;
  cur: Node;
}

export interface SdkStats {
  recorded: number;
  /** Batches also sent as OTLP traces, and those that failed (not retried: perfwatch has the records). */
  otlp_sent: number;
  otlp_failed: number;
  sampled_out: number;
  sent: number;
  dropped_queue_full: number;
  dropped_send_failed: number;
  queued: number;
  /** The sampler: off, running, or failed (the reason is in `profiler_error`; requests are recorded as ever). */
  profiler: 'off' | 'running' | 'failed';
  profiler_error?: string;
  /** Takes that failed, each losing its window's samples (the last reason is in `profiler_error`). */
  takes_failed: number;
  /** Records that left with a sampled tree, and route profiles sent. */
  sampled_trees: number;
  route_profiles: number;
  /**
   * Records and route profiles perfwatch refused one by one (its caps, e.g. `profiling.max_nodes`, are tighter than
   * the SDK's); `last_rejection` names the field of the last one. A refused record is not counted in `sent`.
   */
  rejected: number;
  route_profiles_rejected: number;
  last_rejection?: string;
}

/** What perfwatch's batch answer says it refused, one by one: `{data: {errors, route_profile_errors}}`. */
interface BatchAnswer {
  data?: { errors?: Array<{ index?: number; field?: string; message?: string }>; route_profile_errors?: Array<{ field?: string; message?: string }> };
}

const newNode = (name: string, start = 0): Node => ({ name, start, time: 0, calls: 0, children: null });

/** A request path without its query string, at most 512 characters. */
const pathOnly = (p: string) => {
  const q = p.indexOf('?');
  return (q < 0 ? p : p.slice(0, q)).slice(0, 512);
};

/** Seconds to the microsecond: what performance.now() resolves, in 8 characters of JSON where a double takes 20. */
const micros = (seconds: number) => Math.round(seconds * 1e6) / 1e6;

/**
 * A span node as a frame of the wire form. Only what perfwatch reads leaves: the fields it defaults are left out
 * (`self_time`, `calls` of 1, empty `children`, `file_path_short`, `is_application_code`), and so are start offsets
 * unless OTLP wants them. A record's bytes are most of what sending it costs the app (the JSON, and the copy over the
 * socket): the bench app's record went from 1006 to 594 bytes, then to 418 (bench/README.md, issue 15).
 */
function toFrame(n: Node, offsets: boolean): Frame {
  const f: Frame = { function: n.name, time: micros(n.time) };
  if (n.calls !== 1) f.calls = n.calls;
  if (n.children) {
    const children: Frame[] = [];
    for (const c of n.children.values()) children.push(toFrame(c, offsets));
    f.children = children;
  }
  if (offsets) f.start_offset_ms = Math.round(n.start * 1000) / 1000;
  return f;
}

/** The fields a request's record starts with; the middleware fills `route` and `status` when the response is done. */
export interface RequestInfo {
  method: string;
  path?: string;
  route?: string;
  status?: number;
}

/** A request begun by `Collector.begin`. */
export interface Begun {
  enter<T>(fn: () => T): T;
  end(info: RequestInfo): void;
}

/**
 * The collector: the span tree of the request in flight (AsyncLocalStorage), the queue, and the sender. Nothing here
 * throws into the app or waits on the network inside a request: records are queued and leave from a timer.
 */
export class Collector {
  readonly config: SdkConfig;
  readonly #als = new AsyncLocalStorage<Context>();
  readonly #queue: PerfRecord[] = [];
  readonly #stats: SdkStats = { otlp_sent: 0, otlp_failed: 0, recorded: 0, sampled_out: 0, sent: 0, dropped_queue_full: 0, dropped_send_failed: 0, queued: 0, profiler: 'off', takes_failed: 0, sampled_trees: 0, route_profiles: 0, rejected: 0, route_profiles_rejected: 0 };
  #sampler: Sampler | null = null;
  #samplerReady: Promise<void> = Promise.resolve();
  /** Request numbers of the queued records, for their samples. */
  readonly #ids = new WeakMap<PerfRecord, number>();
  /**
   * With the sampler: records whose request used enough CPU to have profiler_min_samples samples wait here for the next
   * take, which gives them their tree. The rest leave in full batches as without the sampler, and their samples still
   * count in their route's profile at that take (`#sentEarly`).
   */
  #held: PerfRecord[] = [];
  #sentEarly: Array<{ id: number; route: string; method: string }> = [];
  #nextId = 0;
  #early = false;
  #windowStart = Date.now() / 1000;
  #timer: ReturnType<typeof setInterval> | null = null;
  #chain: Promise<void> = Promise.resolve();
  readonly #batchUrl: string;
  readonly #sender = new Sender();
  readonly #cpu = new CpuClock();
  readonly #onExit = () => void this.flush();

  constructor(config: Partial<SdkConfig> = {}, env: NodeJS.ProcessEnv = process.env) {
    this.config = resolveConfig(config, env);
    this.#batchUrl = this.config.api_endpoint.replace(/\/collect\/?$/, '/batch');
    if (this.config.enabled) {
      this.#timer = setInterval(() => void this.flush(), this.config.flush_interval * 1000);
      this.#timer.unref();
      process.once('beforeExit', this.#onExit); // the last partial batch leaves when the app ends on its own
      if (this.config.profiler === 'inspector') this.#startSampler();
    }
  }

  #startSampler(): void {
    const sampler = new Sampler(this.config.profiler_interval_ms, () => this.#als.getStore()?.req.id ?? 0);
    this.#sampler = sampler;
    this.#samplerReady = sampler.start().then(
      () => {
        this.#stats.profiler = 'running';
      },
      (err: Error) => {
        // another tool holds the profiler, or the inspector is off: requests are recorded as ever, without samples
        this.#sampler = null;
        this.#stats.profiler = 'failed';
        this.#stats.profiler_error = err.message;
        void sampler.stop().catch(() => undefined);
      },
    );
  }

  stats(): SdkStats {
    return { ...this.#stats, queued: this.#queue.length + this.#held.length };
  }

  /**
   * Runs `handler` as one request: a root span, timing, CPU and heap deltas; the record is queued when it settles.
   * `info.route` and `info.status` may be set by the handler (the middleware does, from the framework).
   */
  async request<T>(info: RequestInfo, handler: (info: RequestInfo) => Promise<T> | T): Promise<T> {
    const r = this.begin(info.method);
    if (!r) return handler(info);
    try {
      return await r.enter(() => handler(info));
    } catch (err) {
      info.status ??= statusOf(err);
      throw err;
    } finally {
      r.end(info);
    }
  }

  /**
   * Starts a request, or returns null when the SDK is off, the request is sampled out (counted), or this runs inside
   * a request already (a request inside a request is part of it: an Express sub-app with the middleware too records
   * once). `enter` runs a function in the request's context; `end` records it (once). For the middleware, and for
   * frameworks whose end is an event (Express' `finish`, Fastify's `onResponse`) rather than one awaited call.
   */
  begin(method: string): Begun | null {
    if (!this.config.enabled || this.#als.getStore()) return null;
    if (this.config.sampling_rate < 1 && Math.random() >= this.config.sampling_rate) {
      this.#stats.sampled_out++;
      return null;
    }
    const root = newNode(`${method} request`);
    root.calls = 1;
    const t0 = performance.now();
    const id = ++this.#nextId;
    const req: RequestState = { id, t0, root, nodes: 1, truncated: false };
    const context: Context = { req, cur: root };
    const startTime = Date.now() / 1000;
    const cpu0 = this.#cpu.start();
    // v8's heap statistics: 0.2 µs, where process.memoryUsage() reads /proc for the RSS it also returns (7 µs)
    const heap0 = getHeapStatistics().used_heap_size;
    let ended = false;
    return {
      enter: <T>(fn: () => T) => {
        const s = this.#sampler;
        if (!s) return this.#als.run(context, fn);
        // the synchronous part runs inside the server's callback, before any async hook sees the request's store
        const prev = s.current;
        s.mark(id);
        try {
          return this.#als.run(context, fn);
        } finally {
          s.mark(prev);
        }
      },
      end: (info: RequestInfo) => {
        if (ended) return;
        ended = true;
        root.time = (performance.now() - t0) / 1000;
        root.name = `${info.method} ${info.route ?? '<unmatched>'}`;
        const record: PerfRecord = {
          route: info.route ?? '<unmatched>',
          method: info.method,
          status: info.status ?? 200,
          // undefined leaves no key in the JSON, and every record keeps one shape
          path: info.path === undefined ? undefined : pathOnly(info.path),
          start_time: startTime,
          duration_ms: Math.round(root.time * 1e6) / 1000,
          // process CPU over the request: exact for one request at a time, an upper bound under concurrency (CpuClock)
          cpu_time_ms: Math.round(this.#cpu.since(cpu0)) / 1000,
          memory_delta_bytes: getHeapStatistics().used_heap_size - heap0,
          tree: { kind: 'instrumented', node_count: req.nodes, truncated: req.truncated, root_frame: toFrame(root, Boolean(this.config.otlp_endpoint)) },
        };
        if (this.#sampler) this.#ids.set(record, id);
        this.#push(record);
      },
    };
  }

  /** Runs `fn` as a span named `name` of the request in flight (a plain call outside a request). Repeated calls of one name under one parent merge into one node with `calls`. */
  span<T>(name: string, fn: () => T): T {
    const ctx = this.#als.getStore();
    if (!ctx) return fn(); // outside a request: no bookkeeping at all
    const req = ctx.req;
    const parent = ctx.cur;
    let node = parent.children?.get(name);
    if (!node) {
      // the count and the cap are the request's, whatever the depth
      if (req.nodes >= this.config.max_nodes) {
        req.truncated = true;
        return fn(); // over the cap: its time stays in the parent's self time
      }
      node = newNode(name, performance.now() - req.t0);
      (parent.children ??= new Map()).set(name, node);
      req.nodes++;
    }
    const n = node;
    n.calls++;
    const t0 = performance.now();
    // each call its own context, so concurrent children (Promise.all) each nest under the right parent
    const result = this.#als.run({ req, cur: n }, fn);
    if (result && typeof (result as { then?: unknown }).then === 'function') {
      // one then rather than finally, which makes two more promises (each seen by the async hooks)
      return (result as unknown as Promise<unknown>).then(
        (v) => {
          n.time += (performance.now() - t0) / 1000;
          return v;
        },
        (err: unknown) => {
          n.time += (performance.now() - t0) / 1000;
          throw err;
        },
      ) as T;
    }
    n.time += (performance.now() - t0) / 1000;
    return result;
  }

  /** The seed's manual collector: `await collector.collect(async () => …, 'name')` records a span (or, outside a request, a request of its own). */
  collect<T>(fn: () => Promise<T> | T, name = 'collect'): Promise<T> {
    if (this.#als.getStore()) return Promise.resolve(this.span(name, fn));
    return this.request({ method: 'TASK', route: name }, () => fn());
  }

  /** The seed's wrapper (`monitor_performance`): the function, timed as a span named after it on every call. */
  monitor<A extends unknown[], R>(fn: (...args: A) => R, name = fn.name || 'anonymous'): (...args: A) => R {
    const self = this;
    return function (this: unknown, ...args: A): R {
      return self.span(name, () => fn.apply(this, args));
    };
  }

  /** A TypeScript (standard) method decorator: `@collector.decorate()` times the method as `Class.method`. */
  decorate(name?: string) {
    return <This, A extends unknown[], R>(method: (this: This, ...args: A) => R, context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>) => {
      const label = name ?? String(context.name);
      const self = this;
      return function (this: This, ...args: A): R {
        const owner = (this as { constructor?: { name?: string } })?.constructor?.name;
        return self.span(owner ? `${owner}.${label}` : label, () => method.apply(this, args));
      };
    };
  }

  #push(r: PerfRecord): void {
    this.#stats.recorded++;
    if (this.#queue.length + this.#held.length >= this.config.max_queue) {
      this.#stats.dropped_queue_full++;
      return;
    }
    const { profiler_min_samples: min, profiler_interval_ms: interval, max_queue: cap } = this.config;
    // the process' CPU over the request bounds the request's own: below half of min samples' worth, no tree can come
    if (this.#sampler && r.cpu_time_ms >= (min * interval) / 2) {
      this.#held.push(r);
      if (this.#held.length >= cap / 4 && !this.#early) {
        // many slow requests: one flush with its take now (each take restarts the profiler, a stall of ~15 ms)
        this.#early = true;
        void this.flush().finally(() => (this.#early = false));
      }
      return;
    }
    this.#queue.push(r);
    if (!this.config.async_send) void this.flush();
    else if (this.#queue.length === this.config.batch_size) void this.flush(true);
  }

  /**
   * Sends what is queued, batch by batch; resolves when done (never rejects). Sends run one after another. With
   * `fullOnly` (what a filled batch triggers) only full batches leave; the rest waits for the timer or `flush()`.
   */
  flush(fullOnly = false): Promise<void> {
    const run = async () => {
      let routeProfiles = fullOnly ? [] : await this.#takeSamples();
      const size = this.config.batch_size;
      // only what is queued now: under steady load records keep arriving while a batch is sent, and a flush that
      // waited for an empty queue never ended, sending a request for every few records (bench/README.md, issue 15)
      const due = this.#queue.length;
      for (let taken = 0; taken < due && this.#queue.length >= (fullOnly ? size : 1); ) {
        const batch = this.#queue.splice(0, fullOnly ? size : Math.min(size, due - taken));
        taken += batch.length;
        if (fullOnly && this.#sampler) this.#noteEarly(batch);
        if (this.config.otlp_endpoint) await this.#sendOtlp(batch);
        const answer = await this.#send(batch, routeProfiles);
        if (answer) {
          this.#stats.sent += batch.length - answer.rejected.length;
          this.#stats.route_profiles += routeProfiles.length - answer.profilesRejected;
          this.#stats.sampled_trees += batch.filter((r, i) => r.sampled && !answer.rejected.includes(i)).length;
        } else this.#stats.dropped_send_failed += batch.length;
        routeProfiles = []; // the window's route profiles ride with its first batch
      }
      // nothing left to send with them (every record of the window left early): they go alone
      if (routeProfiles.length) {
        const answer = await this.#send([], routeProfiles);
        if (answer) this.#stats.route_profiles += routeProfiles.length - answer.profilesRejected;
      }
    };
    this.#chain = this.#chain.then(run, run);
    return this.#chain;
  }

  /**
   * With the sampler on: ends its window, gives each queued record its samples (a tree of its own past
   * profiler_min_samples), and returns the window's samples merged per route.
   */
  async #takeSamples(): Promise<RouteProfile[]> {
    await this.#samplerReady;
    const s = this.#sampler;
    if (!s) return [];
    try {
      await s.take();
    } catch (err) {
      // a failed take loses one window's samples, never a record: below, those waiting for their trees find none
      this.#stats.takes_failed++;
      this.#stats.profiler_error = `a take failed: ${(err as Error).message}`;
    }
    const windowStart = this.#windowStart;
    const windowEnd = (this.#windowStart = Date.now() / 1000);
    const { profiler_interval_ms: interval, profiler_min_samples: min, max_nodes: maxNodes } = this.config;
    const routes = new Map<string, { route: string; method: string; requests: number; tree: SampleTree }>();
    const add = (r: { route: string; method: string }, tree: SampleTree) => {
      const name = `${r.method} ${r.route}`;
      let g = routes.get(name);
      if (!g) routes.set(name, (g = { route: r.route, method: r.method, requests: 0, tree: new SampleTree() }));
      g.requests++;
      g.tree.merge(tree);
    };
    this.#queue.unshift(...this.#held);
    this.#held = [];
    for (const r of this.#queue) {
      const id = this.#ids.get(r);
      const tree = id === undefined ? null : s.claim(id);
      if (!tree) continue;
      if (tree.samples >= min) r.sampled = tree.toTree(`${r.method} ${r.route}`, interval, maxNodes);
      add(r, tree);
    }
    for (const r of this.#sentEarly) {
      const tree = s.claim(r.id);
      if (tree) add(r, tree);
    }
    this.#sentEarly = [];
    return [...routes.entries()].map(([name, g]) => ({ route: g.route, method: g.method, window_start: windowStart, window_end: windowEnd, requests: g.requests, tree: g.tree.toTree(name, interval, maxNodes) }));
  }

  /** Records leaving before the take: their samples will still count in their route's profile. */
  #noteEarly(batch: PerfRecord[]): void {
    for (const r of batch) {
      const id = this.#ids.get(r);
      if (id !== undefined && this.#sentEarly.length < this.config.max_queue) this.#sentEarly.push({ id, route: r.route, method: r.method });
    }
  }

  async #sendOtlp(records: PerfRecord[]): Promise<void> {
    const base = this.config.otlp_endpoint!.replace(/\/+$/, '');
    try {
      const { status } = await this.#sender.post(base.endsWith('/v1/traces') ? base : `${base}/v1/traces`, {}, JSON.stringify(toOtlp(records, this.config.service_name ?? 'app')), this.config.timeout * 1000);
      if (status >= 200 && status < 300) this.#stats.otlp_sent++;
      else this.#stats.otlp_failed++;
    } catch {
      this.#stats.otlp_failed++;
    }
  }

  /** Sends one batch; resolves to what perfwatch refused of it (indices of records), or null when it was not delivered. */
  async #send(records: PerfRecord[], routeProfiles: RouteProfile[]): Promise<{ rejected: number[]; profilesRejected: number } | null> {
    const body = JSON.stringify(routeProfiles.length ? { records, route_profiles: routeProfiles } : { records });
    for (let attempt = 0; attempt < this.config.max_retries; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)).unref?.());
      try {
        // return=minimal: perfwatch leaves out the stored records' ids, which the SDK never reads
        const { status, body: answer } = await this.#sender.post(this.#batchUrl, { 'x-project-key': this.config.project_key, prefer: 'return=minimal' }, body, this.config.timeout * 1000);
        if (status >= 200 && status < 300) return this.#refused(answer);
        if (status < 500 && status !== 429) return null; // refused: sending it again changes nothing
      } catch {
        /* unreachable or timed out: try again */
      }
    }
    return null;
  }

  /** Counts what a delivered batch's answer says perfwatch refused, one by one. */
  #refused(answer: string): { rejected: number[]; profilesRejected: number } {
    let data: BatchAnswer['data'];
    try {
      data = (JSON.parse(answer) as BatchAnswer).data;
    } catch {
      return { rejected: [], profilesRejected: 0 }; // a 2xx without perfwatch's answer: delivered, nothing known refused
    }
    // another server's 2xx can say anything: only arrays of objects count
    const list = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v.filter((e) => e !== null && typeof e === 'object') : []);
    const errors = list(data?.errors);
    const profileErrors = list(data?.route_profile_errors);
    const last = profileErrors.at(-1) ?? errors.at(-1);
    if (last) this.#stats.last_rejection = String(last.message ?? last.field); // perfwatch's message begins with the field
    this.#stats.rejected += errors.length;
    this.#stats.route_profiles_rejected += profileErrors.length;
    return { rejected: errors.map((e) => e.index ?? -1), profilesRejected: profileErrors.length };
  }

  /** Stops the timer and sends what is left. */
  async shutdown(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    process.removeListener('beforeExit', this.#onExit);
    await this.flush();
    if (this.#queue.length + this.#held.length) await this.flush(); // what requests still in flight recorded meanwhile
    this.#sender.close();
    const s = this.#sampler;
    this.#sampler = null;
    if (s) {
      await s.stop();
      this.#stats.profiler = 'off';
    }
  }
}

/** The status a thrown error answers with (Koa's and http-errors' `status`), else 500. */
const statusOf = (err: unknown): number => (typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : 500);

/** Koa middleware; register it before the router. The route is the router's template (`ctx._matchedRoute`), never the raw URL. */
export function koa(collector: Collector) {
  // one async function, not collector.request around another: every layer is promises the async hooks see
  return async (ctx: { method: string; path: string; status: number; _matchedRoute?: string | RegExp }, next: () => Promise<unknown>) => {
    const r = collector.begin(ctx.method);
    if (!r) return next();
    const info: RequestInfo = { method: ctx.method, path: ctx.path };
    try {
      await r.enter(next);
      info.status = ctx.status;
    } catch (err) {
      info.status = statusOf(err);
      throw err;
    } finally {
      // read in finally: a handler that throws still has its route
      if (ctx._matchedRoute !== undefined) info.route = String(ctx._matchedRoute);
      r.end(info);
    }
  };
}

/**
 * The mount prefix of an Express router with its values replaced (`/t/acme` → `/t/:param`): `req.baseUrl` holds raw
 * values, and a tenant id in a route would make one series per tenant.
 */
export function templatePrefix(baseUrl: string): string {
  return baseUrl
    .split('/')
    .map((seg) => (/^\d+$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^[0-9a-f]{16,}$/i.test(seg) || (seg.length > 20 && /\d/.test(seg)) ? ':param' : seg))
    .join('/');
}

interface ExpressReq {
  method: string;
  path: string;
  baseUrl: string;
  route?: { path: string };
}
interface ExpressRes {
  statusCode: number;
  once(event: 'finish' | 'close', fn: () => void): unknown;
}

/** Express middleware; `app.use()` it first. The route is `req.route.path` under the mount's template. */
export function express(collector: Collector) {
  return (req: ExpressReq, res: ExpressRes, next: (err?: unknown) => void) => {
    const r = collector.begin(req.method);
    if (!r) return next();
    const end = () => r.end({ method: req.method, path: req.baseUrl + req.path, status: res.statusCode, ...(req.route ? { route: templatePrefix(req.baseUrl) + req.route.path } : {}) });
    res.once('finish', end);
    res.once('close', end);
    r.enter(() => next());
  };
}

interface FastifyLike {
  addHook(name: 'onRequest', fn: (req: { method: string; url: string; perfwatch?: unknown }, reply: unknown, done: () => void) => void): unknown;
  addHook(name: 'onResponse', fn: (req: { method: string; url: string; routeOptions?: { url?: string }; perfwatch?: unknown }, reply: { statusCode: number }, done: () => void) => void): unknown;
}

/** Fastify hooks: `fastify.register(perfwatch.fastify(collector))` wraps every route (`request.routeOptions.url`). */
export function fastify(collector: Collector) {
  const plugin = (app: FastifyLike, _opts: unknown, done: () => void) => {
    app.addHook('onRequest', (req, _reply, next) => {
      const r = collector.begin(req.method);
      if (!r) return next();
      req.perfwatch = r;
      r.enter(next); // the handler and its awaits run in the request's context
    });
    app.addHook('onResponse', (req, reply, next) => {
      const r = req.perfwatch as Begun | undefined;
      r?.end({ method: req.method, path: req.url, status: reply.statusCode, ...(req.routeOptions?.url ? { route: req.routeOptions.url } : {}) });
      next();
    });
    done();
  };
  // fastify-plugin's marker: the hooks apply to the whole app, not an encapsulated child
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
