import Router from '@koa/router';
import type { Clock } from '../../model/clock.js';
import { formatLocalIso } from '../../model/time.js';
import { ApiError } from '../../http/api-error.js';
import type { ManagedPlugin } from '../../supervisor/managed-plugin.js';
import type { Supervisor } from '../../supervisor/supervisor.js';

/**
 * Plugin listing and status, as shared/seeds/002 fixes it: `GET /plugins` and `GET /plugin/status`, open to every
 * client. Field names are the original server's. Start, stop and reload are api/plugin-control.ts.
 */
export function createPluginsRouter(deps: { supervisor: Supervisor; clock: Clock }): Router {
  const { supervisor, clock } = deps;
  const router = new Router();

  router.get('/plugins', (ctx) => {
    const plugins = supervisor.list().map((p) => ({
      id: p.id,
      name: p.definition.name,
      version: p.definition.version,
      description: p.definition.description,
      status: p.state,
      enabled: p.definition.enabled,
    }));
    ctx.body = { plugins, message: plugins.length ? '' : 'no plugins registered' };
  });

  router.get('/plugin/status', (ctx) => {
    const now = clock.now();
    const id = ctx.query.plugin_id;
    if (Array.isArray(id)) throw new ApiError('INVALID_PARAMETER', 'plugin_id must be given once (omit it to list every plugin)', { field: 'plugin_id' });
    if (typeof id === 'string') {
      const p = supervisor.get(id);
      ctx.body = { plugin_id: p.id, ...statusOf(p, now), time: formatLocalIso(now) };
      return;
    }
    // details=true (perfwatch's own, for `perfwatch top`): restarts and enabled too; without it the document's fields only
    const details = ctx.query.details === 'true';
    const plugins: Record<string, unknown> = {};
    for (const p of supervisor.list()) plugins[p.id] = details ? { ...statusOf(p, now), restarts: p.restarts, enabled: p.definition.enabled } : statusOf(p, now);
    ctx.body = { plugins, time: formatLocalIso(now) };
  });

  return router;
}

/** `pid` and `uptime` (whole seconds) only while the plugin has a process, as the document says; then `health`. */
function statusOf(p: ManagedPlugin, nowMs: number): { status: string; pid?: number; uptime?: number; health: string } {
  // health: perfwatch's own, after the document's fields (docs/health.md)
  if (p.pid === null || p.startedAtMs === null) return { status: p.state, health: p.health.status() };
  return { status: p.state, pid: p.pid, uptime: Math.max(0, Math.floor((nowMs - p.startedAtMs) / 1000)), health: p.health.status() };
}
