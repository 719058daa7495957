import { cpuUsage } from 'node:process';

/** How old the last reading may be for a request's start to be bridged from it rather than read (ms). */
export const BRIDGE_MS = 1;

/**
 * The process' CPU clock for requests' CPU time, in µs, with one `getrusage` per request under load instead of two.
 * `process.cpuUsage()` is a syscall: 1.8 µs in a loop on the bench VM, and the light bench app spent 7.5–15 µs a
 * request more with its two calls than without (bench/README.md, issue 15). A request's end is always read. Its start
 * is read too, unless the last reading (usually the previous request's end) is under `BRIDGE_MS` old: then it is that
 * reading plus the event loop's busy time since, from `performance.eventLoopUtilization()`, which reads two clocks and
 * makes no syscall. Busy time is the main thread's, on a CPU or preempted; so a bridged start misses the other
 * threads' CPU in that gap (counted in the request) and counts a preemption in it as CPU (left out of the request),
 * each at most the gap. The record's CPU time was never the request's alone: under concurrency it is the process' CPU
 * over the request's span, an upper bound.
 */
export class CpuClock {
  /** The last reading: process CPU (µs); the loop's clock (ms since it started, idle + busy) and busy ms at it. */
  #cpu = 0;
  #at = Number.NEGATIVE_INFINITY;
  #busy = 0;
  /** Starts bridged (for the tests and the docs' claim). */
  bridged = 0;

  /** Reads the process' CPU (one syscall) and keeps it as the last reading. */
  read(): number {
    const u = cpuUsage();
    const elu = performance.eventLoopUtilization();
    this.#cpu = u.user + u.system;
    // before the loop runs (a request in the main script) ELU reads 0: such a reading is never bridged from
    this.#at = elu.active > 0 ? elu.idle + elu.active : Number.NEGATIVE_INFINITY;
    this.#busy = elu.active;
    return this.#cpu;
  }

  /** The process' CPU at a request's start: bridged from a recent reading when there is one, else read. */
  start(): number {
    const elu = performance.eventLoopUtilization();
    if (elu.idle + elu.active - this.#at < BRIDGE_MS) {
      this.bridged++;
      return this.#cpu + (elu.active - this.#busy) * 1000;
    }
    return this.read();
  }

  /** The CPU (µs) from `start`'s value to now, never below 0. */
  since(start: number): number {
    return Math.max(0, this.read() - start);
  }
}
