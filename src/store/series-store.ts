import { open, readFile, rename } from 'node:fs/promises';
import { seriesBytes, TieredSeries, type TierSpec } from './tiered-series.js';

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

/**
 * Every host and custom series' history, in fixed memory per series (`bytesPerSeries`), with a cap on custom series.
 * Checkpointed to one file (written to a temp file, fsync'd, renamed) and restored at start when the layout matches.
 */
export class SeriesStore {
  readonly layout: StoreLayout;
  readonly bytesPerSeries: number;
  #series = new Map<string, { meta: SeriesMeta; data: TieredSeries; updatedMs: number }>();

  constructor(layout: StoreLayout) {
    this.layout = layout;
    this.bytesPerSeries = seriesBytes(layout.rawCapacity, layout.tiers);
  }

  /** Creates the series on first use. Returns false for a sample not newer than the series' latest. */
  append(key: string, meta: SeriesMeta, t: number, v: number): boolean {
    let s = this.#series.get(key);
    if (!s) {
      s = { meta, data: new TieredSeries(this.layout.rawCapacity, this.layout.tiers), updatedMs: t };
      this.#series.set(key, s);
    }
    s.updatedMs = t;
    return s.data.append(t, v);
  }

  /** Appends to an existing series (no meta object needed: the per-sample ingest path); null when it does not exist. */
  appendExisting(key: string, t: number, v: number): boolean | null {
    const s = this.#series.get(key);
    if (!s) return null;
    s.updatedMs = t;
    return s.data.append(t, v);
  }

  get(key: string): { meta: SeriesMeta; data: TieredSeries; updatedMs: number } | undefined {
    return this.#series.get(key);
  }

  has(key: string): boolean {
    return this.#series.has(key);
  }

  delete(key: string): void {
    this.#series.delete(key);
  }

  entries(): IterableIterator<[string, { meta: SeriesMeta; data: TieredSeries; updatedMs: number }]> {
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
      version: 1,
      layout: this.layout,
      series: [...this.#series].map(([key, s]) => ({ key, meta: s.meta, updatedMs: s.updatedMs, cursor: s.data.cursor })),
    };
    const tmp = `${file}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      const head = Buffer.from(`${JSON.stringify(header)}\n`);
      await fh.write(head);
      for (const s of this.#series.values()) {
        for (const b of s.data.buffers()) await fh.write(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
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
    if (header.version !== 1 || JSON.stringify(header.layout) !== JSON.stringify(this.layout)) {
      return { skipped: 'the retention layout changed since the checkpoint was written' };
    }
    if (buf.length !== nl + 1 + header.series.length * this.bytesPerSeries) return { skipped: 'truncated checkpoint' };
    let off = nl + 1;
    for (const s of header.series) {
      const data = new TieredSeries(this.layout.rawCapacity, this.layout.tiers);
      for (const b of data.buffers()) {
        new Uint8Array(b.buffer, b.byteOffset, b.byteLength).set(buf.subarray(off, off + b.byteLength));
        off += b.byteLength;
      }
      data.cursor = s.cursor;
      this.#series.set(s.key, { meta: s.meta, data, updatedMs: s.updatedMs });
    }
    return { restored: header.series.length };
  }
}
