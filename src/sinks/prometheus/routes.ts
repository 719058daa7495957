import Router from '@koa/router';
import type { Exposition } from './exposition.js';

/** `GET /metrics`: cached bytes of the last render; OpenMetrics when the scraper asks for it, gzip when accepted. */
export function createMetricsRouter(deps: { exposition: Exposition }): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    const openMetrics = /application\/openmetrics-text/i.test(ctx.get('accept'));
    const gzipped = ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
    const { body, contentType } = await deps.exposition.get(openMetrics ? 'openmetrics' : 'classic', gzipped);
    ctx.set('Content-Type', contentType);
    ctx.set('Vary', 'Accept, Accept-Encoding');
    if (gzipped) ctx.set('Content-Encoding', 'gzip');
    ctx.body = body;
  });
  return router;
}
