import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import Koa, { type Context } from 'koa';
import type { Logger } from 'pino';
import type { Clock } from '../model/clock.js';
import { DomainError } from '../model/errors.js';
import { ApiError } from './api-error.js';
import { errorBody, type Envelope } from './envelope.js';

/** A router and the envelope its answers and errors are written in. */
export interface RouteFamily {
  router: Router;
  envelope: Envelope;
  /**
   * Paths without a route that still belong to this family, so their 404 answers in its envelope (a legacy client
   * asking `/plugin/x/y` gets `{"detail"}`). Declared by the family, next to its routes.
   */
  owns?: RegExp;
}

export interface HttpAppOptions {
  logger: Logger;
  clock: Clock;
  families: readonly RouteFamily[];
}

/** Maps whatever a handler threw to the ApiError it answers as; null for an internal error. */
function toApiError(err: unknown): ApiError | null {
  if (err instanceof DomainError) return ApiError.from(err);
  const e = err as { status?: number; expose?: boolean; message?: string };
  if (e?.status === 413) return new ApiError('PAYLOAD_TOO_LARGE', e.message ?? 'request body too large');
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
    return new ApiError('INVALID_PARAMETER', e.message ?? 'bad request', { status: e.status });
  }
  return null;
}

/** The methods the routes matching this path take (what `Allow` lists on a 405 or 501). */
function allowedOn(ctx: Context): string[] {
  const methods = new Set<string>();
  for (const layer of (ctx as unknown as { matched?: Array<{ methods: string[] }> }).matched ?? []) for (const m of layer.methods) methods.add(m);
  return [...methods];
}

/**
 * The Koa application: each family's routes, then the one error middleware. Handlers return data or throw; every
 * error, 404, 405 and 501 is formatted here, in the envelope of the family the path belongs to. 5xx bodies say
 * "internal error" and carry only the request id; the cause goes to the log.
 */
export function createHttpApp(opts: HttpAppOptions): Koa {
  const app = new Koa();
  const prefix = randomBytes(3).toString('hex');
  let seq = 0;
  const envelopeOf = (ctx: Context): Envelope => {
    for (const f of opts.families) if (f.router.match(ctx.path, ctx.method).path.some((l) => l.methods.length) || f.owns?.test(ctx.path)) return f.envelope;
    return 'plain';
  };
  app.use(async (ctx: Context, next) => {
    const requestId = `${prefix}-${(++seq).toString(36)}`;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new ApiError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
    } catch (err) {
      let apiErr = toApiError(err);
      if (apiErr?.code === 'METHOD_NOT_ALLOWED' || apiErr?.code === 'NOT_IMPLEMENTED') {
        const allow = allowedOn(ctx);
        if (allow.length) ctx.set('Allow', allow.join(', '));
        apiErr = new ApiError(apiErr.code, `${ctx.method} is not ${apiErr.code === 'NOT_IMPLEMENTED' ? 'implemented' : 'allowed'} on ${ctx.path}${allow.length ? `; allowed: ${allow.join(', ')}` : ''}`);
      }
      if (!apiErr) {
        opts.logger.error({ err, request_id: requestId, method: ctx.method, path: ctx.path }, 'request failed');
        apiErr = new ApiError('INTERNAL_ERROR', `internal error (request id ${requestId})`);
      } else if (apiErr.status >= 500) {
        opts.logger.warn({ request_id: requestId, code: apiErr.code, reason: apiErr.message }, 'request failed');
      }
      ctx.body = errorBody(envelopeOf(ctx), apiErr.code, apiErr.message, opts.clock.now());
      ctx.status = apiErr.status;
    }
  });
  const methodNotAllowed = () => new ApiError('METHOD_NOT_ALLOWED', 'method not allowed');
  const notImplemented = () => new ApiError('NOT_IMPLEMENTED', 'method not implemented');
  for (const f of opts.families) app.use(f.router.routes()).use(f.router.allowedMethods({ throw: true, methodNotAllowed, notImplemented }));
  app.on('error', () => {
    /* errors are handled and logged above; Koa's default handler would print stacks */
  });
  return app;
}
