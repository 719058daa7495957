import type Router from '@koa/router';
import { ApiError } from '../http/api-error.js';
import type { AdminMiddleware } from '../http/auth.js';
import type { successEnvelope } from '../http/envelope.js';
import { intParam, oneOf, textParam, timeParam } from '../http/params.js';
import type { Clock } from '../model/clock.js';
import { toCollapsed } from './flame.js';
import { sampledSpeedscope, toSpeedscope } from './speedscope.js';
import type { ProfilingStore } from './store.js';

/** The record, or 404 RECORD_NOT_FOUND. */
export function recordOf(store: ProfilingStore, id: string) {
  const r = store.get(id);
  if (!r) throw new ApiError('RECORD_NOT_FOUND', `no record ${id.slice(0, 64)}`);
  return r;
}

export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TASK'];

/**
 * The admin's reads of request profiling: records with filters, one record with its trees, a tree for a viewer,
 * per-route statistics, and a route's CPU samples merged over a time range (the route flame graph).
 */
export function addQueryRoutes(router: Router, o: { requireAdmin: AdminMiddleware; clock: Clock; ok: ReturnType<typeof successEnvelope>; live: () => ProfilingStore }): void {
  const { requireAdmin, ok, live } = o;
  const one = (id: string) => recordOf(live(), id);
  /** [since, until] from `since`/`until` (either may be left out) or the last `minutes`. */
  const range = (q: Record<string, unknown>) => {
    const minutes = intParam(q.minutes, 'minutes', 60, 1, 90 * 1440);
    const untilMs = timeParam(q.until, 'until') ?? o.clock.now();
    const sinceMs = timeParam(q.since, 'since') ?? untilMs - minutes * 60_000;
    if (sinceMs > untilMs) throw new ApiError('INVALID_PARAMETER', 'since: after until', { field: 'since' });
    return { sinceMs, untilMs };
  };

  router.get('/records', requireAdmin, (ctx) => {
    const q = ctx.query;
    const status = q.status === undefined ? undefined : intParam(q.status, 'status', 0, 100, 599);
    const minDuration = q.min_duration_ms === undefined ? undefined : intParam(q.min_duration_ms, 'min_duration_ms', 0, 0, 86_400_000);
    ctx.body = ok({
      records: live().list({
        project: textParam(q.project, 'project', 64),
        route: textParam(q.route, 'route', 256),
        method: oneOf(q.method, 'method', METHODS),
        ...(status !== undefined ? { status } : {}),
        sinceMs: timeParam(q.since, 'since'),
        untilMs: timeParam(q.until, 'until'),
        ...(minDuration !== undefined ? { minDurationMs: minDuration } : {}),
        limit: intParam(q.limit, 'limit', 100, 1, 1000),
      }),
    });
  });

  router.get('/records/:record_id', requireAdmin, (ctx) => {
    ctx.body = ok(one(ctx.params.record_id!));
  });
  // a tree for a viewer: speedscope's file format (https://www.speedscope.app, or the npm package)
  router.get('/records/:record_id/profile', requireAdmin, (ctx) => {
    oneOf(ctx.query.format ?? 'speedscope', 'format', ['speedscope']);
    const which = oneOf(ctx.query.tree ?? 'instrumented', 'tree', ['instrumented', 'sampled']);
    const r = one(ctx.params.record_id!);
    if (which === 'sampled' && !r.sampled) throw new ApiError('TREE_NOT_FOUND', `${r.id} has no sampled tree: the app's SDK runs without the profiler, or the request had fewer samples than profiler_min_samples`, { field: 'tree' });
    ctx.set('Content-Disposition', `attachment; filename="${r.id}${which === 'sampled' ? '.cpu' : ''}.speedscope.json"`);
    ctx.body = which === 'sampled' ? sampledSpeedscope(`${r.method} ${r.route} (${r.id}, CPU samples)`, r.sampled!.root_frame) : toSpeedscope(r);
  });

  router.get('/routes', requireAdmin, async (ctx) => {
    const { sinceMs, untilMs } = range(ctx.query);
    ctx.body = ok({ since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), routes: await live().routesOffThread(sinceMs, untilMs, textParam(ctx.query.project, 'project', 64)) });
  });

  // one route's CPU samples over the range, merged: statistically meaningful even for requests too fast for a tree of their own
  router.get('/routes/profile', requireAdmin, (ctx) => {
    const q = ctx.query;
    const need = (name: string, max: number) => {
      const v = textParam(q[name], name, max);
      if (!v) throw new ApiError('INVALID_PARAMETER', `${name}: required`, { field: name });
      return v;
    };
    const project = need('project', 64);
    const route = need('route', 256);
    const method = oneOf(q.method ?? 'GET', 'method', METHODS)!;
    const format = oneOf(q.format ?? 'json', 'format', ['json', 'speedscope', 'collapsed']);
    const { sinceMs, untilMs } = range(q);
    const p = live().routeProfile(project, route, method, sinceMs, untilMs);
    const file = `${project}-${method}-${route}`.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 120);
    if (format === 'json') ctx.body = ok(p);
    else if (format === 'collapsed') {
      ctx.set('Content-Disposition', `attachment; filename="${file}.folded.txt"`);
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = toCollapsed(p.root_frame);
    } else {
      ctx.set('Content-Disposition', `attachment; filename="${file}.speedscope.json"`);
      ctx.body = sampledSpeedscope(`${method} ${route} (${project}, ${p.requests} requests, ${p.sample_count} samples)`, p.root_frame);
    }
  });
}
