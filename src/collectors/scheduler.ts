import type { Clock } from '../model/clock.js';
import type { Component } from '../model/component.js';

/**
 * Runs a task every `intervalMs`, aligned to the start time so that ticks do not drift, and never overlapping: a tick
 * that is still running when the next is due makes that one skip (counted). The task must not throw; a throw is
 * reported through `onError` and the schedule goes on. Time comes from the injected clock.
 */
export class Scheduler implements Component {
  readonly name = 'scheduler';
  #intervalMs: number;
  #task: () => void | Promise<void>;
  #onError: (err: unknown) => void;
  #clock: Clock;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = true;
  #origin = 0;
  #n = 0;
  skipped = 0;

  constructor(opts: { intervalMs: number; clock: Clock; task: () => void | Promise<void>; onError: (err: unknown) => void }) {
    this.#intervalMs = opts.intervalMs;
    this.#task = opts.task;
    this.#onError = opts.onError;
    this.#clock = opts.clock;
  }

  /** Runs the first tick at once, then every interval. */
  start(): void {
    this.#stopped = false;
    this.#origin = this.#clock.now();
    this.#n = 0;
    this.#fire();
  }

  /** No tick starts after this; resolves once the tick in flight (if any) has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  #fire(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    // After a stall (a paused process, a suspended host) skip the missed ticks instead of firing them in a burst.
    this.#n = Math.max(this.#n + 1, Math.floor((now - this.#origin) / this.#intervalMs) + 1);
    const next = this.#origin + this.#n * this.#intervalMs;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, next - now));
    this.#timer.unref?.();
    if (this.#running) {
      this.skipped++;
      return;
    }
    this.#running = (async () => {
      try {
        await this.#task();
      } catch (err) {
        this.#onError(err);
      } finally {
        this.#running = null;
      }
    })();
  }
}
