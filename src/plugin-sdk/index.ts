/**
 * `perfwatch/plugin`: what a Node plugin uses to tell perfwatch about its calls, its gauges and that it is alive
 * (docs/service-metrics.md). No dependency, global fetch only. It never throws into the plugin and never makes a call
 * wait: calls go into a bounded queue (past `maxQueue` they are dropped and counted) that is sent in batches every
 * `flushIntervalMs`, and again at `beforeExit`.
 *
 * ```js
 * import { reporter } from 'perfwatch/plugin';
 * const pw = reporter();                 // PERFWATCH_URL, PERFWATCH_PLUGIN_ID, PERFWATCH_PLUGIN_TOKEN from the environment
 * pw.declareTools(['search', 'fetch']);
 * const hits = await pw.track('search', () => search(q));   // timed; a throw counts as an error and is rethrown
 * pw.record('fetch', 12.5, false, 'upstream 502');           // or report a call you timed yourself
 * pw.setActiveConnections(3);
 * ```
 */

export interface ReporterOptions {
  /** perfwatch's URL (default `PERFWATCH_URL`). */
  url?: string;
  /** Default `PERFWATCH_PLUGIN_ID`. */
  pluginId?: string;
  /** Default `PERFWATCH_PLUGIN_TOKEN`. */
  token?: string;
  /** Default 1000 ms. */
  flushIntervalMs?: number;
  /** Calls sent per request (default 1000, perfwatch's `service_metrics.max_batch`). */
  maxBatch?: number;
  /** Calls kept while perfwatch cannot be reached; more are dropped and counted (default 10 000). */
  maxQueue?: number;
  /** Send a heartbeat with every flush, so a `heartbeat` check passes while the plugin reports (default true). */
  heartbeat?: boolean;
  /** Where a failed send is told (default: nowhere; the plugin's stderr is the plugin's). */
  onError?: (err: Error) => void;
}

interface QueuedCall {
  tool: string;
  duration_ms: number;
  ok: boolean;
  error?: string;
}

export class PluginReporter {
  /** Calls dropped because the queue was full or perfwatch refused them. */
  dropped = 0;
  /** Calls perfwatch accepted. */
  sent = 0;
  readonly enabled: boolean;
  #url: string;
  #token: string;
  #o: Required<Omit<ReporterOptions, 'url' | 'pluginId' | 'token' | 'onError'>> & Pick<ReporterOptions, 'onError'>;
  #queue: QueuedCall[] = [];
  #gauges: { active_connections?: number; tools?: string[] } = {};
  #timer: NodeJS.Timeout | null = null;
  #sending: Promise<void> | null = null;
  #heartbeatDue: { status: 'pass' | 'warn' | 'fail'; note: string } | null = null;
  /** Drops perfwatch has not been told about yet (`dropped_calls` of the next report). */
  #untold = 0;

  constructor(o: ReporterOptions = {}) {
    const env = typeof process !== 'undefined' ? process.env : {};
    const url = o.url ?? env.PERFWATCH_URL ?? '';
    const id = o.pluginId ?? env.PERFWATCH_PLUGIN_ID ?? '';
    this.#token = o.token ?? env.PERFWATCH_PLUGIN_TOKEN ?? '';
    this.#url = url && id ? `${url.replace(/\/+$/, '')}/plugin/${encodeURIComponent(id)}/report` : '';
    // outside perfwatch (no URL, id or token) every method is a cheap no-op
    this.enabled = Boolean(this.#url && this.#token);
    this.#o = { flushIntervalMs: o.flushIntervalMs ?? 1000, maxBatch: o.maxBatch ?? 1000, maxQueue: o.maxQueue ?? 10_000, heartbeat: o.heartbeat ?? true, onError: o.onError };
    if (this.enabled) {
      this.#timer = setInterval(() => void this.flush(), this.#o.flushIntervalMs);
      this.#timer.unref();
      process.once('beforeExit', () => void this.close());
    }
  }

  /** Reports one call: its tool, how long it took, whether it succeeded and why not. */
  record(tool: string, durationMs: number, ok: boolean, error?: string): void {
    if (!this.enabled) return;
    if (this.#queue.length >= this.#o.maxQueue) {
      this.dropped++;
      this.#untold++;
      return;
    }
    const call: QueuedCall = { tool: String(tool).slice(0, 128) || 'unknown', duration_ms: Number.isFinite(durationMs) && durationMs >= 0 ? durationMs : 0, ok: Boolean(ok) };
    if (!ok && error !== undefined) call.error = String(error).slice(0, 1024);
    this.#queue.push(call);
  }

  /** Runs `fn`, times it and reports it under `tool`; a rejection or throw is reported as an error and rethrown. */
  async track<T>(tool: string, fn: () => T | Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      const v = await fn();
      this.record(tool, performance.now() - t0, true);
      return v;
    } catch (err) {
      this.record(tool, performance.now() - t0, false, err instanceof Error ? err.message : String(err));
      throw err;
    }
  }

  setActiveConnections(n: number): void {
    if (Number.isInteger(n) && n >= 0) this.#gauges.active_connections = n;
  }

  /** The tools the plugin offers (seed 003's `tools_count`). */
  declareTools(tools: readonly string[]): void {
    this.#gauges.tools = [...tools].map((t) => String(t).slice(0, 128)).slice(0, 1000);
  }

  /** Sent with the next flush: `pass`, `warn` or `fail` with a note. */
  heartbeat(status: 'pass' | 'warn' | 'fail' = 'pass', note = ''): void {
    this.#heartbeatDue = { status, note: note.slice(0, 512) };
  }

  /** Sends what is queued now (one request at a time); resolves when done. Never rejects. */
  flush(): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    this.#sending ??= this.#send().finally(() => (this.#sending = null));
    return this.#sending;
  }

  /** Stops the timer and sends what is left. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
    if (this.#queue.length) await this.flush();
  }

  async #send(): Promise<void> {
    do {
      const calls = this.#queue.splice(0, this.#o.maxBatch);
      const untold = this.#untold;
      const body: Record<string, unknown> = { calls, ...this.#gauges, ...(untold ? { dropped_calls: untold } : {}) };
      const hb = this.#heartbeatDue ?? (this.#o.heartbeat ? { status: 'pass' as const, note: '' } : null);
      if (hb) body.heartbeat = hb;
      try {
        const res = await fetch(this.#url, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(5000),
        });
        await res.arrayBuffer();
        if (res.ok) {
          this.sent += calls.length;
          this.#untold -= untold;
          if (hb === this.#heartbeatDue) this.#heartbeatDue = null;
        } else if (res.status >= 400 && res.status < 500) {
          // refused as it is: sending it again would be refused again
          this.dropped += calls.length;
          this.#untold += calls.length; // its calls are dropped too; the drops it carried stay untold
          this.#o.onError?.(new Error(`perfwatch refused a report: HTTP ${res.status}`));
          return;
        } else throw new Error(`HTTP ${res.status}`);
      } catch (err) {
        // unreachable or failing: keep the calls for the next flush, within the queue bound
        const room = Math.max(0, this.#o.maxQueue - this.#queue.length);
        this.dropped += Math.max(0, calls.length - room);
        this.#untold += Math.max(0, calls.length - room);
        this.#queue.unshift(...calls.slice(0, room));
        this.#o.onError?.(err as Error);
        return;
      }
    } while (this.#queue.length);
  }
}

let shared: PluginReporter | null = null;

/** The process' one reporter, configured from the environment perfwatch gives its plugins. */
export function reporter(o?: ReporterOptions): PluginReporter {
  shared ??= new PluginReporter(o);
  return shared;
}
