import Router from '@koa/router';
import { ApiError } from './api-error.js';

/** `/healthz`: the process answers. `/readyz`: the collectors have produced a first sample. */
export function createHealthRouter(deps: { isReady: () => boolean }): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', (ctx) => {
    if (!deps.isReady()) throw new ApiError('NOT_READY', 'collectors have not produced a first sample yet');
    ctx.body = { status: 'ready' };
  });
  return router;
}
