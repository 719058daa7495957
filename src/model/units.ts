export const MIB = 1024 * 1024;

/** Rounds to `digits` decimals for the legacy JSON fields (the original rounded psutil floats to two places). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * `String(n / 100)` for an integer `n` (a value already rounded to hundredths, times 100), built from integer parts:
 * V8's shortest double-to-string was the largest single cost of a history answer (16 series × 60 points each). Outside
 * ±2^31 it falls back to String(n / 100); the results are the same (tested against it).
 */
export function formatHundredths(n: number): string {
  if (!(n > -2147483648 && n < 2147483648)) return String(n / 100);
  const a = n < 0 ? -n : n;
  const int = (a / 100) | 0;
  const frac = a - int * 100;
  const s = frac === 0 ? `${int}` : frac % 10 === 0 ? `${int}.${frac / 10}` : `${int}.${frac < 10 ? '0' : ''}${frac}`;
  return n < 0 ? `-${s}` : s;
}
