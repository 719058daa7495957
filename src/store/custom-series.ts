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
  key: string;
  promName: string;
  sourceName: string;
  help: string;
  labels: Record<string, string>;
  factor: number;
  /** On /metrics now. */
  exported: boolean;
  /** Latest value (base units) not yet handed to the exporter; applied once per cycle by `sweep`. */
  pending: number | null;
  /** Latest sample time, so a burst within one millisecond still gets increasing timestamps. */
  lastT: number;
  /** Raw keys (name + tags in the order a client sent them) that resolve to this series. */
  rawKeys: string[];
}

/** Name and tags in the order given: cheap to build, and the same for a client that always sends the same shape. */
function rawKeyOf(s: CustomSample): string {
  let k = s.name;
  for (const t in s.tags) k += `\u0000${t}\u0001${s.tags[t]}`;
  return k;
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
  #byRawKey = new Map<string, Live>();
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
    const rawKey = rawKeyOf(s);
    let live = this.#byRawKey.get(rawKey);
    if (!live) {
      const key = seriesKey(s);
      live = this.#live.get(key) ?? this.#create(key, s, nowMs);
      live.rawKeys.push(rawKey);
      this.#byRawKey.set(rawKey, live);
    }
    const t = nowMs <= live.lastT ? live.lastT + 0.001 : nowMs;
    live.lastT = t;
    if (this.#store.appendExisting(live.key, t, s.value) === null) {
      this.#store.append(live.key, { name: s.name, unit: s.unit, kind: 'custom', category: s.category, tags: { ...s.tags } }, t, s.value);
    }
    live.pending = s.value * live.factor;
    return `metric_${(++this.#seq).toString().padStart(3, '0')}`;
  }

  #create(key: string, s: CustomSample, nowMs: number): Live {
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
    const help = `Custom metric "${s.name}"${s.unit ? ` (sent in ${s.unit})` : ''}, ingested through the API.`;
    const latest = this.#store.get(key)?.data.latest();
    const live: Live = { key, promName, sourceName: s.name, help, labels, factor, exported: false, pending: null, lastT: latest?.t ?? -Infinity, rawKeys: [] };
    this.#live.set(key, live);
    return live;
  }

  /**
   * Once per cycle, before /metrics is rendered: hands each series' latest value to the exporter (so a burst of
   * samples costs one gauge update per series per cycle, not one per sample), and takes series not updated within the
   * TTL off /metrics.
   */
  sweep(nowMs: number): void {
    for (const live of this.#live.values()) {
      if (live.pending !== null) {
        this.#exporter.set(live.promName, live.sourceName, live.help, live.labels, live.pending);
        live.pending = null;
        live.exported = true;
      }
      if (!live.exported) continue;
      const s = this.#store.get(live.key);
      if (s && nowMs - s.updatedMs > this.#ttlMs) {
        this.#exporter.remove(live.promName, live.labels);
        live.exported = false;
      }
    }
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

  /** Restores the registry from series the store reloaded from a checkpoint (they start hidden from /metrics). */
  adoptRestored(): void {
    for (const [key, s] of this.#store.entries()) {
      if (s.meta.kind !== 'custom' || this.#live.has(key)) continue;
      const { name: promName, factor } = promNameFor(s.meta.name, s.meta.unit);
      const labels = Object.fromEntries(Object.entries(s.meta.tags ?? {}).map(([k, v]) => [promLabelFor(k), v]));
      const help = `Custom metric "${s.meta.name}"${s.meta.unit ? ` (sent in ${s.meta.unit})` : ''}, ingested through the API.`;
      this.#live.set(key, { key, promName, sourceName: s.meta.name, help, labels, factor, exported: false, pending: null, lastT: s.data.latest()?.t ?? -Infinity, rawKeys: [] });
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
    for (const rk of live.rawKeys) this.#byRawKey.delete(rk);
    this.#live.delete(victim);
    this.#store.delete(victim);
    return true;
  }
}
