import type { Clock } from '../model/clock.js';
import { isoUtc } from '../model/time.js';

/**
 * The envelopes answers are written in, one per route family, chosen by the router that registers the routes
 * (app.ts's `RouteFamily`), never guessed from the URL:
 * - `plugin`: the plugin documents (seed 002) answer bare objects and FastAPI-style errors `{"detail", "code"}`;
 * - `performance`: `/api/v1/performance` (seed 001) wraps answers in `{"status": "success", "data", "timestamp"}` and
 *   errors in `{"status": "error", "error": {code, message}, "timestamp"}`, both stamped in UTC (`…Z`) as the seed is;
 * - `plain`: everything else (`/metrics`, `/healthz`, unknown paths) answers `{"error": {code, message}}`.
 */
export type Envelope = 'plugin' | 'performance' | 'plain';

export function errorBody(envelope: Envelope, code: string, message: string, nowMs: number): unknown {
  if (envelope === 'plugin') return { detail: message, code };
  if (envelope === 'performance') return { status: 'error', error: { code, message }, timestamp: isoUtc(nowMs) };
  return { error: { code, message } };
}

/** `{"status": "success", "data": …, "timestamp": …}`, the envelope of every `/api/v1/performance` answer. */
export const successEnvelope = (clock: Clock) => (data: unknown) => ({ status: 'success', data, timestamp: isoUtc(clock.now()) });
