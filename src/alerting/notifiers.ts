import { createHmac } from 'node:crypto';

/**
 * Notification targets. Each `notify` only enqueues (bounded) and returns: a dead or slow receiver never blocks the
 * evaluation or the other actions; what cannot be queued or delivered is dropped and counted.
 */

export type DropReason = 'queue_full' | 'failed';

/** What a webhook receives (docs/alerting.md): one alert transition. */
export interface WebhookBody {
  version: '1';
  status: 'firing' | 'resolved';
  alert: Record<string, unknown>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  sent_at: string;
}

export interface WebhookOptions {
  url: string;
  secret?: string;
  timeoutMs: number;
  retries: number;
  /** First retry delay; doubles each attempt. */
  backoffMs: number;
  maxQueue: number;
  onResult: (result: 'sent' | DropReason) => void;
  onError?: (err: unknown, attempt: number) => void;
}

export const SIGNATURE_HEADER = 'X-Perfwatch-Signature';
export const TIMESTAMP_HEADER = 'X-Perfwatch-Timestamp';

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, as the receiver recomputes it. */
export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Thrown by a delivery that must not be retried (the service refuses this message as it is). */
export class PermanentFailure extends Error {}

export interface QueueOptions<T> {
  deliver: (item: T) => Promise<void>;
  retries: number;
  backoffMs: number;
  maxQueue: number;
  onResult: (result: 'sent' | 'failed' | 'queue_full') => void;
  onError?: (err: unknown, attempt: number) => void;
}

/** A bounded queue delivered one item at a time, in order, with retries and exponential backoff. */
export class DeliveryQueue<T> {
  #o: QueueOptions<T>;
  #queue: T[] = [];
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(o: QueueOptions<T>) {
    this.#o = o;
  }

  get pending(): number {
    return this.#queue.length;
  }

