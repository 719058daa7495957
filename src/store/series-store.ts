import { createHash } from 'node:crypto';
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

/** First bytes of a checkpoint from format 3 on. */
const MAGIC = 'perfwatch-history';

interface CheckpointSeries {
  key: string;
  meta: SeriesMeta;
  updatedMs: number;
  cursor: { head: number; size: number };
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

  /**
   * Writes every series to `file` atomically (temp file, fsync, rename), format 3:
   * `perfwatch-history 3 <sha256 of the rest> <header bytes>\n`, each series' bytes, then the JSON header. Each series is
   * copied (with its cursor) in one synchronous step, so a tick appending while the file is written cannot make the
   * bytes disagree with the header or the checksum; one series is held at a time. A torn or altered file fails its
   * checksum on restore instead of loading garbage.
   */
  async checkpoint(file: string): Promise<void> {
    const tmp = `${file}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      const hash = createHash('sha256');
      const firstLine = (sum: string, headerBytes: number) => Buffer.from(`${MAGIC} 3 ${sum} ${String(headerBytes).padStart(12, '0')}\n`);
      let pos = firstLine('0'.repeat(64), 0).length;
      const series: CheckpointSeries[] = [];
      for (const [key, s] of [...this.#series]) {
        const b = s.data.snapshot();
        const copy = Buffer.from(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)); // one synchronous copy
        series.push({ key, meta: s.meta, updatedMs: s.updatedMs, cursor: s.data.cursor });
        hash.update(copy);
        await fh.write(copy, 0, copy.length, pos);
        pos += copy.length;
      }
      const header = Buffer.from(JSON.stringify({ version: 3, layout: this.layout, series }));
      hash.update(header);
      await fh.write(header, 0, header.length, pos);
      const line = firstLine(hash.digest('hex'), header.length);
      await fh.write(line, 0, line.length, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  }

  /**
   * Loads a checkpoint written with the same layout; returns how many series were restored, or why it was refused
   * (`skipped`; the store is then left as it was: empty at start-up). The checksum (format 3) and the header's shape
   * are checked before any series is touched. History keeps the gap while perfwatch was down: nothing is interpolated.
   */
  async restore(file: string): Promise<{ restored: number } | { skipped: string; missing?: true }> {
    let buf: Buffer;
    try {
      buf = await readFile(file);
    } catch {
      return { skipped: 'no checkpoint', missing: true };
    }
    let header: unknown;
    let payload: Buffer;
    let version: number;
    const nl = buf.indexOf(10);
    if (nl < 0) return { skipped: 'unreadable checkpoint header' };
    if (buf.subarray(0, MAGIC.length).toString('latin1') === MAGIC) {
      const [, v, sum, len] = buf.subarray(0, nl).toString('latin1').split(' ');
      version = Number(v);
      if (version !== 3) return { skipped: `checkpoint format ${String(v).slice(0, 20)} is not one this perfwatch reads (1, 2, 3)` };
      const rest = buf.subarray(nl + 1);
      if (createHash('sha256').update(rest).digest('hex') !== sum) return { skipped: 'checksum mismatch (torn write or damaged file)' };
      const headerBytes = Number(len);
      if (!Number.isInteger(headerBytes) || headerBytes <= 0 || headerBytes > rest.length) return { skipped: 'unreadable checkpoint header' };
      payload = rest.subarray(0, rest.length - headerBytes);
      try {
        header = JSON.parse(rest.subarray(rest.length - headerBytes).toString('utf8'));
      } catch {
        return { skipped: 'unreadable checkpoint header' };
      }
    } else {
      version = 0; // formats 1 and 2: the header first, its version inside, no checksum
      payload = buf.subarray(nl + 1);
      try {
        header = JSON.parse(buf.subarray(0, nl).toString('utf8'));
      } catch {
        return { skipped: 'unreadable checkpoint header' };
      }
    }
    const h = header as { version?: unknown; layout?: unknown; series?: unknown };
    if (version === 0) {
      if (h?.version !== 1 && h?.version !== 2) return { skipped: `checkpoint format ${JSON.stringify(h?.version ?? null).slice(0, 20)} is not one this perfwatch reads (1, 2, 3)` };
      version = h.version;
    } else if (h?.version !== version) return { skipped: 'header version disagrees with the file' };
    if (JSON.stringify(h.layout) !== JSON.stringify(this.layout)) {
      return { skipped: 'the retention layout changed since the checkpoint was written' };
    }
    const problem = this.#headerProblem(h.series);
    if (problem) return { skipped: `invalid header: ${problem}` };
    const series = h.series as CheckpointSeries[];
    // format 1 (before 0.2) kept each field in its own array; it is converted on load
    const per = version === 1 ? seriesBytesV1(this.layout.rawCapacity, this.layout.tiers) : this.bytesPerSeries;
    if (payload.length !== series.length * per) return { skipped: 'truncated checkpoint' };
    let off = 0;
    for (const s of series) {
      const data = this.#newSeries();
      const bytes = payload.subarray(off, off + per);
      if (version === 1) data.loadV1(bytes);
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
    return { restored: series.length };
  }

  /** Why a header's series list cannot be trusted, or null: keys, metadata and cursors within what this store writes. */
  #headerProblem(series: unknown): string | null {
    if (!Array.isArray(series)) return 'series is not a list';
    const keys = new Set<string>();
    const cap = this.layout.rawCapacity;
    for (const [i, s] of series.entries()) {
      const e = s as Partial<CheckpointSeries> | null;
      const at = `series[${i}]`;
      if (!e || typeof e.key !== 'string' || e.key.length > 1024 || keys.has(e.key)) return `${at}.key is missing, too long or repeated`;
      keys.add(e.key);
      const m = e.meta as Partial<SeriesMeta> | undefined;
      if (!m || typeof m.name !== 'string' || m.name.length > 200 || typeof m.unit !== 'string' || (m.kind !== 'host' && m.kind !== 'custom')) return `${at}.meta is not a series description`;
      if (m.tags !== undefined && (m.tags === null || typeof m.tags !== 'object' || Object.values(m.tags).some((v) => typeof v !== 'string'))) return `${at}.meta.tags is not a string map`;
      const c = e.cursor as { head?: unknown; size?: unknown } | undefined;
      if (!c || !Number.isInteger(c.head) || !Number.isInteger(c.size) || (c.head as number) < 0 || (c.head as number) >= cap || (c.size as number) < 0 || (c.size as number) > cap) return `${at}.cursor is outside the raw ring (capacity ${cap})`;
      if (typeof e.updatedMs !== 'number' || !Number.isFinite(e.updatedMs)) return `${at}.updatedMs is not a time`;
    }
    return null;
  }
}
