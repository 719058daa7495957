import { DomainError } from '../model/errors.js';
import { HOST_SERIES_BY_NAME, type Scraped } from '../model/legacy-names.js';
import { M } from '../model/metric-names.js';
import { promLabelFor, promNameFor } from './custom-metric.js';
import { throughputOfColumns, trendOfColumns } from './history-stats.js';
import { displayName, type CounterSummary, type GaugeSummary, type HistoryReader, type HistoryReaders, type HistorySeries, type HistorySource, type LocalHistoryReader, type PluginPoint } from './history-reader.js';
import type { HistoryQuery } from './plugin-history.js';
import { BackendError, type PromSeries } from './prometheus-api.js';

/** Why a request fell back to the local ring: the backend's failure, or `backend_down` while it rests after one. */
export type FallbackReason = BackendError['reason'];

/**
 * The history of the JSON API answered from a Prometheus-compatible query API that scrapes perfwatch (docs/fleet.md).
 * Each legacy name maps to PromQL through the one catalogue (`LEGACY_NAMES[…].history.scraped`), and every call is one
 * query: the columns of an answer are joined with `or`, each tagged by `label_replace` with its index.
 *
 * Buckets are those of the local path: bucket `b` (a multiple of the step since the epoch) holds the samples in
 * [b, b + step). The query is evaluated at `b + step` over a `[step − 1ms]` window, gauges by `avg_over_time`,
 * counters by `last_over_time`, so a bucket without samples has no point, no window overlaps the next (Prometheus 2
 * includes both ends of a window, VictoriaMetrics and Prometheus 3 only the right one), and start and end are
 * multiples of the step: VictoriaMetrics would otherwise shift an unaligned start, and Mimir and Thanos cache only
 * aligned queries. A sample at exactly `b` counts in bucket `b − step` here and in `b` locally: a millisecond in a step.
 */

export interface QueryApi {
  query(expr: string, timeMs: number): Promise<PromSeries[]>;
  queryRange(expr: string, startMs: number, endMs: number, stepMs: number): Promise<PromSeries[]>;
}

export interface BackendOptions {
  api: QueryApi;
  job: string;
  /** This agent's `instance` label. */
  instance: string;
  /** This host's name: `host=<it>` means this agent too. */
  hostname: string;
  scrapeIntervalMs: number;
  maxPoints: number;
  /** The first configured mountpoint: the one `disk_usage_percent` reads. */
  mountpoint: string;
  local: LocalHistoryReader;
  /** Called once per backend query, with how it ended and how long it took. */
  onQuery: (outcome: 'ok' | BackendError['reason'], seconds: number) => void;
  /** Called when a request about this agent is answered from the local ring because the backend failed or is resting. */
  onFallback: (reason: FallbackReason, err: BackendError) => void;
  /** After a timeout or an unreachable backend, how long to answer without asking it (0: ask every time). */
  retryAfterMs: number;
  /** Shared by every request: until when the backend is left alone (epoch ms). */
  health: { downUntilMs: number; lastError: BackendError | null };
}

/** Label a column's result carries: its index in the query. */
const COLUMN = 'pw_column';
const HOST_RE = /^[A-Za-z0-9_.:[\]-]{1,256}$/;
const PLUGIN_SERIES = [M.pluginCpuUsageRatio, M.pluginResidentMemoryBytes, M.pluginMemoryUsageRatio, M.pluginThreads] as const;
/** Plugin history looks back at most this far for `limit` samples when no start_time is given. */
const PLUGIN_LOOKBACK_MS = 7 * 86_400_000;

const q = (v: string) => JSON.stringify(v);
const escapeRegex = (v: string) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Range queries waiting for the end of the turn to leave as one request. */
interface RangeBatch {
  key: string;
  startMs: number;
  endMs: number;
  stepMs: number;
  parts: Array<{ columns: Array<[string, string]>; pinned: Array<[string, string]>; resolve: (s: PromSeries[]) => void; reject: (err: unknown) => void }>;
}

/** Statistics of a gauge over a whole range: function and column tag. */
const GAUGE_STATS = [
  ['avg_over_time', 'avg'],
  ['max_over_time', 'max'],
  ['min_over_time', 'min'],
  ['last_over_time', 'last'],
] as const;

