import { open, readFile, rename } from 'node:fs/promises';
import { BlockArena } from './arena.js';
import { seriesBytes, seriesBytesV1, TieredSeries, type TierSpec } from './tiered-series.js';

export interface SeriesMeta {
  /** Name as clients ask for it in `history?metrics=` (legacy name, or the custom metric's name). */
  name: string;
  unit: string;
  kind: 'host' | 'custom';
  category?: string;
  tags?: Record<string, string>;
}

export interface StoreLayout {
  rawCapacity: number;
  tiers: TierSpec[];
}

/** One series in the store: what it is, its history, and when it last got a sample. */
export class StoredSeries {
  readonly meta: SeriesMeta;
  readonly data: TieredSeries;
  #sinceMs: number;

  constructor(meta: SeriesMeta, data: TieredSeries, sinceMs: number) {
    this.meta = meta;
    this.data = data;
    this.#sinceMs = sinceMs;
  }

  /** Time of the newest sample (or of the creation, while empty). */
  get updatedMs(): number {
    return Math.max(this.#sinceMs, this.data.lastT);
  }

  /** Returns false for a sample not newer than the series' latest (it is dropped). */
  append(t: number, v: number): boolean {
    return this.data.append(t, v);
  }
}

/**
 * Every host and custom series' history, in fixed memory per series (`bytesPerSeries`), with a cap on custom series.
 * Checkpointed to one file (written to a temp file, fsync'd, renamed) and restored at start when the layout matches.
 */
export class SeriesStore {
  readonly layout: StoreLayout;
  readonly bytesPerSeries: number;
  #series = new Map<string, StoredSeries>();
  #arena: BlockArena;

  constructor(layout: StoreLayout) {
    this.layout = layout;
    this.bytesPerSeries = seriesBytes(layout.rawCapacity, layout.tiers);
    this.#arena = new BlockArena(this.bytesPerSeries / 8);
  }

  #newSeries(): TieredSeries {
    return new TieredSeries(this.layout.rawCapacity, this.layout.tiers, this.#arena.alloc());
  }

  /** Creates the series on first use. Returns false for a sample not newer than the series' latest. */
  append(key: string, meta: SeriesMeta, t: number, v: number): boolean {
    return this.ensure(key, meta, t).append(t, v);
  }

  /** The series under `key`, created (empty, with `meta`) if it does not exist. */
  ensure(key: string, meta: SeriesMeta, nowMs: number): StoredSeries {
    let s = this.#series.get(key);
    if (!s) {
      s = new StoredSeries(meta, this.#newSeries(), nowMs);
      this.#series.set(key, s);
    }
    return s;
  }

  get(key: string): StoredSeries | undefined {
    return this.#series.get(key);
  }

  has(key: string): boolean {
    return this.#series.has(key);
  }

  delete(key: string): void {
    const s = this.#series.get(key);
    if (!s) return;
    this.#series.delete(key);
    this.#arena.free(s.data.snapshot());
  }

  entries(): IterableIterator<[string, StoredSeries]> {
    return this.#series.entries();
  }

  count(kind?: SeriesMeta['kind']): number {
    if (!kind) return this.#series.size;
    let n = 0;
    for (const s of this.#series.values()) if (s.meta.kind === kind) n++;
    return n;
  }

  get memoryBytes(): number {
    return this.#series.size * this.bytesPerSeries;
  }

  /** Writes every series to `file` atomically (temp file, fsync, rename). */
  async checkpoint(file: string): Promise<void> {
    const header = {
      version: 2,
      layout: this.layout,
      series: [...this.#series].map(([key, s]) => ({ key, meta: s.meta, updatedMs: s.updatedMs, cursor: s.data.cursor })),
    };
    const tmp = `${file}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      const head = Buffer.from(`${JSON.stringify(header)}\n`);
      await fh.write(head);
      for (const s of this.#series.values()) {
        const b = s.data.snapshot();
        await fh.write(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  }

  /**
   * Loads a checkpoint written with the same layout; returns how many series were restored, or a reason it was not
   * used. History keeps the gap while perfwatch was down: nothing is interpolated.
   */
  async restore(file: string): Promise<{ restored: number } | { skipped: string }> {
    let buf: Buffer;
    try {
      buf = await readFile(file);
    } catch {
      return { skipped: 'no checkpoint' };
    }
    const nl = buf.indexOf(10);
    let header: { version: number; layout: StoreLayout; series: Array<{ key: string; meta: SeriesMeta; updatedMs: number; cursor: { head: number; size: number } }> };
    try {
      header = JSON.parse(buf.subarray(0, nl).toString('utf8'));
    } catch {
      return { skipped: 'unreadable checkpoint header' };
    }
    if (header.version !== 1 && header.version !== 2) return { skipped: `checkpoint format ${header.version} is newer than this perfwatch reads (1, 2)` };
    if (JSON.stringify(header.layout) !== JSON.stringify(this.layout)) {
      return { skipped: 'the retention layout changed since the checkpoint was written' };
    }
    // format 1 (before 0.2) kept each field in its own array; it is converted on load
    const per = header.version === 1 ? seriesBytesV1(this.layout.rawCapacity, this.layout.tiers) : this.bytesPerSeries;
    if (buf.length !== nl + 1 + header.series.length * per) return { skipped: 'truncated checkpoint' };
    let off = nl + 1;
    for (const s of header.series) {
      const data = this.#newSeries();
      const bytes = buf.subarray(off, off + per);
      if (header.version === 1) data.loadV1(bytes);
      else {
        const all = data.snapshot();
        new Uint8Array(all.buffer, all.byteOffset, all.byteLength).set(bytes);
      }
      off += per;
      data.cursor = s.cursor;
      const prev = this.#series.get(s.key);
      if (prev) this.#arena.free(prev.data.snapshot());
      this.#series.set(s.key, new StoredSeries(s.meta, data, s.updatedMs));
    }
    return { restored: header.series.length };
  }
}
