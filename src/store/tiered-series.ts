/**
 * One series' history in fixed memory: a raw ring of (timestamp, value) plus rolled-up tiers. A tier is a ring of
 * buckets indexed by `floor(t / bucketMs) mod capacity`, each keeping min, max, sum, count and last; appending a raw
 * sample updates its bucket in every tier at once, so there is no separate rollup job and nothing grows with uptime.
 */
export interface TierSpec {
  bucketMs: number;
  capacity: number;
}

export interface Point {
  /** Start of the output bucket (or the raw timestamp), epoch ms. */
  t: number;
  avg: number;
  min: number;
  max: number;
  last: number;
  count: number;
}

/** Bytes one series takes for a given layout: raw (f64 t, f64 v) and per bucket (f64 id, 4 × f64, u32 count). */
export function seriesBytes(rawCapacity: number, tiers: readonly TierSpec[]): number {
  return rawCapacity * 16 + tiers.reduce((a, t) => a + t.capacity * (8 + 32 + 4), 0);
}

class Tier {
  readonly bucketMs: number;
  readonly capacity: number;
  readonly id: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly sum: Float64Array;
  readonly last: Float64Array;
  readonly count: Uint32Array;
  /** Newest bucket index written: the ring holds buckets (newest - capacity, newest]. */
  newest = -1;

  constructor(spec: TierSpec) {
    this.bucketMs = spec.bucketMs;
    this.capacity = spec.capacity;
    this.id = new Float64Array(spec.capacity).fill(-1);
    this.min = new Float64Array(spec.capacity);
    this.max = new Float64Array(spec.capacity);
    this.sum = new Float64Array(spec.capacity);
    this.last = new Float64Array(spec.capacity);
    this.count = new Uint32Array(spec.capacity);
  }

  add(t: number, v: number): void {
    const b = Math.floor(t / this.bucketMs);
    const i = b % this.capacity;
    if (b > this.newest) this.newest = b;
    if (this.id[i] !== b) {
      this.id[i] = b;
      this.min[i] = v;
      this.max[i] = v;
      this.sum[i] = v;
      this.last[i] = v;
      this.count[i] = 1;
      return;
    }
    if (v < this.min[i]!) this.min[i] = v;
    if (v > this.max[i]!) this.max[i] = v;
    this.sum[i]! += v;
    this.last[i] = v;
    this.count[i]!++;
  }

  /** Buckets whose start lies in [startMs, endMs], oldest first. */
  forEach(startMs: number, endMs: number, fn: (t: number, min: number, max: number, sum: number, count: number, last: number) => void): void {
    // the first bucket may start before startMs: it is included whole
    const first = Math.floor(startMs / this.bucketMs);
    const lastB = Math.min(Math.floor(endMs / this.bucketMs), this.newest);
    for (let b = Math.max(first, lastB - this.capacity + 1); b <= lastB; b++) {
      const i = b % this.capacity;
      if (this.id[i] !== b || this.count[i] === 0) continue;
      fn(b * this.bucketMs, this.min[i]!, this.max[i]!, this.sum[i]!, this.count[i]!, this.last[i]!);
    }
  }
}

export class TieredSeries {
  readonly rawCapacity: number;
  #t: Float64Array;
  #v: Float64Array;
  #head = 0;
  #size = 0;
  readonly tiers: Tier[];

  constructor(rawCapacity: number, tiers: readonly TierSpec[]) {
    this.rawCapacity = rawCapacity;
    this.#t = new Float64Array(rawCapacity);
    this.#v = new Float64Array(rawCapacity);
    this.tiers = tiers.map((s) => new Tier(s));
  }

  get size(): number {
    return this.#size;
  }

  /** Appends a sample; samples older than the newest one are ignored (time only moves forward). */
  append(t: number, v: number): boolean {
    if (this.#size && t <= this.#t[(this.#head - 1 + this.rawCapacity) % this.rawCapacity]!) return false;
    this.#t[this.#head] = t;
    this.#v[this.#head] = v;
    this.#head = (this.#head + 1) % this.rawCapacity;
    if (this.#size < this.rawCapacity) this.#size++;
    for (const tier of this.tiers) tier.add(t, v);
    return true;
  }

  latest(): { t: number; v: number } | null {
    if (!this.#size) return null;
    const i = (this.#head - 1 + this.rawCapacity) % this.rawCapacity;
    return { t: this.#t[i]!, v: this.#v[i]! };
  }

  /** Oldest raw timestamp held, or Infinity when empty. */
  get rawOldest(): number {
    if (!this.#size) return Infinity;
    return this.#t[(this.#head - this.#size + this.rawCapacity) % this.rawCapacity]!;
  }

  /**
   * Raw samples in [startMs, endMs], oldest first. The ring is in time order, so the first sample in range is found by
   * binary search and only the range is walked (a 60 s query over a one-hour ring touches ~60 samples, not 3600).
   */
  forEachRaw(startMs: number, endMs: number, fn: (t: number, v: number) => void): void {
    const cap = this.rawCapacity;
    const base = this.#head - this.#size + cap; // index of the oldest sample, before the modulo
    let lo = 0;
    let hi = this.#size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#t[(base + mid) % cap]! < startMs) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < this.#size; k++) {
      const i = (base + k) % cap;
      const t = this.#t[i]!;
      if (t > endMs) break;
      fn(t, this.#v[i]!);
    }
  }

  /**
   * Points over [startMs, endMs] re-bucketed to `stepMs`, from the finest source that covers the range: raw while it
   * reaches back to `startMs`, else the first tier that does. Buckets without data are left out (no invented points).
   */
  query(startMs: number, endMs: number, stepMs: number): Point[] {
    const out: Point[] = [];
    let cur: Point | null = null;
    const push = (t: number, min: number, max: number, sum: number, count: number, last: number) => {
      const b = Math.floor(t / stepMs) * stepMs;
      if (!cur || cur.t !== b) {
        if (cur) out.push(finish(cur));
        cur = { t: b, avg: sum, min, max, last, count };
        return;
      }
      if (min < cur.min) cur.min = min;
      if (max > cur.max) cur.max = max;
      cur.avg += sum;
      cur.count += count;
      cur.last = last;
    };
    const source = this.sourceFor(startMs, endMs);
    if (source === null) this.forEachRaw(startMs, endMs, (t, v) => push(t, v, v, v, 1, v));
    else source.forEach(startMs, endMs, push);
    if (cur) out.push(finish(cur));
    return out;
  }

  /** null = raw; else the finest tier whose span reaches back to startMs (or the coarsest). */
  sourceFor(startMs: number, endMs: number): Tier | null {
    if (this.rawOldest <= startMs || this.#size < this.rawCapacity) return null;
    for (const tier of this.tiers) if (endMs - startMs <= tier.bucketMs * (tier.capacity - 1)) return tier;
    return this.tiers.at(-1) ?? null;
  }

  /** The arrays, for checkpoints. */
  buffers(): ArrayBufferView[] {
    return [this.#t, this.#v, ...this.tiers.flatMap((t) => [t.id, t.min, t.max, t.sum, t.last, t.count])];
  }

  get cursor(): { head: number; size: number } {
    return { head: this.#head, size: this.#size };
  }

  /** Restores the raw cursor after the arrays were loaded, and each tier's newest bucket from its ids. */
  set cursor(c: { head: number; size: number }) {
    this.#head = c.head;
    this.#size = c.size;
    for (const tier of this.tiers) tier.newest = tier.id.reduce((a, b) => (b > a ? b : a), -1);
  }
}

function finish(p: Point): Point {
  p.avg = p.count ? p.avg / p.count : 0;
  return p;
}