/** One column of a query: its PromQL, and how its series are named in the answer. */
interface Column {
  expr: string;
  /** The column's fixed name, or the base name to which each series' own labels are added. */
  name: string;
  fixed: boolean;
  /** Index of the requested name this column answers. */
  of: number;
}

export class PrometheusHistoryReader implements HistoryReader {
  #o: BackendOptions;
  /** Label matchers that select the target agent's series. */
  #target: string;
  /** True when the target is this agent: a failing backend then falls back to the local ring. */
  #own: boolean;
  #source: HistorySource = 'prometheus';
  #batch: RangeBatch | null = null;

  constructor(o: BackendOptions, host?: string) {
    this.#o = o;
    const own = host === undefined || host === o.instance || host === o.hostname;
    this.#own = own;
    if (host !== undefined && !HOST_RE.test(host)) throw new DomainError('INVALID_PARAMETER', 'host must be an instance label value (host:port) or a host name: 1 to 256 characters from A-Z a-z 0-9 _ . : [ ] -', 'host');
    const instance = own ? `instance=${q(o.instance)}` : host!.includes(':') ? `instance=${q(host!)}` : `instance=~${q(`${escapeRegex(host!)}(:[0-9]+)?`)}`;
    this.#target = `job=${q(o.job)},${instance}`;
  }

  get own(): boolean {
    return this.#own;
  }

  get source(): HistorySource {
    return this.#source;
  }

  has(name: string): boolean {
    return this.#o.local.has(name);
  }

  async range(names: readonly string[], startMs: number, endMs: number, stepMs: number): Promise<HistorySeries[][]> {
    const columns: Column[] = [];
    names.forEach((name, of) => {
      for (const c of this.#columns(name, stepMs)) columns.push({ ...c, of });
    });
    return this.#fallible(
      async () => {
        const out: HistorySeries[][] = names.map(() => []);
        if (!columns.length) return out;
        const { first, last } = this.#buckets(startMs, endMs, stepMs);
        const result = await this.#queryRange(columns.map((c, i) => [String(i), c.expr]), first + stepMs, last + stepMs, stepMs);
        for (const s of result) {
          const c = columns[Number(s.metric[COLUMN])];
          if (!c) continue;
          out[c.of]!.push({
            name: c.fixed ? c.name : displayName(c.name, ownLabels(s.metric)),
            times: bucketStarts(s.times, stepMs),
            hundredths: hundredthsOf(s.values),
          });
        }
        for (const list of out) list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        return out;
      },
      () => this.#o.local.range(names, startMs, endMs, stepMs),
    );
  }

