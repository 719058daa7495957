import type { Point } from './tiered-series.js';

/** Statistics over history points, shared by the performance API, the alert summaries and reports. Pure functions. */

/** `trend` is `stable` while the least-squares line over the period moves less than this many points (percent). */
export const TREND_THRESHOLD = 5;
export type Trend = 'increasing' | 'decreasing' | 'stable';

/** Least-squares slope of avg over time, scaled to the change it predicts over `spanMs`. */
export function trendOf(points: readonly Point[], spanMs: number): Trend {
  return trendOver(points.length, (i) => points[i]!.t, (i) => points[i]!.avg, spanMs);
}

/** `trendOf` over two columns (bucket times, averages), as a backend's answer holds them: no point object per bucket. */
export function trendOfColumns(times: ArrayLike<number>, values: ArrayLike<number>, spanMs: number): Trend {
  return trendOver(times.length, (i) => times[i]!, (i) => values[i]!, spanMs);
}

function trendOver(n: number, t: (i: number) => number, v: (i: number) => number, spanMs: number): Trend {
  if (n < 2) return 'stable';
  const t0 = t(0);
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const x = t(i) - t0;
    const y = v(i);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const den = n * sxx - sx * sx;
  if (den === 0) return 'stable';
  const change = ((n * sxy - sx * sy) / den) * spanMs;
  return Math.abs(change) < TREND_THRESHOLD ? 'stable' : change > 0 ? 'increasing' : 'decreasing';
}

/** Mean, max and min over points, weighting each by its sample count. */
export function statsOf(points: readonly Point[]): { average: number; maximum: number; minimum: number } | null {
  if (!points.length) return null;
  let sum = 0;
  let count = 0;
  let max = -Infinity;
  let min = Infinity;
  for (const p of points) {
    sum += p.avg * p.count;
    count += p.count;
    if (p.max > max) max = p.max;
    if (p.min < min) min = p.min;
  }
  return { average: sum / count, maximum: max, minimum: min };
}

/** Average rate of a counter over the points (per second, rounded), 0 with fewer than two points or after a reset. */
export function throughputOf(points: readonly Point[]): number {
  if (points.length < 2) return 0;
  const a = points[0]!;
  const b = points.at(-1)!;
  return rateBetween(a.t, a.last, b.t, b.last);
}

/** `throughputOf` over two columns (bucket times, last values). */
export function throughputOfColumns(times: ArrayLike<number>, values: ArrayLike<number>): number {
  const n = times.length;
  return n < 2 ? 0 : rateBetween(times[0]!, values[0]!, times[n - 1]!, values[n - 1]!);
}

function rateBetween(ta: number, a: number, tb: number, b: number): number {
  return b >= a && tb > ta ? Math.round((b - a) / ((tb - ta) / 1000)) : 0;
}
