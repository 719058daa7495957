import Router from '@koa/router';
import type { AdminMiddleware } from '../http/auth.js';
import type { Supervisor } from '../supervisor/supervisor.js';

/**
 * Plugin control, as shared/seeds/002 fixes it: start, stop and reload, each behind the admin token. Messages are the
 * original server's; refusals are the supervisor's SupervisorError codes (409 when the state forbids it).
 */
export function createPluginControlRouter(deps: { supervisor: Supervisor; requireAdmin: AdminMiddleware }): Router {
  const { supervisor, requireAdmin } = deps;
  const router = new Router();

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
