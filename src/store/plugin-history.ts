import type { PluginSample } from '../model/plugin.js';

/**
 * Bytes one stored plugin sample takes: timestamp f64, cpu f32, RSS in KiB f32 (exact to 16 GiB, then to 0.0001 %),
 * threads u16 (saturating), pid i32. The memory share is derived from RSS and MemTotal when read.
 */
export const PLUGIN_SAMPLE_BYTES = 8 + 4 + 4 + 2 + 4;

export interface StoredPluginSample {
  timestampMs: number;
  pid: number;
  cpuPercent: number;
  rssBytes: number;
  memoryPercent: number;
  threads: number;
}

/** Where the k-th newest sample (k = 0: the latest) sits in a ring whose next write goes to `head`. */
const slotOf = (head: number, capacity: number, k: number) => (head - 1 - k + capacity * 2) % capacity;

/**
 * One plugin's ring: preallocated typed arrays, O(1) append, overwriting the oldest sample when full. Timestamp, CPU and
 * RSS live in SharedArrayBuffers, so a report's worker thread reads them where they are (`view`): copying a week of 50
 * plugins (8 MB) out per report made the main thread's collector run for the buffers.
 */
class PluginRing {
  readonly capacity: number;
  #ts: Float64Array;
  #rssKib: Float32Array;
  #cpu: Float32Array;
  #threads: Uint16Array;
  #pid: Int32Array;
  #memTotalBytes: number;
  /** Index the next sample goes to. */
  #head = 0;
  #size = 0;

