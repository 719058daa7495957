import type { Middleware } from 'koa';
import { bearerMatches, type AdminMiddleware } from '../http/auth.js';
import type { Supervisor } from '../supervisor/supervisor.js';

/**
 * The plugin's own `PERFWATCH_PLUGIN_TOKEN`, or the admin token: what a plugin's reports about itself (heartbeats,
 * calls) need. A plugin's token works for that plugin's routes only. 404 for an unknown plugin comes first.
 */
export function pluginOrAdmin(supervisor: Supervisor, requireAdmin: AdminMiddleware): Middleware {
  return async (ctx, next) => {
    const p = supervisor.get(ctx.params.plugin_id!);
    if (bearerMatches(ctx.get('authorization'), p.token)) return next();
    return requireAdmin(ctx, next);
  };
}
