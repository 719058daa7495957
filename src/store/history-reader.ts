import { HOST_SERIES_BY_NAME, hostKey } from '../model/legacy-names.js';
import { statsOf, throughputOf, trendOf, type Trend } from './history-stats.js';
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

/**
 * What the JSON API reads history through. Async so that a remote backend (a Prometheus-compatible query API) can
 * implement it; the local one answers from the ring buffers without waiting.
 */
export interface HistoryReader {
  /** True for a host series name or a custom metric perfwatch holds. */
  has(name: string): boolean;
  /** Every series `name` refers to (a host series, or each tag set of a custom metric), bucketed by `stepMs`; gauges by mean, counters by last value. */
  range(name: string, startMs: number, endMs: number, stepMs: number): Promise<HistorySeries[]>;
  /** Current value and statistics of a host gauge over the range; null when the series has no data. */
  summary(name: string, startMs: number, endMs: number, stepMs: number): Promise<GaugeSummary | null>;
  /** Average rate per second of a host counter over the range. */
  throughput(name: string, startMs: number, endMs: number, stepMs: number): Promise<number>;
}

/** The history in this process' ring buffers. */
export class LocalHistoryReader implements HistoryReader {
  #store: SeriesStore;

  constructor(opts: { store: SeriesStore }) {
    this.#store = opts.store;
  }

  has(name: string): boolean {
    if (HOST_SERIES_BY_NAME.has(name)) return true;
    for (const [, s] of this.#store.entries()) if (s.meta.kind === 'custom' && s.meta.name === name) return true;
    return false;
  }

  async range(name: string, startMs: number, endMs: number, stepMs: number): Promise<HistorySeries[]> {
    const host = HOST_SERIES_BY_NAME.get(name);
    const found: Array<{ name: string; s: NonNullable<ReturnType<SeriesStore['get']>>; counter: boolean }> = [];
    if (host) {
      const s = this.#store.get(hostKey(name));
      if (s) found.push({ name, s, counter: !!host.counter });
    } else {
      for (const [, s] of this.#store.entries()) {
        if (s.meta.kind !== 'custom' || s.meta.name !== name) continue;
        const tags = Object.entries(s.meta.tags ?? {}).sort(([a], [b]) => a.localeCompare(b));
        found.push({ name: tags.length ? `${name}{${tags.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}` : name, s, counter: false });
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

  async summary(name: string, startMs: number, endMs: number, stepMs: number): Promise<GaugeSummary | null> {
    const s = this.#store.get(hostKey(name));
    if (!s) return null;
    const points = s.data.query(startMs, endMs, stepMs);
    const st = statsOf(points);
    return {
      current: s.data.latest()?.v ?? 0,
      average: st?.average ?? 0,
      maximum: st?.maximum ?? 0,
      minimum: st?.minimum ?? 0,
      trend: trendOf(points, endMs - startMs),
    };
  }

  async throughput(name: string, startMs: number, endMs: number, stepMs: number): Promise<number> {
    const s = this.#store.get(hostKey(name));
    return s ? throughputOf(s.data.query(startMs, endMs, stepMs)) : 0;
  }
}