  async summarize(want: { gauges: readonly string[]; counters: readonly string[]; trend: boolean }, startMs: number, endMs: number, stepMs: number) {
    return this.#fallible(
      async () => {
        const W = `${stepMs - 1}ms`;
        const { first, last } = this.#buckets(startMs, endMs, stepMs);
        // statistics over the whole range are pinned to its end with `@` and kept at one step only: one point each in
        // the same range query, instead of a second request or 4 columns per gauge of per-bucket statistics
        const pin = `[${Math.max(1, Math.round(endMs - startMs))}ms] @ ${(endMs / 1000).toFixed(3)}`;
        const columns: Array<[string, string]> = [];
        const pinned: Array<[string, string]> = [];
        want.gauges.forEach((name, i) => {
          const sc = this.#scraped(name);
          const sel = this.#selector(sc);
          for (const [fn, tag] of GAUGE_STATS) pinned.push([`g${i}${tag}`, `${agg(sc, `${fn}(${sel}${pin})`)}${scale(sc.k)}`]);
          if (want.trend) columns.push([`g${i}`, `${agg(sc, `avg_over_time(${sel}[${W}])`)}${scale(sc.k)}`]);
        });
        want.counters.forEach((name, i) => {
          const sc = this.#scraped(name);
          columns.push([`c${i}`, agg(sc, `last_over_time(${this.#selector(sc)}[${W}])`)]);
        });
        const series = columns.length + pinned.length ? await this.#queryRange(columns, first + stepMs, last + stepMs, stepMs, pinned) : [];
        const byColumn = new Map(series.map((s) => [s.metric[COLUMN]!, s]));
        const one = (tag: string) => byColumn.get(tag)?.values[0];
        const gauges = want.gauges.map((_, i): GaugeSummary | null => {
          const average = one(`g${i}avg`);
          if (average === undefined) return null;
          const s = byColumn.get(`g${i}`);
          const trend = want.trend && s ? trendOfColumns(s.times, s.values, endMs - startMs) : 'stable';
          return { current: one(`g${i}last`) ?? 0, average, maximum: one(`g${i}max`) ?? 0, minimum: one(`g${i}min`) ?? 0, trend };
        });
        const counters = want.counters.map((_, i): CounterSummary => {
          const s = byColumn.get(`c${i}`);
          return s ? { throughput: throughputOfColumns(s.times, s.values), total: s.values.at(-1) ?? 0 } : { throughput: 0, total: 0 };
        });
        return { gauges, counters };
      },
      () => this.#o.local.summarize(want, startMs, endMs, stepMs),
    );
  }

  async plugin(pluginId: string, h: HistoryQuery): Promise<PluginPoint[]> {
    return this.#fallible(
      async () => {
        const endMs = h.endMs ?? Date.now();
        const floor = h.startMs ?? endMs - PLUGIN_LOOKBACK_MS;
        const selector = `{__name__=~${q(PLUGIN_SERIES.join('|'))},${this.#target},plugin_id=${q(pluginId)}}`;
        // newest `limit` samples: look back twice their span first, then further while too few came back
        let span = Math.min(endMs - floor, (h.limit + 1) * this.#o.scrapeIntervalMs * 2);
        for (;;) {
          const points = joinPluginSamples(await this.#query(`${selector}[${Math.max(1, Math.round(span))}ms]`, endMs), floor);
          if (points.length >= h.limit || span >= endMs - floor) return points.slice(0, h.limit);
          span = Math.min(endMs - floor, span * 8);
        }
      },
      () => this.#o.local.plugin(pluginId, h),
    );
  }

  /** The columns a requested name expands to. */
  #columns(name: string, stepMs: number): Array<Omit<Column, 'of'>> {
    const host = HOST_SERIES_BY_NAME.get(name);
    const W = `${stepMs - 1}ms`;
    if (host) {
      const sc = host.scraped;
      const inner = sc.rate
        ? `rate(${this.#selector(sc)}[${Math.max(stepMs, 4 * this.#o.scrapeIntervalMs)}ms])`
        : `${host.counter ? 'last_over_time' : 'avg_over_time'}(${this.#selector(sc)}[${W}])`;
      return [{ expr: `${agg(sc, inner)}${scale(sc.k)}`, name, fixed: true }];
    }
    // a custom metric this agent holds: each of its tag sets, by its exported name and labels, back in the posted unit
    const held = this.#o.local.customSeries(name);
    if (held.length) {
      return held.map((c) => {
        const { name: family, factor } = promNameFor(name, c.unit);
        const labels = Object.entries(c.tags).map(([k, v]) => `,${promLabelFor(k)}=${q(v)}`).join('');
        return { expr: `avg_over_time(${family}{${this.#target}${labels}}[${W}])${factor === 1 ? '' : ` / ${factor}`}`, name: c.display, fixed: true };
      });
    }
    // one this agent does not hold (another agent's): its unitless family, each label set a series
    return [{ expr: `avg_over_time(${promNameFor(name, '').name}{${this.#target}}[${W}])`, name, fixed: false }];
  }

  #scraped(name: string): Scraped {
    const host = HOST_SERIES_BY_NAME.get(name);
    if (!host) throw new DomainError('INVALID_PARAMETER', `"${name.slice(0, 60)}" is not a host series`, 'metrics');
    return host.scraped;
  }

  #selector(sc: Scraped): string {
    let m = this.#target;
    for (const [k, v] of Object.entries(sc.matchers ?? {})) m += `,${k}=${q(v)}`;
    if (sc.excludeLoopback) m += ',device!="lo"';
    if (sc.mountpoint) m += `,mountpoint=${q(this.#o.mountpoint)}`;
    return `${sc.series}{${m}}`;
  }

  #buckets(startMs: number, endMs: number, stepMs: number): { first: number; last: number } {
    const first = Math.floor(startMs / stepMs) * stepMs;
    const last = Math.floor(endMs / stepMs) * stepMs;
    const points = (last - first) / stepMs + 1;
    if (points > this.#o.maxPoints) {
      throw new DomainError('INVALID_PARAMETER', `the history backend answers at most ${this.#o.maxPoints} points per series and this range holds ${points}: ask for a longer interval or fewer minutes`, 'interval');
    }
    return { first, last };
  }

  /**
   * A range query of tagged columns. Queries asked for in the same turn of the event loop with the same range (a
   * history answer's rows and its summary block) leave as one request: one round trip, and the backend does not
   * evaluate two queries at once on the same cores.
   */
  #queryRange(columns: Array<[tag: string, expr: string]>, startMs: number, endMs: number, stepMs: number, pinned: Array<[tag: string, expr: string]> = []): Promise<PromSeries[]> {
    const key = `${startMs}/${endMs}/${stepMs}`;
    let batch = this.#batch;
    if (batch?.key !== key) {
      const b: RangeBatch = { key, startMs, endMs, stepMs, parts: [] };
      this.#batch = batch = b;
      queueMicrotask(() => this.#flush(b));
    }
    const parts = batch.parts;
    return new Promise((resolve, reject) => parts.push({ columns, pinned, resolve, reject }));
  }

  #flush(b: RangeBatch): void {
    if (this.#batch === b) this.#batch = null;
    const each = b.parts.flatMap((p, k) => p.columns.map(([tag, e]) => tagged(e, `${k}.${tag}`)));
    const pinned = b.parts.flatMap((p, k) => p.pinned.map(([tag, e]) => tagged(e, `${k}.${tag}`)));
    // step-invariant columns (`@`) kept at the first step only, by one filter for all of them (a filter per column cost
    // as much as the columns themselves); the first, since VictoriaMetrics leaves out the steps of its latency offset
    if (pinned.length) each.push(`(${union(pinned)}) and on() (vector(time()) < ${((b.startMs + b.stepMs / 2) / 1000).toFixed(3)})`);
    const expr = union(each);
    this.#measured(() => this.#o.api.queryRange(expr, b.startMs, b.endMs, b.stepMs)).then(
      (result) => {
        const split: PromSeries[][] = b.parts.map(() => []);
        for (const s of result) {
          const tag = s.metric[COLUMN] ?? '';
          const dot = tag.indexOf('.');
          if (dot < 1) continue;
          s.metric[COLUMN] = tag.slice(dot + 1);
          split[Number(tag.slice(0, dot))]?.push(s);
        }
        b.parts.forEach((p, k) => p.resolve(split[k]!));
      },
      (err: unknown) => {
        for (const p of b.parts) p.reject(err);
      },
    );
  }

  async #query(expr: string, timeMs: number): Promise<PromSeries[]> {
    return this.#measured(() => this.#o.api.query(expr, timeMs));
  }

  async #measured(run: () => Promise<PromSeries[]>): Promise<PromSeries[]> {
    const t0 = performance.now();
    let result: PromSeries[];
    try {
      result = await run();
    } catch (err) {
      this.#o.onQuery(err instanceof BackendError ? err.reason : 'unavailable', (performance.now() - t0) / 1000);
      throw err;
    }
    this.#o.onQuery('ok', (performance.now() - t0) / 1000);
    const instances = new Set(result.map((s) => s.metric.instance).filter((i) => i !== undefined));
    if (instances.size > 1) {
      throw new DomainError('INVALID_PARAMETER', `host matches ${instances.size} agents (${[...instances].slice(0, 5).join(', ')}): name one as host:port`, 'host');
    }
    return result;
  }

  /** Runs the backend query; about this agent, a backend failure is answered from the local ring instead. */
  async #fallible<T>(remote: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    const health = this.#o.health;
    try {
      // a backend that just timed out or refused connections is left alone for retry_after: no request waits for it
      if (health.lastError && Date.now() < health.downUntilMs) throw new BackendError('backend_down', `${health.lastError.reason} ${Math.ceil((Date.now() - (health.downUntilMs - this.#o.retryAfterMs)) / 1000)} s ago (${health.lastError.message}); asked again after ${new Date(health.downUntilMs).toISOString()}`);
      const value = await remote();
      health.lastError = null;
      return value;
    } catch (err) {
      if (!(err instanceof BackendError)) throw err;
      if ((err.reason === 'timeout' || err.reason === 'unavailable') && this.#o.retryAfterMs > 0) {
        health.lastError = err;
        health.downUntilMs = Date.now() + this.#o.retryAfterMs;
      }
      if (!this.#own) throw new DomainError('HISTORY_BACKEND_UNAVAILABLE', `the history backend failed (${err.reason}: ${err.message}); another agent's history has no local copy to fall back to`);
      // counted once per request, however many of its queries failed
      if (this.#source !== 'local-fallback') this.#o.onFallback(err.reason, err);
      this.#source = 'local-fallback';
      return local();
    }
  }
}

