import Router from '@koa/router';
import type { Middleware } from 'koa';
import { ApiError } from '../http/api-error.js';
import { readJson } from '../http/body.js';
import { successEnvelope } from '../http/envelope.js';
import { intParam, oneOf } from '../http/params.js';
import type { Clock } from '../model/clock.js';
import { ALERT_TYPES, LEVELS, type Level } from './rule.js';
import type { AlertService } from './service.js';

export interface AlertRoutesDeps {
  alerts: () => AlertService;
  /** Admin check for writes, or a pass-through when `auth.open_writes` is set. */
  writeAuth: Middleware;
  clock: Clock;
  bodyLimit: number;
}

function optionalText(body: Record<string, unknown>, key: string, max: number): string | null {
  const v = body[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > max) throw new ApiError('INVALID_JSON', `${key} must be a string of at most ${max} characters`, { field: key });
  return v;
}

/** The alert half of seed 001 under `/api/v1/performance`: alerts, rules (with PUT/DELETE), resolve. */
export function createAlertRouter(d: AlertRoutesDeps): Router {
  const router = new Router({ prefix: '/api/v1/performance' });
  const ok = successEnvelope(d.clock);

  router.get('/alerts', (ctx) => {
    const level = oneOf<Level>(ctx.query.level, 'level', LEVELS);
    const type = oneOf(ctx.query.type, 'type', ALERT_TYPES);
    const resolved = oneOf(ctx.query.resolved, 'resolved', ['true', 'false'] as const);
    const limit = intParam(ctx.query.limit, 'limit', 20, 1, 1000);
    ctx.body = ok(d.alerts().listAlerts({ level, type, includeResolved: resolved === 'true', limit }));
  });

  router.get('/alerts/rules', (ctx) => {
    ctx.body = ok({ rules: d.alerts().listRules() });
  });

  router.get('/alerts/rules/:rule_id', (ctx) => {
    ctx.body = ok({ rule: d.alerts().getRule(ctx.params.rule_id!) });
  });

  router.post('/alerts/rules', d.writeAuth, async (ctx) => {
    const body = await readJson(ctx, d.bodyLimit);
    ctx.body = ok(d.alerts().createRule(body));
  });

  router.put('/alerts/rules/:rule_id', d.writeAuth, async (ctx) => {
    const body = await readJson(ctx, d.bodyLimit);
    ctx.body = ok({ rule: d.alerts().updateRule(ctx.params.rule_id!, body) });
  });

  router.delete('/alerts/rules/:rule_id', d.writeAuth, (ctx) => {
    d.alerts().deleteRule(ctx.params.rule_id!);
    ctx.body = ok({ deleted: true, rule_id: ctx.params.rule_id });
  });

  router.post('/alerts/:alert_id/resolve', d.writeAuth, async (ctx) => {
    // the body is optional: {"resolution": "...", "resolved_by": "..."}
    const hasBody = Number(ctx.get('content-length') || 0) > 0 || ctx.get('transfer-encoding') !== '';
    const raw = hasBody ? await readJson(ctx, d.bodyLimit) : {};
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ApiError('INVALID_JSON', 'expected a JSON object {"resolution", "resolved_by"}');
    const body = raw as Record<string, unknown>;
    const resolution = optionalText(body, 'resolution', 1000);
    const by = optionalText(body, 'resolved_by', 100);
    ctx.body = ok(d.alerts().resolve(ctx.params.alert_id!, by, resolution));
  });

  return router;
}
