import type { Counter } from 'prom-client';

/**
 * Sets prom-client counters from absolute totals (what /proc reports): increments by the difference since the last
 * value applied; a total that went down (an interface re-created, a counter wrapped) is a reset: the series restarts
 * from the new total, which Prometheus' rate() reads as a counter reset.
 */
export class CounterValues<L extends string> {
  #counter: Counter<L>;
  #applied = new Map<string, number>();

  constructor(counter: Counter<L>) {
    this.#counter = counter;
  }

  set(labels: Partial<Record<L, string>>, total: number): void {
    const key = JSON.stringify(labels);
    const prev = this.#applied.get(key);
    if (prev === undefined || total < prev) {
      if (prev !== undefined) this.#counter.remove(labels);
      this.#counter.inc(labels, total);
    } else if (total > prev) this.#counter.inc(labels, total - prev);
    this.#applied.set(key, total);
  }

  remove(labels: Partial<Record<L, string>>): void {
    this.#applied.delete(JSON.stringify(labels));
    this.#counter.remove(labels);
  }
}