/**
 * An answer's times as bucket starts (evaluation time − step). Plain loops into arrays of doubles: `Array.from` of a
 * typed array with a map function went through the iterator, an object and a boxed number per point (165 KB of
 * garbage per 16-series history answer).
 */
function bucketStarts(times: Float64Array, stepMs: number): number[] {
  const out = new Array<number>(times.length);
  for (let i = 0; i < times.length; i++) out[i] = times[i]! - stepMs;
  return out;
}

/** Values in hundredths, as the history columns hold them. */
function hundredthsOf(values: Float64Array): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.round(values[i]! * 100);
  return out;
}

/**
 * `a or b or …` as a balanced tree: Prometheus evaluates a chain of `or` in time quadratic in its length (each level
 * copies every series of the level below, per step); 24 columns over 60 steps took 7.5 ms chained, 5.0 ms balanced.
 */
function union(exprs: readonly string[]): string {
  if (exprs.length === 1) return exprs[0]!;
  const half = exprs.length >> 1;
  return `(${union(exprs.slice(0, half))} or ${union(exprs.slice(half))})`;
}

/** Series summed over devices (`sum` in the catalogue) become one per agent; the rest are one series already. */
function agg(sc: Scraped, inner: string): string {
  return sc.sum ? `sum by (instance) (${inner})` : inner;
}