  push(item: T): void {
    if (this.#stopped) return;
    if (this.#queue.length >= this.#o.maxQueue) {
      this.#o.onResult('queue_full');
      return;
    }
    this.#queue.push(item);
    this.#running ??= this.#drain().finally(() => (this.#running = null));
  }

  /** Resolves when the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  stop(): void {
    this.#stopped = true;
    this.#queue = [];
  }

  async #drain(): Promise<void> {
    while (this.#queue.length && !this.#stopped) {
      const item = this.#queue.shift()!;
      this.#o.onResult((await this.#attempt(item)) ? 'sent' : 'failed');
    }
  }

  async #attempt(item: T): Promise<boolean> {
    for (let attempt = 0; attempt <= this.#o.retries && !this.#stopped; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, this.#o.backoffMs * 2 ** (attempt - 1)).unref());
      try {
        await this.#o.deliver(item);
        return true;
      } catch (err) {
        this.#o.onError?.(err, attempt);
        if (err instanceof PermanentFailure) return false;
      }
    }
    return false;
  }
}

/** POSTs each body as JSON, one at a time in order, with a timeout and retries with exponential backoff. */
export class WebhookNotifier {
  #opts: WebhookOptions;
  #queue: DeliveryQueue<WebhookBody>;

  constructor(opts: WebhookOptions) {
    this.#opts = opts;
    this.#queue = new DeliveryQueue({ deliver: (b) => this.#post(b), retries: opts.retries, backoffMs: opts.backoffMs, maxQueue: opts.maxQueue, onResult: opts.onResult, onError: opts.onError });
  }

  get pending(): number {
    return this.#queue.pending;
  }

  notify(body: WebhookBody): void {
    this.#queue.push(body);
  }

  async #post(body: WebhookBody): Promise<void> {
    const text = JSON.stringify(body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'perfwatch', [TIMESTAMP_HEADER]: timestamp };
    if (this.#opts.secret) headers[SIGNATURE_HEADER] = signBody(this.#opts.secret, timestamp, text);
    const res = await fetch(this.#opts.url, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(this.#opts.timeoutMs) });
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return;
    // the receiver rejects this body: retrying will not help (but a timeout or a rate limit may pass later)
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new PermanentFailure(`webhook answered ${res.status}`);
    throw new Error(`webhook answered ${res.status}`);
  }

  stop(): void {
    this.#queue.stop();
  }
}

/** One alert as Alertmanager's v2 API takes it. */
export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

interface Tracked {
  alert: AmAlert;
  firing: boolean;
  lastSentMs: number;
  resolvedAtMs: number | null;
  /** Needs a send at the next sync regardless of the resend delay (new, or just resolved). */
  dirty: boolean;
}

export interface AlertmanagerOptions {
  url: string;
  /** Prometheus' `--rules.alert.resend-delay` (1m): a firing alert is re-sent when its last send is older. */
  resendDelayMs: number;
  /** Evaluation interval; `endsAt` of a firing alert is now + 4 × max(resendDelay, interval), as Prometheus sets it. */
  intervalMs: number;
  timeoutMs: number;
  onResult: (result: 'sent' | DropReason, alerts: number) => void;
  onError?: (err: unknown) => void;
}

/** How long a resolved alert keeps being re-sent (Prometheus keeps resolved alerts 15 minutes). */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

/**
 * Pushes alerts to Alertmanager the way Prometheus does: `startsAt` = when it fired; while firing, re-sent when the
 * last send is older than the resend delay, with `endsAt` = now + 4 × max(resendDelay, interval); on resolve a post
 * with `endsAt` = the resolve time, re-sent for 15 minutes so a restarted Alertmanager still learns of it. One POST
 * per sync with every alert due; a failed POST marks them due again (bounded by the tracked set, not by retries).
 */
export class AlertmanagerNotifier {
  #opts: AlertmanagerOptions;
  #tracked = new Map<string, Tracked>();
  #inFlight: Promise<void> | null = null;

  constructor(opts: AlertmanagerOptions) {
    this.#opts = opts;
  }

  get tracked(): number {
    return this.#tracked.size;
  }

  firing(key: string, alert: AmAlert): void {
    this.#tracked.set(key, { alert, firing: true, lastSentMs: 0, resolvedAtMs: null, dirty: true });
  }

  resolved(key: string, atMs: number): void {
    const t = this.#tracked.get(key);
    if (!t) return;
    t.firing = false;
    t.resolvedAtMs = atMs;
    t.alert = { ...t.alert, endsAt: new Date(atMs).toISOString() };
    t.dirty = true;
  }

  /** Sends what is due at `nowMs`; never awaits the network (a slow Alertmanager delays only its own next sync). */
  sync(nowMs: number): void {
    if (this.#inFlight) return;
    const due: Array<[string, Tracked]> = [];
    for (const [key, t] of this.#tracked) {
      if (!t.firing && t.resolvedAtMs !== null && nowMs - t.resolvedAtMs > RESOLVED_RETENTION_MS) {
        this.#tracked.delete(key);
        continue;
      }
      if (t.dirty || t.lastSentMs + this.#opts.resendDelayMs < nowMs) due.push([key, t]);
    }
    if (!due.length) return;
    const endsAt = new Date(nowMs + 4 * Math.max(this.#opts.resendDelayMs, this.#opts.intervalMs)).toISOString();
    const body = due.map(([, t]) => (t.firing ? { ...t.alert, endsAt } : t.alert));
    for (const [, t] of due) {
      t.dirty = false;
      t.lastSentMs = nowMs;
    }
    this.#inFlight = (async () => {
      try {
        const res = await fetch(new URL('/api/v2/alerts', this.#opts.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'perfwatch' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.#opts.timeoutMs),
        });
        const text = await res.text().catch(() => '');
        if (!res.ok) throw new Error(`alertmanager answered ${res.status}: ${text.slice(0, 200)}`);
        this.#opts.onResult('sent', due.length);
      } catch (err) {
        for (const [, t] of due) t.dirty = true;
        this.#opts.onError?.(err);
        this.#opts.onResult('failed', due.length);
      } finally {
        this.#inFlight = null;
      }
    })();
  }

  /** Waits for a send in flight (tests, shutdown). */
  async settle(): Promise<void> {
    await this.#inFlight;
  }
}
