import { DomainError } from '../model/errors.js';
import { promLabelFor, promNameFor, SampleError, seriesKey, type CustomSample } from './custom-metric.js';
import type { SeriesStore, StoredSeries } from './series-store.js';
import type { TieredSeries } from './tiered-series.js';

/** Where custom series are exposed (the Prometheus sink implements it). */
export interface CustomExporter {
  /** Throws SampleError when a new family cannot be exposed under `promName` (another metric has the name). */
  check(promName: string, sourceName: string): void;
  set(promName: string, help: string, labels: Record<string, string>, value: number): void;
  remove(promName: string, labels: Record<string, string>): void;
}

export class SeriesLimitError extends DomainError<'SERIES_LIMIT_EXCEEDED'> {
  constructor(message: string) {
    super('SERIES_LIMIT_EXCEEDED', message);
  }
}

interface Live {
  key: string;
  promName: string;
  sourceName: string;
  help: string;
  labels: Record<string, string>;
  factor: number;
  /** Its history (the store's entry, and its data: a sample needs no lookup and touches few objects). */
  stored: StoredSeries;
  data: TieredSeries;
  /** On /metrics now. */
  exported: boolean;
  /** Latest value (base units) not yet handed to the exporter; applied once per cycle by `sweep`. */
  pending: number | null;
  /** The tag orders clients used for this series (paths in the lookup trie), to unlink them on eviction. */
  routes: Array<Array<[string, string]>>;
  /** Evicted: a handle to it must be resolved again. */
  evicted: boolean;
}

/** A resolved series (`resolve`), to append to until it is evicted (`append` then returns null). */
export type SeriesHandle = { readonly __series: unique symbol };

interface Shape {
  promName: string;
  factor: number;
  labels: Record<string, string>;
  /** Sorted label names, joined: the family's identity check. */
  labelNames: string;
  /** The tag keys as the client sent them, for messages. */
  tagKeys: string;
  help: string;
}

/**
 * Lookup trie: name, then each tag key and value in the order the client sent them. A client that keeps sending the
 * same shape finds its series with a few map lookups on the strings JSON.parse produced, without building a key
 * string per sample (building and hashing one cost more than the rest of the ingest).
 */
