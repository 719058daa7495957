/**
 * The answer of a range query read straight from its bytes: the shape Prometheus 2.42 and VictoriaMetrics (Debian's
 * packages, checked with curl) both write,
 * `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{…},"values":[[1700000000.5,"0.25"],…]},…]…}`,
 * with each series' labels given to JSON.parse and its points scanned into two Float64Arrays. JSON.parse of the
 * whole answer made a tuple, a boxed timestamp and a string per point (1500 per history request), then a copy into
 * the columns: ~0.2 ms of a request, and garbage for the ~0.4 ms of collection each request paid under the 1 MiB
 * semi-space (bench/README.md, "Fleet"). Anything else (another result type, native histograms, an error, a partial
 * answer, a shape this scanner does not know) answers null, and the caller parses the text as JSON.
 */
const PREFIX = Buffer.from('{"status":"success","data":{"resultType":"matrix","result":[');
const METRIC = Buffer.from('{"metric":');
const VALUES = Buffer.from(',"values":[');

const Q = 0x22; // "
const COMMA = 0x2c;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const MINUS = 0x2d;
const D0 = 0x30;
const D9 = 0x39;

/** Powers of ten exact in a double. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** One series: its labels and its points as two columns, epoch ms and values (PromSeries in prometheus-api.ts). */
export interface MatrixSeries {
  metric: Record<string, string>;
  times: Float64Array;
  values: Float64Array;
}

const at = (buf: Buffer, i: number, tag: Buffer) => buf.length >= i + tag.length && buf.compare(tag, 0, tag.length, i, i + tag.length) === 0;

/** A Prometheus sample value as it is written: a decimal, NaN, +Inf or -Inf. */
export function promFloat(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

/** The points of the series being read, before they are copied out at its size (grown by doubling, kept). */
let scratchT = new Float64Array(4096);
let scratchV = new Float64Array(4096);

/** The series of a range query's answer, or null when the bytes are not the shape this reads (see above). */
export function scanMatrix(buf: Buffer): MatrixSeries[] | null {
  if (!at(buf, 0, PREFIX)) return null;
  let i = PREFIX.length;
  const out: MatrixSeries[] = [];
  if (buf[i] === RBRACKET) return out;
  for (;;) {
    if (!at(buf, i, METRIC)) return null;
    i += METRIC.length;
    // the labels object: up to its closing brace, outside strings
    const start = i;
    if (buf[i] !== LBRACE) return null;
    let inString = false;
    for (; i < buf.length; i++) {
      const c = buf[i]!;
      if (inString) {
        if (c === BACKSLASH) i++;
        else if (c === Q) inString = false;
      } else if (c === Q) inString = true;
      else if (c === RBRACE) break;
    }
    if (i >= buf.length) return null;
    i++;
    let metric: Record<string, string>;
    try {
      metric = JSON.parse(buf.toString('utf8', start, i)) as Record<string, string>;
    } catch {
      return null;
    }
    if (!at(buf, i, VALUES)) return null;
    i += VALUES.length;
    let n = 0;
    if (buf[i] === RBRACKET) i++;
    else
      for (;;) {
        // [<seconds>,"<value>"]
        if (buf[i] !== LBRACKET) return null;
        i++;
        // the timestamp: integer seconds and up to three decimals, exact in ms
        let sec = 0;
        let digits = 0;
        while (buf[i]! >= D0 && buf[i]! <= D9) ((sec = sec * 10 + buf[i]! - D0), i++, digits++);
        if (!digits || digits > 12) return null;
        let ms = sec * 1000;
        if (buf[i] === DOT) {
          i++;
          for (let k = 0; buf[i]! >= D0 && buf[i]! <= D9; k++, i++) {
            if (k === 3) return null; // finer than a millisecond: not how Prometheus writes times
            ms += (buf[i]! - D0) * POW10[2 - k]!;
          }
        }
        if (buf[i] !== COMMA || buf[i + 1] !== Q) return null;
        i += 2;
        // the value: a plain decimal of at most 2^53 as digits is exact after one division (correctly rounded, as
        // Number() would); anything else goes through Number()
        const vStart = i;
        let neg = false;
        if (buf[i] === MINUS) ((neg = true), i++);
        let mant = 0;
        let fracDigits = 0;
        let ok = false;
        let seenDot = false;
        for (;; i++) {
          const c = buf[i]!;
          if (c >= D0 && c <= D9) {
            mant = mant * 10 + (c - D0);
            if (seenDot) fracDigits++;
            ok = true;
          } else if (c === DOT && !seenDot) seenDot = true;
          else break;
        }
        let v: number;
        if (buf[i] === Q && ok && mant <= Number.MAX_SAFE_INTEGER && fracDigits < POW10.length) v = (neg ? -mant : mant) / POW10[fracDigits]!;
        else {
          while (i < buf.length && buf[i] !== Q) {
            if (buf[i] === BACKSLASH) return null;
            i++;
          }
          if (i >= buf.length) return null;
          v = promFloat(buf.toString('latin1', vStart, i));
        }
        i++; // closing quote
        if (buf[i] !== RBRACKET) return null;
        i++;
        if (n === scratchT.length) {
          const t2 = new Float64Array(n * 2);
          t2.set(scratchT);
          scratchT = t2;
          const v2 = new Float64Array(n * 2);
          v2.set(scratchV);
          scratchV = v2;
        }
        scratchT[n] = ms;
        scratchV[n] = v;
        n++;
        if (buf[i] === COMMA) i++;
        else if (buf[i] === RBRACKET) {
          i++;
          break;
        } else return null;
      }
    if (buf[i] !== RBRACE) return null; // (a series with native histograms has more keys: the JSON path reads it)
    i++;
    out.push({ metric, times: scratchT.slice(0, n), values: scratchV.slice(0, n) });
    if (buf[i] === COMMA) i++;
    else if (buf[i] === RBRACKET) break;
    else return null;
  }
  return out;
}
