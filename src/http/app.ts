import { randomBytes } from 'node:crypto';
import Koa, { type Context } from 'koa';
import type { Logger } from 'pino';
import { formatLocalIso } from '../model/time.js';
import { SupervisorError } from '../supervisor/supervisor-error.js';
import { ApiError, type ErrorCode } from './api-error.js';

/**
 * The envelope errors are written in, by route family: the legacy plugin routes answer FastAPI-style
 * `{"detail", "code"}`; `/api/v1/` wraps in `{"status": "error", "error": {code, message}, "timestamp"}`; the rest
 * (`/metrics`, `/healthz`, …) use `{"error": {code, message}}`.
 */
export function errorBody(path: string, code: string, message: string): unknown {
  if (path === '/plugins' || path.startsWith('/plugin/') || path === '/plugin') return { detail: message, code };
  if (path.startsWith('/api/v1/')) return { status: 'error', error: { code, message }, timestamp: formatLocalIso(Date.now()) };
  return { error: { code, message } };
}

function toApiError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err instanceof SupervisorError) return new ApiError(err.code as ErrorCode, err.message);
  const e = err as { status?: number; expose?: boolean; message?: string; type?: string };
  if (typeof e?.status === 'number' && e.status === 413) return new ApiError('PAYLOAD_TOO_LARGE', e.message ?? 'request body too large');
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
    return new ApiError('INVALID_PARAMETER', e.message ?? 'bad request', { status: e.status });
  }
  return null;
}

export interface HttpAppOptions {
  logger: Logger;
}

/**
 * The Koa application with the one error middleware: handlers return data or throw; every error, 404 and 405 is
 * formatted here. 5xx bodies say "internal error" and carry only the request id; the cause goes to the log.
 */
export function createHttpApp(opts: HttpAppOptions): Koa {
  const app = new Koa();
  const prefix = randomBytes(3).toString('hex');
  let seq = 0;
  app.use(async (ctx: Context, next) => {
    const requestId = `${prefix}-${(++seq).toString(36)}`;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new ApiError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
      if (ctx.status === 405 && ctx.body === undefined) {
        throw new ApiError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}; allowed: ${ctx.response.get('Allow')}`);
      }
    } catch (err) {
      let apiErr = toApiError(err);
      if (!apiErr) {
        opts.logger.error({ err, request_id: requestId, method: ctx.method, path: ctx.path }, 'request failed');
        apiErr = new ApiError('INTERNAL_ERROR', `internal error (request id ${requestId})`);
      } else if (apiErr.status >= 500) {
        opts.logger.warn({ request_id: requestId, code: apiErr.code, msg: apiErr.message }, 'request failed');
      }
      ctx.body = errorBody(ctx.path, apiErr.code, apiErr.message);
      ctx.status = apiErr.status;
    }
  });
  app.on('error', () => {
    /* errors are handled and logged above; Koa's default handler would print stacks */
  });
  return app;
}

