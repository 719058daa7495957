/**
 * One series' history in fixed memory: a raw ring of (timestamp, value) plus rolled-up tiers. A tier is a ring of
 * buckets indexed by `floor(t / bucketMs) mod capacity`, each keeping min, max, sum, count and last; appending a raw
 * sample updates its bucket in every tier at once, so there is no separate rollup job and nothing grows with uptime.
 * A `-1` id or a zero count marks an empty bucket.
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

/** f64 slots per raw sample (t, v) and per tier bucket (id, min, max, sum, last, count). */
const RAW_SLOTS = 2;
const BUCKET_SLOTS = 6;

/** What `forEachBucket` hands on per output bucket. */
export type BucketFn = (t: number, avg: number, min: number, max: number, last: number, count: number) => void;

/** The open output bucket while folding: start (NaN before the first), min, max, sum, count, last. */
const ACC_SLOTS = 6;

/** Hands on the open output bucket, if it holds anything. */
function emit(acc: Float64Array, fn: BucketFn): void {
  if (acc[4]) fn(acc[0]!, acc[3]! / acc[4]!, acc[1]!, acc[2]!, acc[5]!, acc[4]!);
}

/** Adds a sample or a source bucket to the open output bucket of `stepMs`, handing the open one on when it is passed. */
function fold(acc: Float64Array, stepMs: number, t: number, mn: number, mx: number, sm: number, n: number, ls: number, fn: BucketFn): void {
  const bt = Math.floor(t / stepMs) * stepMs;
  if (bt !== acc[0]) {
    emit(acc, fn);
    acc[0] = bt;
    acc[1] = mn;
    acc[2] = mx;
    acc[3] = sm;
    acc[4] = n;
    acc[5] = ls;
    return;
  }
  if (mn < acc[1]!) acc[1] = mn;
  if (mx > acc[2]!) acc[2] = mx;
  acc[3]! += sm;
  acc[4]! += n;
  acc[5] = ls;
}

/** Bytes one series takes for a given layout: 16 per raw sample, 48 per tier bucket, in one buffer. */
export function seriesBytes(rawCapacity: number, tiers: readonly TierSpec[]): number {
  return 8 * (rawCapacity * RAW_SLOTS + tiers.reduce((a, t) => a + t.capacity * BUCKET_SLOTS, 0));
}

/**
 * A tier's buckets, interleaved: bucket i is `a[6i .. 6i+5]` = id (bucket number), min, max, sum, last, count. The
 * open (newest) bucket is kept in the object's own fields and written to the ring when the next bucket starts (and by
 * `sync`, for checkpoints): with thousands of series the rings do not fit in cache, and touching the ring on every
 * sample cost ~0.5 µs per tier in cache misses; the fields are hot.
 */
class Tier {
  readonly bucketMs: number;
  readonly capacity: number;
  readonly a: Float64Array;
  /** Newest (open) bucket number: the ring holds buckets (newest - capacity, newest]; -1 while empty. */
  newest = -1;
  #min = 0;
  #max = 0;
  #sum = 0;
  #last = 0;
  #count = 0;

  constructor(spec: TierSpec, a: Float64Array) {
    this.bucketMs = spec.bucketMs;
    this.capacity = spec.capacity;
    this.a = a;
  }

