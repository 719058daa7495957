import { DomainError } from '../model/errors.js';
import { HOST_SERIES_BY_NAME, hostKey } from '../model/legacy-names.js';
import { statsOf, throughputOf, trendOf, type Trend } from './history-stats.js';
import type { HistoryQuery, PluginHistory, StoredPluginSample } from './plugin-history.js';
import type { SeriesStore } from './series-store.js';

/** One series of a history answer: its display name and its buckets in time order. */
export interface HistorySeries {
  /** The legacy name, or for a tagged custom metric `name{k="v",…}` with the tags sorted. */
  name: string;
  times: number[];
  /** Bucket values ×100, rounded: the seed's two decimals as integers (NaN and ±Infinity kept as they are). */
  hundredths: number[];
}

export interface GaugeSummary {
  current: number;
  average: number;
  maximum: number;
  minimum: number;
  trend: Trend;
}

/** A host counter over a range: its average rate per second (rounded) and its newest value. */
export interface CounterSummary {
  throughput: number;
  total: number;
}

/** Who answered: this process' rings, the backend, or the rings because the backend failed (docs/fleet.md). */
export type HistorySource = 'local' | 'prometheus' | 'local-fallback';

/** One plugin sample as the history route shows it. */
export type PluginPoint = Omit<StoredPluginSample, 'pid'>;

/**
 * What the JSON API reads history through, one reader per request: the local one answers from the ring buffers, the
 * backend one (prometheus-history.ts) from a Prometheus-compatible query API, with one query per call.
 */
export interface HistoryReader {
  /** Who answered the calls made through this reader so far (the route reports it in a header). */
  readonly source: HistorySource;
  /** True when the reader reads this agent's history (false: another agent's, through the backend). */
  readonly own: boolean;
  /** True for a host series name or a custom metric perfwatch holds. */
  has(name: string): boolean;
  /**
   * For each name, every series it refers to (a host series, or each tag set of a custom metric), bucketed by
   * `stepMs` from epoch-aligned bucket starts: gauges by mean, counters by last value; empty buckets left out.
   */
  range(names: readonly string[], startMs: number, endMs: number, stepMs: number): Promise<HistorySeries[][]>;
  /**
   * Statistics of host gauges over the range (null when a series has no data; `trend` only when asked, else
   * `stable`), and the average rate and newest value of host counters.
   */
  summarize(q: { gauges: readonly string[]; counters: readonly string[]; trend: boolean }, startMs: number, endMs: number, stepMs: number): Promise<{ gauges: Array<GaugeSummary | null>; counters: CounterSummary[] }>;
  /** A plugin's samples, newest first. */
  plugin(pluginId: string, q: HistoryQuery): Promise<PluginPoint[]>;
}

/** The history in this process' ring buffers. */
export class LocalHistoryReader implements HistoryReader {
  readonly source = 'local';
  readonly own = true;
  #store: SeriesStore;
  #plugins: PluginHistory;

  constructor(opts: { store: SeriesStore; plugins: PluginHistory }) {
    this.#store = opts.store;
    this.#plugins = opts.plugins;
  }

  has(name: string): boolean {
    if (HOST_SERIES_BY_NAME.has(name)) return true;
    for (const [, s] of this.#store.entries()) if (s.meta.kind === 'custom' && s.meta.name === name) return true;
    return false;
  }

  /** The custom series held under `name`: display name (`name{k="v",…}`, tags sorted), tags and unit. */
  customSeries(name: string): Array<{ display: string; tags: Record<string, string>; unit: string }> {
    const out: Array<{ display: string; tags: Record<string, string>; unit: string }> = [];
    for (const [, s] of this.#store.entries()) {
      if (s.meta.kind !== 'custom' || s.meta.name !== name) continue;
      const tags = s.meta.tags ?? {};
      out.push({ display: displayName(name, tags), tags, unit: s.meta.unit });
    }
    return out;
  }

  async range(names: readonly string[], startMs: number, endMs: number, stepMs: number): Promise<HistorySeries[][]> {
    return names.map((name) => this.#range(name, startMs, endMs, stepMs));
  }

  #range(name: string, startMs: number, endMs: number, stepMs: number): HistorySeries[] {
    const host = HOST_SERIES_BY_NAME.get(name);
    const found: Array<{ name: string; s: NonNullable<ReturnType<SeriesStore['get']>>; counter: boolean }> = [];
    if (host) {
      const s = this.#store.get(hostKey(name));
      if (s) found.push({ name, s, counter: !!host.counter });
    } else {
      for (const [, s] of this.#store.entries()) {
        if (s.meta.kind !== 'custom' || s.meta.name !== name) continue;
        found.push({ name: displayName(name, s.meta.tags ?? {}), s, counter: false });
      }
    }
    return found.map(({ name, s, counter }) => {
      const times: number[] = [];
      const hundredths: number[] = [];
      s.data.forEachBucket(startMs, endMs, stepMs, (t, avg, _min, _max, last) => {
        times.push(t);
        hundredths.push(Math.round((counter ? last : avg) * 100));
      });
      return { name, times, hundredths };
    });
  }

  async summarize(q: { gauges: readonly string[]; counters: readonly string[]; trend: boolean }, startMs: number, endMs: number, stepMs: number) {
    const gauges = q.gauges.map((name): GaugeSummary | null => {
      const s = this.#store.get(hostKey(name));
      if (!s) return null;
      const points = s.data.query(startMs, endMs, stepMs);
      const st = statsOf(points);
      return {
        current: s.data.latest()?.v ?? 0,
        average: st?.average ?? 0,
        maximum: st?.maximum ?? 0,
        minimum: st?.minimum ?? 0,
        trend: q.trend ? trendOf(points, endMs - startMs) : 'stable',
      };
    });
    const counters = q.counters.map((name): CounterSummary => {
      const s = this.#store.get(hostKey(name));
      return { throughput: s ? throughputOf(s.data.query(startMs, endMs, stepMs)) : 0, total: s?.data.latest()?.v ?? 0 };
    });
    return { gauges, counters };
  }

  async plugin(pluginId: string, q: HistoryQuery): Promise<PluginPoint[]> {
    return this.#plugins.query(pluginId, q);
  }
}

/** `name`, or `name{k="v",…}` with the tags sorted: how history names a tagged custom series. */
export function displayName(name: string, tags: Readonly<Record<string, string>>): string {
  const sorted = Object.entries(tags).sort(([a], [b]) => a.localeCompare(b));
  return sorted.length ? `${name}{${sorted.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}` : name;
}

/** The readers of the JSON API's history: one per request, for this agent or (through a backend) another one. */
export interface HistoryReaders {
  readonly backend: 'local' | 'prometheus';
  /** Longest range a request may cover, in ms: the rings' retention locally, more through a backend. */
  readonly maxRangeMs: number;
  /** A reader for one request; `host` names another agent (an `instance` label value, or its host name). */
  forRequest(host?: string): HistoryReader;
}

/** history.backend: local. `host` may only name this host: there is nobody else to ask. */
export function localReaders(local: LocalHistoryReader, o: { retentionDays: number; hostname: string }): HistoryReaders {
  return {
    backend: 'local',
    maxRangeMs: o.retentionDays * 86_400_000,
    forRequest(host) {
      if (host !== undefined && host !== o.hostname) {
        throw new DomainError('INVALID_PARAMETER', `host: this perfwatch keeps only its own history (${o.hostname}); other agents' needs history.backend: prometheus`, 'host');
      }
      return local;
    },
  };
}