function tagged(expr: string, column: string): string {
  return `label_replace(${expr}, "${COLUMN}", "${column}", "", "")`;
}

function scale(k: number): string {
  return k === 1 ? '' : ` * ${k}`;
}

/** A series' own labels: without the name, the target and the column tag. */
function ownLabels(metric: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metric)) if (k !== '__name__' && k !== 'job' && k !== 'instance' && k !== COLUMN) out[k] = v;
  return out;
}

/** Raw plugin samples of the four series joined by scrape time, newest first, from `floorMs` on. */
export function joinPluginSamples(series: PromSeries[], floorMs: number): PluginPoint[] {
  const byTime = new Map<number, Partial<Record<string, number>>>();
  for (const s of series) {
    const name = s.metric.__name__;
    if (!name) continue;
    for (let i = 0; i < s.times.length; i++) {
      const t = s.times[i]!;
      const v = s.values[i]!;
      if (t < floorMs) continue;
      let row = byTime.get(t);
      if (!row) byTime.set(t, (row = {}));
      row[name] = v;
    }
  }
  const out: PluginPoint[] = [];
  for (const [t, row] of byTime) {
    const cpu = row[M.pluginCpuUsageRatio];
    const rss = row[M.pluginResidentMemoryBytes];
    if (cpu === undefined || rss === undefined) continue;
    out.push({ timestampMs: t, cpuPercent: cpu * 100, rssBytes: rss, memoryPercent: (row[M.pluginMemoryUsageRatio] ?? 0) * 100, threads: row[M.pluginThreads] ?? 0 });
  }
  return out.sort((a, b) => b.timestampMs - a.timestampMs);
}

/** Longest range asked of the backend (its own retention decides what comes back). */
export const BACKEND_MAX_RANGE_MS = 400 * 86_400_000;

/** history.backend: prometheus. */
export function prometheusReaders(o: BackendOptions): HistoryReaders {
  return { backend: 'prometheus', maxRangeMs: BACKEND_MAX_RANGE_MS, forRequest: (host) => new PrometheusHistoryReader(o, host) };
}