  /** Adds a sample; `t` is never older than the previous one (the raw ring enforces it). */
  add(t: number, v: number): void {
    const b = Math.floor(t / this.bucketMs);
    if (b === this.newest) {
      if (v < this.#min) this.#min = v;
      if (v > this.#max) this.#max = v;
      this.#sum += v;
      this.#last = v;
      this.#count++;
      return;
    }
    this.sync();
    this.newest = b;
    this.#min = v;
    this.#max = v;
    this.#sum = v;
    this.#last = v;
    this.#count = 1;
  }

  /** Writes the open bucket to its ring slot (it stays open). */
  sync(): void {
    if (this.#count === 0) return;
    const a = this.a;
    const i = (this.newest % this.capacity) * BUCKET_SLOTS;
    a[i] = this.newest;
    a[i + 1] = this.#min;
    a[i + 2] = this.#max;
    a[i + 3] = this.#sum;
    a[i + 4] = this.#last;
    a[i + 5] = this.#count;
  }

  /** Folds the buckets whose start lies in [startMs, endMs], oldest first, into `acc` (see `fold`). */
  fold(startMs: number, endMs: number, stepMs: number, acc: Float64Array, fn: BucketFn): void {
    const a = this.a;
    // the first bucket may start before startMs: it is included whole
    const first = Math.floor(startMs / this.bucketMs);
    const lastB = Math.min(Math.floor(endMs / this.bucketMs), this.newest);
    for (let b = Math.max(first, lastB - this.capacity + 1); b <= lastB; b++) {
      if (b === this.newest) {
        if (this.#count) fold(acc, stepMs, b * this.bucketMs, this.#min, this.#max, this.#sum, this.#count, this.#last, fn);
        continue;
      }
      const i = (b % this.capacity) * BUCKET_SLOTS;
      // a zeroed slot has count 0: empty whatever its id (bucket 0 is a valid id for synthetic times)
      if (a[i] !== b || a[i + 5] === 0) continue;
      fold(acc, stepMs, b * this.bucketMs, a[i + 1]!, a[i + 2]!, a[i + 3]!, a[i + 5]!, a[i + 4]!, fn);
    }
  }

  /** After a restore: the newest bucket in the ring becomes the open one again. */
  rescan(): void {
    this.newest = -1;
    this.#count = 0;
    let at = -1;
    for (let i = 0; i < this.a.length; i += BUCKET_SLOTS) {
      if (this.a[i + 5]! > 0 && this.a[i]! > this.newest) {
        this.newest = this.a[i]!;
        at = i;
      }
    }
    if (at < 0) return;
    this.#min = this.a[at + 1]!;
    this.#max = this.a[at + 2]!;
    this.#sum = this.a[at + 3]!;
    this.#last = this.a[at + 4]!;
    this.#count = this.a[at + 5]!;
  }
}

/**
 * The whole series lives in one Float64Array (raw ring first, then each tier), allocated once (from a BlockArena in
 * the store, so its pages are only touched as history fills them), and a checkpoint writes it in one piece.
 */
export class TieredSeries {
  readonly rawCapacity: number;
  /** Raw ring, interleaved: sample k is `#raw[2k]` (epoch ms) and `#raw[2k+1]` (value). */
  #raw: Float64Array;
  #all: Float64Array;
  #head = 0;
  #size = 0;
  #lastT = -Infinity;
  readonly tiers: Tier[];

  /** `memory`: a zeroed block of `seriesBytes / 8` elements (a BlockArena's), or a fresh array when left out. */
  constructor(rawCapacity: number, tiers: readonly TierSpec[], memory?: Float64Array) {
    this.rawCapacity = rawCapacity;
    const length = seriesBytes(rawCapacity, tiers) / 8;
    if (memory && memory.length !== length) throw new RangeError(`series memory must hold ${length} elements, got ${memory.length}`);
    this.#all = memory ?? new Float64Array(length);
    this.#raw = this.#all.subarray(0, rawCapacity * RAW_SLOTS);
    let off = rawCapacity * RAW_SLOTS;
    this.tiers = tiers.map((spec) => {
      const tier = new Tier(spec, this.#all.subarray(off, off + spec.capacity * BUCKET_SLOTS));
      off += spec.capacity * BUCKET_SLOTS;
      return tier;
    });
  }

  get size(): number {
    return this.#size;
  }

  /** Time of the newest sample, -Infinity while empty. */
  get lastT(): number {
    return this.#lastT;
  }

  /** Appends a sample; samples older than the newest one are ignored (time only moves forward). */
  append(t: number, v: number): boolean {
    const cap = this.rawCapacity;
    // the newest time is kept in a field: reading it back from the ring was a cache miss per sample
    if (t <= this.#lastT) return false;
    this.#lastT = t;
    const i = this.#head * RAW_SLOTS;
    this.#raw[i] = t;
    this.#raw[i + 1] = v;
    this.#head = (this.#head + 1) % cap;
    if (this.#size < cap) this.#size++;
    for (const tier of this.tiers) tier.add(t, v);
    return true;
  }

  latest(): { t: number; v: number } | null {
    if (!this.#size) return null;
    const i = ((this.#head - 1 + this.rawCapacity) % this.rawCapacity) * RAW_SLOTS;
    return { t: this.#raw[i]!, v: this.#raw[i + 1]! };
  }

  /** Oldest raw timestamp held, or Infinity when empty. */
  get rawOldest(): number {
    if (!this.#size) return Infinity;
    return this.#raw[((this.#head - this.#size + this.rawCapacity) % this.rawCapacity) * RAW_SLOTS]!;
  }

  /**
   * Raw samples in [startMs, endMs], oldest first. The ring is in time order, so the first sample in range is found by
   * binary search and only the range is walked (a 60 s query over a one-hour ring touches ~60 samples, not 3600).
   */
  forEachRaw(startMs: number, endMs: number, fn: (t: number, v: number) => void): void {
    const cap = this.rawCapacity;
    const raw = this.#raw;
    const base = this.#head - this.#size + cap; // index of the oldest sample, before the modulo
    for (let k = this.#rawFirst(startMs); k < this.#size; k++) {
      const i = ((base + k) % cap) * RAW_SLOTS;
      const t = raw[i]!;
      if (t > endMs) break;
      fn(t, raw[i + 1]!);
    }
  }

  /** The position (0 = oldest) of the first raw sample at or after startMs, by binary search. */
  #rawFirst(startMs: number): number {
    const cap = this.rawCapacity;
    const base = this.#head - this.#size + cap;
    let lo = 0;
    let hi = this.#size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#raw[((base + mid) % cap) * RAW_SLOTS]! < startMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Points over [startMs, endMs] re-bucketed to `stepMs`, from the finest source that covers the range: raw while it
   * reaches back to `startMs`, else the first tier that does. Buckets without data are left out (no invented points).
   */
  query(startMs: number, endMs: number, stepMs: number): Point[] {
    const out: Point[] = [];
    this.forEachBucket(startMs, endMs, stepMs, (t, avg, min, max, last, count) => out.push({ t, avg, min, max, last, count }));
    return out;
  }

  /**
   * What `query` returns, one bucket at a time in time order, without an object per bucket (a history answer reads
   * 16 series × 60 buckets; allocating the points cost more than the rest of the query). The source's samples or
   * buckets are folded by a plain function into a typed array, not by a closure over `let`s: a double written to a
   * closure's variable is a new heap number each time, and a 7-day report folded tens of thousands of them per series.
   */
  forEachBucket(startMs: number, endMs: number, stepMs: number, fn: BucketFn): void {
    const acc = new Float64Array(ACC_SLOTS);
    acc[0] = NaN;
    const source = this.sourceFor(startMs, endMs);
    if (source === null) {
      const cap = this.rawCapacity;
      const raw = this.#raw;
      const base = this.#head - this.#size + cap;
      for (let k = this.#rawFirst(startMs); k < this.#size; k++) {
        const i = ((base + k) % cap) * RAW_SLOTS;
        const t = raw[i]!;
        if (t > endMs) break;
        const v = raw[i + 1]!;
        fold(acc, stepMs, t, v, v, v, 1, v, fn);
      }
    } else source.fold(startMs, endMs, stepMs, acc, fn);
    emit(acc, fn);
  }

  /** null = raw; else the finest tier whose span reaches back to startMs (or the coarsest). */
  sourceFor(startMs: number, endMs: number): Tier | null {
    if (this.rawOldest <= startMs || this.#size < this.rawCapacity) return null;
    for (const tier of this.tiers) if (endMs - startMs <= tier.bucketMs * (tier.capacity - 1)) return tier;
    return this.tiers.at(-1) ?? null;
  }

  /** The series' memory (open buckets written to their slots first), for checkpoints: `seriesBytes` bytes. */
  snapshot(): Float64Array {
    // (the memory itself, not a copy: the store frees it back to its arena when the series is deleted)
    for (const tier of this.tiers) tier.sync();
    return this.#all;
  }

  get cursor(): { head: number; size: number } {
    return { head: this.#head, size: this.#size };
  }

  /** Restores the raw cursor after the buffer was loaded, and each tier's newest bucket from its ids. */
  set cursor(c: { head: number; size: number }) {
    this.#head = c.head;
    this.#size = c.size;
    this.#lastT = this.latest()?.t ?? -Infinity;
    for (const tier of this.tiers) tier.rescan();
  }

  /**
   * Loads a series written by checkpoint format 1 (field per array: raw t, raw v, then per tier id, min, max, sum,
   * last as f64 and count as u32), so an upgrade keeps the history.
   */
  loadV1(bytes: Uint8Array): void {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let off = 0;
    const f64 = () => {
      const x = dv.getFloat64(off, true);
      off += 8;
      return x;
    };
    const cap = this.rawCapacity;
    for (let k = 0; k < cap; k++) this.#raw[k * RAW_SLOTS] = f64();
    for (let k = 0; k < cap; k++) this.#raw[k * RAW_SLOTS + 1] = f64();
    for (const tier of this.tiers) {
      for (let field = 0; field < 5; field++) for (let k = 0; k < tier.capacity; k++) tier.a[k * BUCKET_SLOTS + field] = f64();
      for (let k = 0; k < tier.capacity; k++) {
        tier.a[k * BUCKET_SLOTS + 5] = dv.getUint32(off, true);
        off += 4;
      }
    }
  }
}

/** Bytes of one series in checkpoint format 1. */
export function seriesBytesV1(rawCapacity: number, tiers: readonly TierSpec[]): number {
  return rawCapacity * 16 + tiers.reduce((a, t) => a + t.capacity * 44, 0);
}
