/**
 * The one lifecycle contract, after the OpenTelemetry Collector's component.Component and OTel JS' MetricReader:
 * - `start()` acquires what the part holds (files, sockets, timers, threads) and may fail; a part that failed to start
 *   has released what it took.
 * - `stop()` releases it: idempotent, safe without `start()` (or after a failed one), waits for work in flight, never
 *   rejects (failures are the part's to log).
 * main.ts lists the parts in start order; lifecycle.ts starts them and stops them in reverse.
 */
export interface Component {
  /** For logs: `starting <name>`, `stopping <name> failed`. */
  readonly name: string;
  start?(): Promise<void> | void;
  stop(): Promise<void> | void;
}