  constructor(capacity: number, memTotalBytes: number) {
    this.capacity = capacity;
    this.#memTotalBytes = memTotalBytes;
    this.#ts = new Float64Array(new SharedArrayBuffer(capacity * 8));
    this.#rssKib = new Float32Array(new SharedArrayBuffer(capacity * 4));
    this.#cpu = new Float32Array(new SharedArrayBuffer(capacity * 4));
    this.#threads = new Uint16Array(capacity);
    this.#pid = new Int32Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  append(s: PluginSample): void {
    const i = this.#head;
    this.#ts[i] = s.timestampMs;
    this.#rssKib[i] = s.rssBytes / 1024;
    this.#cpu[i] = s.cpuPercent;
    this.#threads[i] = Math.min(65535, s.threads);
    this.#pid[i] = s.pid;
    this.#head = (i + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  /** The k-th newest sample (k = 0 is the latest). */
  at(k: number): StoredPluginSample {
    const i = slotOf(this.#head, this.capacity, k);
    const rssBytes = this.#rssKib[i]! * 1024;
    return {
      timestampMs: this.#ts[i]!,
      pid: this.#pid[i]!,
      cpuPercent: this.#cpu[i]!,
      rssBytes,
      memoryPercent: (rssBytes / this.#memTotalBytes) * 100,
      threads: this.#threads[i]!,
    };
  }

  /** The shared columns and where the ring stands now (structured-clonable: the memory is shared, not copied). */
  view(): PluginRingView {
    return { capacity: this.capacity, head: this.#head, size: this.#size, ts: this.#ts, cpu: this.#cpu, rssKib: this.#rssKib };
  }

  timestampAt(k: number): number {
    return this.#ts[slotOf(this.#head, this.capacity, k)]!;
  }
}

/** Samples as columns: `n` of them, timestamp (epoch ms), CPU percent, RSS in KiB. */
export interface PluginColumns {
  n: number;
  ts: Float64Array;
  cpu: Float32Array;
  rssKib: Float32Array;
}

/**
 * A plugin ring's shared columns as they stood when the view was taken. The ring goes on appending: a reader of a
 * view skips what does not fall in its range (a slot overwritten since has a newer time), rather than stopping there.
 */
export interface PluginRingView {
  capacity: number;
  head: number;
  size: number;
  ts: Float64Array;
  cpu: Float32Array;
  rssKib: Float32Array;
}

/**
 * A view's samples in [startMs, endMs], oldest first, as columns, `batch` at a time; the same arrays come back each
 * time. For a report in the build worker: nothing copied on the main thread, nothing allocated per sample.
 */
export function* viewColumns(v: PluginRingView, startMs: number, endMs: number, batch = 2000): Generator<PluginColumns> {
  const out: PluginColumns = { n: 0, ts: new Float64Array(batch), cpu: new Float32Array(batch), rssKib: new Float32Array(batch) };
  for (let k = v.size - 1; k >= 0; k--) {
    const i = slotOf(v.head, v.capacity, k);
    const t = v.ts[i]!;
    if (t < startMs || t > endMs) continue;
    out.ts[out.n] = t;
    out.cpu[out.n] = v.cpu[i]!;
    out.rssKib[out.n] = v.rssKib[i]!;
    if (++out.n === batch) {
      yield out;
      out.n = 0;
    }
  }
  if (out.n) yield out;
}

const HALF_MICROSECOND = 0.0005;

export interface HistoryQuery {
  /** At most this many samples, newest first. */
  limit: number;
  /** Inclusive bounds in epoch ms. */
  startMs?: number;
  endMs?: number;
}

/**
 * Per-plugin sample history: one fixed-capacity ring per plugin, so memory is `capacity × PLUGIN_SAMPLE_BYTES` per
 * plugin whatever the uptime. Timestamps are appended in increasing order, which the range query relies on.
 */
export class PluginHistory {
  readonly capacity: number;
  #memTotalBytes: number;
  #rings = new Map<string, PluginRing>();

  constructor(opts: { capacity: number; memTotalBytes: number }) {
    this.capacity = opts.capacity;
    this.#memTotalBytes = opts.memTotalBytes;
  }

  append(samples: readonly PluginSample[]): void {
    for (const s of samples) {
      let ring = this.#rings.get(s.pluginId);
      if (!ring) {
        ring = new PluginRing(this.capacity, this.#memTotalBytes);
        this.#rings.set(s.pluginId, ring);
      }
      ring.append(s);
    }
  }

  latest(pluginId: string): StoredPluginSample | null {
    const ring = this.#rings.get(pluginId);
    return ring && ring.size ? ring.at(0) : null;
  }

  /**
   * Newest first; skips samples after `endMs` and stops at the first one before `startMs`. Bounds are compared at the
   * API's resolution (1 µs): a timestamp read back from a response selects exactly that sample.
   */
  query(pluginId: string, q: HistoryQuery): StoredPluginSample[] {
    const ring = this.#rings.get(pluginId);
    if (!ring) return [];
    const endMs = q.endMs === undefined ? undefined : q.endMs + HALF_MICROSECOND;
    const startMs = q.startMs === undefined ? undefined : q.startMs - HALF_MICROSECOND;
    const out: StoredPluginSample[] = [];
    let k = 0;
    if (endMs !== undefined) {
      // binary search for the newest sample at or before endMs (timestamps decrease with k)
      let lo = 0;
      let hi = ring.size;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ring.timestampAt(mid) > endMs) lo = mid + 1;
        else hi = mid;
      }
      k = lo;
    }
    for (; k < ring.size && out.length < q.limit; k++) {
      const s = ring.at(k);
      if (startMs !== undefined && s.timestampMs < startMs) break;
      out.push(s);
    }
    return out;
  }

  /** Plugins with samples held. */
  pluginIds(): string[] {
    return [...this.#rings.keys()];
  }

  /**
   * A plugin's samples in [startMs, endMs], oldest first, `batch` at a time: an export walks a week of samples without
   * holding them all (each batch is a fresh array the caller may keep or drop).
   */
  *batches(pluginId: string, startMs: number, endMs: number, batch = 500): Generator<StoredPluginSample[]> {
    const ring = this.#rings.get(pluginId);
    if (!ring) return;
    let out: StoredPluginSample[] = [];
    for (let k = ring.size - 1; k >= 0; k--) {
      const t = ring.timestampAt(k);
      if (t < startMs) continue;
      if (t > endMs) break;
      out.push(ring.at(k));
      if (out.length === batch) {
        yield out;
        out = [];
      }
    }
    if (out.length) yield out;
  }

  /** The ring of a plugin as it stands now, its memory shared (see PluginRingView); null for a plugin never sampled. */
  view(pluginId: string): PluginRingView | null {
    return this.#rings.get(pluginId)?.view() ?? null;
  }

  /** Bytes held by sample arrays (for `perfwatch_ring_buffer_memory_bytes`). */
  get memoryBytes(): number {
    return this.#rings.size * this.capacity * PLUGIN_SAMPLE_BYTES;
  }
}
