export const MIB = 1024 * 1024;

/** Rounds to `digits` decimals for the legacy JSON fields (the original rounded psutil floats to two places). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
