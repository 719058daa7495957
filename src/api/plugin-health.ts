import Router from '@koa/router';
import { z } from 'zod';
import { ApiError, invalidBody } from '../http/api-error.js';
import type { AdminMiddleware } from '../http/auth.js';
import { readJson } from '../http/body.js';
import type { Clock } from '../model/clock.js';
import type { CheckView } from '../model/plugin.js';
import { formatLocalIso } from '../model/time.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { pluginOrAdmin } from './plugin-auth.js';

const HEARTBEAT_BODY_LIMIT = 4096;
export const heartbeatSchema = z.strictObject({
  status: z.enum(['pass', 'warn', 'fail']).default('pass'),
  note: z.string().max(512).default(''),
});

/**
 * Plugin health (docs/health.md), perfwatch's own routes beside seed 002's: `GET /plugin/{id}/health` (admin: check
 * errors carry plugin output) and `POST /plugin/{id}/heartbeat`, which the plugin itself calls with the
 * `PERFWATCH_PLUGIN_TOKEN` perfwatch put in its environment (the admin token works too).
 */
export function createPluginHealthRouter(deps: { supervisor: Supervisor; requireAdmin: AdminMiddleware; clock: Clock }): Router {
  const { supervisor, requireAdmin, clock } = deps;
  const router = new Router();

  router.get('/plugin/:plugin_id/health', requireAdmin, (ctx) => {
    const p = supervisor.get(ctx.params.plugin_id!);
    const view = p.health.view();
    const hb = p.health.lastHeartbeat;
    ctx.body = {
      plugin_id: p.id,
      status: p.state,
      health: view.status,
      checks: view.checks.map(checkJson),
      last_heartbeat: hb ? { time: formatLocalIso(hb.atMs), status: hb.status, note: hb.note } : null,
      time: formatLocalIso(clock.now()),
    };
  });

  router.post('/plugin/:plugin_id/heartbeat', pluginOrAdmin(supervisor, requireAdmin), async (ctx) => {
    const p = supervisor.get(ctx.params.plugin_id!);
    const hasBody = Boolean(ctx.request.length || ctx.get('transfer-encoding'));
    const raw = hasBody ? await readJson(ctx, HEARTBEAT_BODY_LIMIT) : {};
    const parsed = heartbeatSchema.safeParse(raw);
    if (!parsed.success) throw invalidBody(parsed.error.issues, 'heartbeat ');
    if (!p.hasProcess) throw new ApiError('PLUGIN_NOT_RUNNING', `plugin "${p.id}" is not running (status ${p.state}); its heartbeat was not recorded`);
    p.health.heartbeat(parsed.data.status, parsed.data.note);
    ctx.body = { plugin_id: p.id, status: parsed.data.status, time: formatLocalIso(clock.now()) };
  });

  return router;
}

function checkJson(c: CheckView) {
  return {
    name: c.name,
    type: c.type,
    role: c.role,
    status: c.status,
    consecutive_failures: c.consecutiveFailures,
    consecutive_successes: c.consecutiveSuccesses,
    runs: c.runs,
    failures: c.failures,
    last_run: c.last ? { time: formatLocalIso(c.last.atMs), ok: c.last.ok, error: c.last.error, duration_ms: Math.round(c.last.durationMs * 1000) / 1000 } : null,
  };
}
