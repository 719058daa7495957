import { performance } from 'node:perf_hooks';

/** Source of wall-clock time in epoch milliseconds, with sub-millisecond precision where the platform has it. */
export interface Clock {
  now(): number;
}

/** The process clock: `performance.timeOrigin + performance.now()` keeps microseconds that `Date.now()` drops. */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
};
