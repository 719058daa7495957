import { open } from 'node:fs/promises';
import path from 'node:path';
import Router from '@koa/router';
import { ApiError } from '../http/api-error.js';
import type { AdminMiddleware } from '../http/auth.js';
import { intParam, oneOf } from '../http/params.js';
import type { Supervisor } from '../supervisor/supervisor.js';

/**
 * Plugin control, as shared/seeds/002 fixes it: start, stop and reload, each behind the admin token. Messages are the
 * original server's; refusals are the supervisor's SupervisorError codes (409 when the state forbids it).
 */
export function createPluginControlRouter(deps: { supervisor: Supervisor; requireAdmin: AdminMiddleware; logsDir: string }): Router {
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

  // perfwatch's own: the last lines of a plugin's stdout or stderr log (what `perfwatch top` shows in its details)
  router.get('/plugin/:plugin_id/logs', requireAdmin, async (ctx) => {
    const id = supervisor.get(ctx.params.plugin_id!).id;
    const stream = oneOf(ctx.query.stream, 'stream', ['stdout', 'stderr'] as const) ?? 'stderr';
    const lines = intParam(ctx.query.lines, 'lines', 20, 1, 500);
    ctx.body = { plugin_id: id, stream, lines: await tail(path.join(deps.logsDir, `${id}.${stream}.log`), lines) };
  });

  return router;
}

/** The last `n` lines of a file, reading at most its last 64 KiB; none when it does not exist yet. */
async function tail(file: string, n: number): Promise<string[]> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ApiError('INTERNAL_ERROR', `cannot read the plugin log: ${(err as NodeJS.ErrnoException).code}`);
  }
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, 65_536);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const all = buf.toString('utf8').split('\n');
    if (all.at(-1) === '') all.pop();
    if (length < size) all.shift(); // the first line may be cut
    return all.slice(-n).map((l) => l.slice(0, 1000));
  } finally {
    await fh.close();
  }
}
