import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import type { AdminMiddleware } from '../http/auth.js';
import type { Supervisor } from '../supervisor/supervisor.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The plugin's own `PERFWATCH_PLUGIN_TOKEN`, or the admin token: what a plugin's reports about itself (heartbeats,
 * calls) need. A plugin's token works for that plugin's routes only. 404 for an unknown plugin comes first.
 */
export function pluginOrAdmin(supervisor: Supervisor, requireAdmin: AdminMiddleware): Middleware {
  return async (ctx, next) => {
    const p = supervisor.get(ctx.params.plugin_id!);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'));
    if (m && timingSafeEqual(digest(m[1]!), digest(p.token))) return next();
    return requireAdmin(ctx, next);
  };
}
