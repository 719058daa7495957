import Router from '@koa/router';
import type { Clock } from '../../model/clock.js';
import { formatLocalIso } from '../../model/time.js';
import type { AdminMiddleware } from '../../http/auth.js';
import type { ManagedPlugin } from '../../supervisor/managed-plugin.js';
import type { Supervisor } from '../../supervisor/supervisor.js';

/**
 * Plugin management, as shared/seeds/002 fixes it: `GET /plugins` and `GET /plugin/status` are open; start, stop and
 * reload need the admin token. Field names and messages are the original server's.
 */
export function createPluginsRouter(deps: { supervisor: Supervisor; requireAdmin: AdminMiddleware; clock: Clock }): Router {
  const { supervisor, requireAdmin, clock } = deps;
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
    if (typeof id === 'string') {
      const p = supervisor.get(id);
      ctx.body = { plugin_id: p.id, ...statusOf(p, now), time: formatLocalIso(now) };
      return;
    }
    const plugins: Record<string, unknown> = {};
    for (const p of supervisor.list()) plugins[p.id] = statusOf(p, now);
    ctx.body = { plugins, time: formatLocalIso(now) };
  });

  router.post('/plugin/:plugin_id/start', requireAdmin, async (ctx) => {
    const id = ctx.params.plugin_id!;
    const r = await supervisor.start(id);
    ctx.body = { plugin_id: id, status: r.state, message: 'Plugin started successfully', pid: r.pid };
  });

  router.post('/plugin/:plugin_id/stop', requireAdmin, async (ctx) => {
    const id = ctx.params.plugin_id!;
    const r = await supervisor.stop(id);
    ctx.body = { plugin_id: id, status: r.state, message: 'Plugin stopped successfully' };
  });

  router.post('/plugin/:plugin_id/reload', requireAdmin, async (ctx) => {
    const id = ctx.params.plugin_id!;
    const r = await supervisor.reload(id);
    ctx.body = { plugin_id: id, status: r.state, message: 'Plugin reloaded successfully', pid: r.pid };
  });

  return router;
}

/** `pid` and `uptime` (whole seconds) only while the plugin has a process, as the document says. */
function statusOf(p: ManagedPlugin, nowMs: number): { status: string; pid?: number; uptime?: number } {
  if (p.pid === null || p.startedAtMs === null) return { status: p.state };
  return { status: p.state, pid: p.pid, uptime: Math.max(0, Math.floor((nowMs - p.startedAtMs) / 1000)) };
}