interface TrieNode {
  live: Live | null;
  next: Map<string, Map<string, TrieNode>> | null;
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
  #trie = new Map<string, TrieNode>();
  /** Per exported name: who uses it, with which label names, and how many live series. */
  #families = new Map<string, { sourceName: string; labelNames: string; tagKeys: string; members: number }>();
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
    return this.append(this.resolve(s, nowMs), s.value, nowMs)!;
  }

  /**
   * The series `s` goes to, created if new (the value is not stored). Throws SampleError or SeriesLimitError, in both
   * cases before anything is changed. A batch keeps the handle for later samples of the same series.
   */
  resolve(s: CustomSample, nowMs: number): SeriesHandle {
    return (this.#find(s) ?? this.#route(s, nowMs)) as unknown as SeriesHandle;
  }

  /** Stores `value` at `nowMs` in a resolved series; its sample id, or null when the series was evicted since. */
  append(handle: SeriesHandle, value: number, nowMs: number): string | null {
    const live = handle as unknown as Live;
    if (live.evicted) return null;
    // a burst within one millisecond still gets increasing timestamps
    const last = live.data.lastT;
    live.data.append(nowMs <= last ? last + 0.001 : nowMs, value);
    live.pending = value * live.factor;
    const n = ++this.#seq;
    return n < 100 ? `metric_${String(n).padStart(3, '0')}` : `metric_${n}`;
  }

  #find(s: CustomSample): Live | null {
    let node = this.#trie.get(s.name);
    const tags = s.tags;
    for (const k in tags) {
      if (!node) return null;
      node = node.next?.get(k)?.get(tags[k]!);
    }
    return node?.live ?? null;
  }

  /** First sample in this tag order: resolves (or creates) the series and adds the order to the trie. */
  #route(s: CustomSample, nowMs: number): Live {
    const key = seriesKey(s);
    const live = this.#live.get(key) ?? this.#create(key, s, nowMs);
    const route = Object.entries(s.tags);
    let node = this.#trie.get(s.name);
    if (!node) this.#trie.set(s.name, (node = { live: null, next: null }));
    for (const [k, v] of route) {
      node.next ??= new Map();
      let byValue = node.next.get(k);
      if (!byValue) node.next.set(k, (byValue = new Map()));
      let child = byValue.get(v);
      if (!child) byValue.set(v, (child = { live: null, next: null }));
      node = child;
    }
    node.live = live;
    live.routes.push(route);
    return live;
  }

  /** Removes a route from the trie, and the nodes it leaves empty. */
  #unroute(name: string, route: Array<[string, string]>): void {
    const root = this.#trie.get(name);
    if (!root) return;
    const path: TrieNode[] = [root];
    for (const [k, v] of route) {
      const next = path.at(-1)!.next?.get(k)?.get(v);
      if (!next) return;
      path.push(next);
    }
    path.at(-1)!.live = null;
    for (let i = path.length - 1; i > 0; i--) {
      const node = path[i]!;
      if (node.live || node.next?.size) return;
      const [k, v] = route[i - 1]!;
      const parent = path[i - 1]!;
      const byValue = parent.next!.get(k)!;
      byValue.delete(v);
      if (!byValue.size) parent.next!.delete(k);
    }
    if (!root.live && !root.next?.size) this.#trie.delete(name);
  }

  #create(key: string, s: CustomSample, nowMs: number): Live {
    const shape = this.#shape(s.name, s.unit, s.tags);
    this.#exporter.check(shape.promName, s.name);
    if (this.#live.size >= this.#maxSeries && !this.#evictOne(nowMs)) {
      throw new SeriesLimitError(`custom_metrics.max_series (${this.#maxSeries}) distinct series are in use and none is past its TTL`);
    }
    const stored = this.#store.ensure(key, { name: s.name, unit: s.unit, kind: 'custom', category: s.category, tags: { ...s.tags } }, nowMs);
    return this.#adopt(key, s.name, shape, stored);
  }

  /**
   * Exported name, factor and labels of a series; throws SampleError when its tags collide once converted, or when its
   * family (exported name) is used by another source name or with other tag keys: Prometheus wants one label set per
   * family, and this is checked against every live series, exported yet or not.
   */
  #shape(name: string, unit: string, tags: Record<string, string>): Shape {
    const { name: promName, factor } = promNameFor(name, unit);
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(tags)) {
      const l = promLabelFor(k);
      if (l in labels) throw new SampleError('INVALID_METRIC', 'tags', `tags: "${k}" and another tag map to the same label "${l}"`);
      labels[l] = v;
    }
    const labelNames = Object.keys(labels).sort().join(',');
    const family = this.#families.get(promName);
    if (family && family.sourceName !== name) {
      throw new SampleError('INVALID_METRIC', 'name', `name: "${name}" and "${family.sourceName}" would both be exported as ${promName}; rename one`);
    }
    if (family && family.labelNames !== labelNames) {
      throw new SampleError('INVALID_METRIC', 'tags', `tags: every series of "${name}" needs the same tag keys (${family.tagKeys || 'none'})`);
    }
    const help = `Custom metric "${name}"${unit ? ` (sent in ${unit})` : ''}, ingested through the API.`;
    return { promName, factor, labels, labelNames, tagKeys: Object.keys(tags).join(', '), help };
  }

  #adopt(key: string, sourceName: string, shape: Shape, stored: StoredSeries): Live {
    const family = this.#families.get(shape.promName);
    if (family) family.members++;
    else this.#families.set(shape.promName, { sourceName, labelNames: shape.labelNames, tagKeys: shape.tagKeys, members: 1 });
    const { promName, help, labels, factor } = shape;
    const live: Live = { key, promName, sourceName, help, labels, factor, stored, data: stored.data, exported: false, pending: null, routes: [], evicted: false };
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
        this.#exporter.set(live.promName, live.help, live.labels, live.pending);
        live.pending = null;
        live.exported = true;
      }
      if (!live.exported) continue;
      if (nowMs - live.stored.updatedMs > this.#ttlMs) {
        this.#exporter.remove(live.promName, live.labels);
        live.exported = false;
      }
    }
  }

  /** The series on /metrics now, with their latest value in base units (what the OTLP sink pushes). */
  *exported(): Iterable<{ sourceName: string; promName: string; labels: Record<string, string>; value: number }> {
    for (const live of this.#live.values()) {
      if (!live.exported) continue;
      const latest = live.stored.data.latest();
      if (latest) yield { sourceName: live.sourceName, promName: live.promName, labels: live.labels, value: latest.v * live.factor };
    }
  }

  /**
   * Restores the registry from series the store reloaded from a checkpoint (they start hidden from /metrics). A series
   * whose exported shape now conflicts with another (naming rules changed between versions) keeps its history but is
   * not adopted; it returns the keys of those.
   */
  adoptRestored(): string[] {
    const skipped: string[] = [];
    for (const [key, s] of this.#store.entries()) {
      if (s.meta.kind !== 'custom' || this.#live.has(key)) continue;
      try {
        this.#adopt(key, s.meta.name, this.#shape(s.meta.name, s.meta.unit, s.meta.tags ?? {}), s);
      } catch (err) {
        if (!(err instanceof SampleError)) throw err;
        skipped.push(key);
      }
    }
    return skipped;
  }

  #evictOne(nowMs: number): boolean {
    let victim: string | null = null;
    let oldest = Infinity;
    for (const [key, live] of this.#live) {
      const updated = live.stored.updatedMs;
      if (nowMs - updated > this.#ttlMs && updated < oldest) {
        oldest = updated;
        victim = key;
      }
    }
    if (victim === null) return false;
    const live = this.#live.get(victim)!;
    if (live.exported) this.#exporter.remove(live.promName, live.labels);
    for (const route of live.routes) this.#unroute(live.sourceName, route);
    const family = this.#families.get(live.promName)!;
    if (--family.members === 0) this.#families.delete(live.promName);
    this.#live.delete(victim);
    this.#store.delete(victim);
    live.evicted = true;
    return true;
  }
}
