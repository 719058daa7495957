import { isoUtc } from '../../model/time.js';

/** One history column: its JSON field name (already a JSON string literal), and its buckets in time order. */
export interface HistoryColumn {
  field: string;
  times: number[];
  /** Values in hundredths (integers; NaN or ±Infinity are written as null). */
  hundredths: number[];
}

/**
 * The bytes of `{"timestamp":"<iso>"` per row time: the same for every request over a range (row times are bucket
 * starts), so they are encoded once. Bounded; cleared when full.
 */
const rowStarts = new Map<number, Buffer>();
function rowStart(t: number): Buffer {
  let b = rowStarts.get(t);
  if (b === undefined) {
    if (rowStarts.size >= 8192) rowStarts.clear();
    rowStarts.set(t, (b = Buffer.from(`{"timestamp":"${isoUtc(t)}"`, 'latin1')));
  }
  return b;
}

/** Longest text a value can take: `String(n / 100)` of a double beyond ±2^31 (e.g. `-1.7976931348623157e+306`). */
const MAX_VALUE_BYTES = 32;
/** `{"timestamp":"2026-01-01T00:00:00.000Z"` and the `,` and `}` around a row. */
const ROW_BYTES = 48;

/**
 * Writes `head` + `[rows]` + `tail` as UTF-8 bytes: one row object per time at which any column has a bucket, with the
 * columns that have one, in column order — the `metrics` array of `GET /api/v1/performance/history`. Written straight
 * into one buffer: building a string per value (number, template pieces, the joined rows) allocated ~300 KB per
 * 16-series answer, a young-generation collection every other request.
 */
export function historyJson(head: string, tail: string, columns: readonly HistoryColumn[]): Buffer {
  const fields = columns.map((c) => Buffer.from(`,${c.field}:`, 'utf8'));
  const headBytes = Buffer.from(`${head}[`, 'utf8');
  const tailBytes = Buffer.from(`]${tail}`, 'utf8');
  // an upper bound, so the buffer is allocated once: as if every bucket had a row of its own
  let size = headBytes.length + tailBytes.length;
  columns.forEach((c, i) => (size += c.times.length * (ROW_BYTES + fields[i]!.length + MAX_VALUE_BYTES)));
  const out = size <= KEPT_BYTES ? scratch(size) : Buffer.allocUnsafe(size);
  out.set(headBytes, 0);
  let at = headBytes.length;
  const pos = new Array<number>(columns.length).fill(0);
  for (let row = 0; ; row++) {
    let t = Infinity;
    for (let col = 0; col < columns.length; col++) {
      const ct = columns[col]!.times[pos[col]!];
      if (ct !== undefined && ct < t) t = ct;
    }
    if (t === Infinity) break;
    if (row) out[at++] = 0x2c; // ,
    const start = rowStart(t);
    out.set(start, at);
    at += start.length;
    for (let col = 0; col < columns.length; col++) {
      const c = columns[col]!;
      const k = pos[col]!;
      if (c.times[k] !== t) continue;
      pos[col] = k + 1;
      const f = fields[col]!;
      out.set(f, at);
      at += f.length;
      at = writeHundredths(out, at, c.hundredths[k]!);
    }
    out[at++] = 0x7d; // }
  }
  out.set(tailBytes, at);
  at += tailBytes.length;
  // the answer's own bytes, exactly: the bound is 3–4 times the answer, and the scratch is written by the next request
  return out === kept ? Buffer.from(out.subarray(0, at)) : out.subarray(0, at);
}

/** Largest scratch buffer kept between answers (a 16-series hour at 1 s needs ~6 MB and gets its own). */
const KEPT_BYTES = 1 << 20;
let kept = Buffer.alloc(0);
function scratch(size: number): Buffer {
  if (kept.length < size) kept = Buffer.allocUnsafeSlow(Math.min(KEPT_BYTES, Math.max(size, 2 * kept.length)));
  return kept;
}

/**
 * Writes `String(n / 100)` for an integer `n` (`null` when it is not finite) at `at` and returns the new end: the
 * document's 2-decimal values, from integer digits rather than V8's double-to-shortest-string.
 */
export function writeHundredths(out: Buffer, at: number, n: number): number {
  if (!Number.isFinite(n)) return at + out.write('null', at, 'latin1');
  if (!(n > -2147483648 && n < 2147483648)) return at + out.write(String(n / 100), at, 'latin1');
  let a = n;
  if (a < 0) {
    out[at++] = 0x2d; // -
    a = -a;
  }
  const int = (a / 100) | 0;
  const frac = a - int * 100;
  let digits = 1;
  for (let x = int; x >= 10; x = (x / 10) | 0) digits++;
  for (let i = digits - 1, x = int; i >= 0; i--, x = (x / 10) | 0) out[at + i] = 0x30 + (x % 10);
  at += digits;
  if (frac !== 0) {
    const tenths = (frac / 10) | 0;
    const rest = frac - tenths * 10;
    out[at++] = 0x2e; // .
    out[at++] = 0x30 + tenths;
    if (rest !== 0) out[at++] = 0x30 + rest;
  }
  return at;
}
