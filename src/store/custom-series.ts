import { promLabelFor, promNameFor, SampleError, seriesKey, type CustomSample } from './custom-metric.js';
import type { SeriesStore } from './series-store.js';

/** Where custom series are exposed (the Prometheus sink implements it). */
export interface CustomExporter {
  /** Throws SampleError when the series cannot be exposed as given (a tag set that differs from the family's). */
  check(promName: string, sourceName: string, labelNames: string[]): void;
  set(promName: string, sourceName: string, help: string, labels: Record<string, string>, value: number): void;
  remove(promName: string, labels: Record<string, string>): void;
}

export class SeriesLimitError extends Error {
  readonly code = 'SERIES_LIMIT_EXCEEDED';
}

interface Live {
  promName: string;
  labels: Record<string, string>;
  factor: number;
  exported: boolean;
}

/**
 * Ingested series: history in the SeriesStore under the name and unit the client sent, a gauge on /metrics under the
 * converted name. At most `maxSeries` series; a series not updated for `ttlMs` leaves /metrics and becomes evictable.
 */
export class CustomSeries {
  #store: SeriesStore;
  #exporter: CustomExporter;
  #maxSeries: number;
  #ttlMs: number;
  #live = new Map<string, Live>();
  #seq = 0;

  constructor(opts: { store: SeriesStore; exporter: CustomExporter; maxSeries: number; ttlMs: number }) {
    this.#store = opts.store;
    this.#exporter = opts.exporter;
    this.#maxSeries = opts.maxSeries;
    this.#ttlMs = opts.ttlMs;
  }

  get count(): number {
    return this.#live.size;
  }

  /**
   * Stores one validated sample at `nowMs`; returns its id. Throws SampleError (tags inconsistent with the family) or
   * SeriesLimitError, in both cases before anything is changed.
   */
  ingest(s: CustomSample, nowMs: number): string {
    const key = seriesKey(s);
    let live = this.#live.get(key);
    if (!live) {
      const { name: promName, factor } = promNameFor(s.name, s.unit);
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.tags)) {
        const l = promLabelFor(k);
        if (l in labels) throw new SampleError('INVALID_METRIC', 'tags', `tags: "${k}" and another tag map to the same label "${l}"`);
        labels[l] = v;
      }
      this.#exporter.check(promName, s.name, Object.keys(labels));
      if (this.#live.size >= this.#maxSeries && !this.#evictOne(nowMs)) {
        throw new SeriesLimitError(`custom_metrics.max_series (${this.#maxSeries}) distinct series are in use and none is past its TTL`);
      }
      live = { promName, labels, factor, exported: false };
      this.#live.set(key, live);
    }
    const latest = this.#store.get(key)?.data.latest();
    const t = latest && nowMs <= latest.t ? latest.t + 0.001 : nowMs;
    this.#store.append(key, { name: s.name, unit: s.unit, kind: 'custom', category: s.category, tags: s.tags }, t, s.value);
    this.#exporter.set(live.promName, s.name, `Custom metric "${s.name}"${s.unit ? ` (sent in ${s.unit})` : ''}, ingested through the API.`, live.labels, s.value * live.factor);
    live.exported = true;
    return `metric_${(++this.#seq).toString().padStart(3, '0')}`;
  }

  /** The series on /metrics now, with their latest value in base units (what the OTLP sink pushes). */
  *exported(): Iterable<{ sourceName: string; promName: string; labels: Record<string, string>; value: number }> {
    for (const [key, live] of this.#live) {
      if (!live.exported) continue;
      const s = this.#store.get(key);
      const latest = s?.data.latest();
      if (s && latest) yield { sourceName: s.meta.name, promName: live.promName, labels: live.labels, value: latest.v * live.factor };
    }
  }

  /** Takes series not updated within the TTL off /metrics. Called once per tick. */
  sweep(nowMs: number): void {
    for (const [key, live] of this.#live) {
      if (!live.exported) continue;
      const s = this.#store.get(key);
      if (s && nowMs - s.updatedMs > this.#ttlMs) {
        this.#exporter.remove(live.promName, live.labels);
        live.exported = false;
      }
    }
  }

  /** Restores the registry from series the store reloaded from a checkpoint (they start hidden from /metrics). */
  adoptRestored(): void {
    for (const [key, s] of this.#store.entries()) {
      if (s.meta.kind !== 'custom' || this.#live.has(key)) continue;
      const { name: promName, factor } = promNameFor(s.meta.name, s.meta.unit);
      const labels = Object.fromEntries(Object.entries(s.meta.tags ?? {}).map(([k, v]) => [promLabelFor(k), v]));
      this.#live.set(key, { promName, labels, factor, exported: false });
    }
  }

  #evictOne(nowMs: number): boolean {
    let victim: string | null = null;
    let oldest = Infinity;
    for (const key of this.#live.keys()) {
      const s = this.#store.get(key);
      const updated = s?.updatedMs ?? -Infinity;
      if (nowMs - updated > this.#ttlMs && updated < oldest) {
        oldest = updated;
        victim = key;
      }
    }
    if (victim === null) return false;
    const live = this.#live.get(victim)!;
    if (live.exported) this.#exporter.remove(live.promName, live.labels);
    this.#live.delete(victim);
    this.#store.delete(victim);
    return true;
  }
}
