import Router from '@koa/router';
import type { Logger } from 'pino';
import type { Clock } from '../../model/clock.js';
import { formatLocalIso } from '../../model/time.js';
import { timeParam } from '../../http/params.js';
import { MIB, round } from '../../model/units.js';
import { ApiError } from '../../http/api-error.js';
import { isAlive } from '../../proc/signals.js';
import type { AdminMiddleware } from '../../http/auth.js';
import type { HistoryReaders, PluginPoint } from '../../store/history-reader.js';
import type { PluginHistory, StoredPluginSample } from '../../store/plugin-history.js';
import { readerFor, SOURCE_HEADER } from './performance.js';
import type { ManagedPlugin } from '../../supervisor/managed-plugin.js';
import type { Supervisor } from '../../supervisor/supervisor.js';

export interface PluginMetricsDeps {
  supervisor: Supervisor;
  history: PluginHistory;
  /** What `/plugin/metrics/{id}/history` reads: the local ring, or the history backend. */
  readers: HistoryReaders;
  requireAdmin: AdminMiddleware;
  clock: Clock;
  logger: Logger;
}

const NO_METRICS_YET = 'Plugin is running but no metrics available yet (may be collecting, check collector status)';

/** Legacy field set of one sample; values rounded to two decimals as the original did (the export's too). */
export function fields(s: PluginPoint) {
  return {
    cpu_percent: round(s.cpuPercent),
    memory_mb: round(s.rssBytes / MIB),
    memory_percent: round(s.memoryPercent),
    num_threads: s.threads,
    timestamp: formatLocalIso(s.timestampMs),
  };
}

/** The latest sample of the plugin's current process, or null (no process, or not sampled since it started). */
export function currentSample(p: ManagedPlugin, history: PluginHistory): StoredPluginSample | null {
  if (p.pid === null || p.startedAtMs === null) return null;
  const s = history.latest(p.id);
  return s && s.pid === p.pid && s.timestampMs >= p.startedAtMs ? s : null;
}

function processAlive(pid: number | null): boolean {
  return pid !== null && isAlive(pid);
}

function parseLimit(raw: unknown): number {
  if (raw === undefined) return 100;
  if (typeof raw !== 'string' || !/^\d{1,7}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) {
    throw new ApiError('INVALID_PARAMETER', `limit must be an integer from 1 to 1000 (got ${JSON.stringify(raw)})`, { field: 'limit' });
  }
  return Number(raw);
}

/** Plugin performance metrics, as shared/seeds/000 fixes it: all three routes need the admin token. */
export function createPluginMetricsRouter(deps: PluginMetricsDeps): Router {
  const { supervisor, history, requireAdmin, clock, logger } = deps;
  const router = new Router();

  router.get('/plugin/metrics', requireAdmin, (ctx) => {
    const now = clock.now();
    try {
      const metrics = [];
      let cpu = 0;
      let memMb = 0;
      let memPct = 0;
      let threads = 0;
      let active = 0;
      for (const p of supervisor.list()) {
        if (p.state === 'running') active++;
        const s = currentSample(p, history);
        if (!s) continue;
        metrics.push({ plugin_id: p.id, pid: s.pid, ...fields(s) });
        cpu += s.cpuPercent;
        memMb += s.rssBytes / MIB;
        memPct += s.memoryPercent;
        threads += s.threads;
      }
      ctx.body = {
        metrics,
        count: metrics.length,
        global: {
          total_cpu_percent: round(cpu),
          total_memory_mb: round(memMb),
          total_memory_percent: round(memPct),
          total_threads: threads,
          active_plugins: active,
        },
        time: formatLocalIso(now),
      };
    } catch (err) {
      // The document: "on error return the empty result instead of raising, so the front end shows no error".
      logger.error({ err }, 'GET /plugin/metrics failed; answering the empty result');
      ctx.body = {
        metrics: [],
        count: 0,
        global: { total_cpu_percent: 0, total_memory_mb: 0, total_memory_percent: 0, total_threads: 0, active_plugins: 0 },
        time: formatLocalIso(now),
      };
    }
  });

  router.get('/plugin/metrics/:plugin_id', requireAdmin, (ctx) => {
    const now = clock.now();
    const p = supervisor.get(ctx.params.plugin_id!);
    const s = currentSample(p, history);
    if (s) {
      ctx.body = { plugin_id: p.id, metrics: { pid: s.pid, ...fields(s) }, time: formatLocalIso(now) };
      return;
    }
    const running = p.state === 'running';
    let message: string;
    if (running) message = NO_METRICS_YET;
    else if (p.state === 'error') {
      const e = p.lastExit;
      message = `Plugin is in error state${e ? ` (last exit: ${e.signal ? `signal ${e.signal}` : `code ${e.code}`})` : ''}`;
    } else message = `Plugin is not running (status: ${p.state})`;
    ctx.body = {
      plugin_id: p.id,
      metrics: null,
      message,
      plugin_running: running,
      process_alive: processAlive(p.pid),
      time: formatLocalIso(now),
    };
  });

  router.get('/plugin/metrics/:plugin_id/history', requireAdmin, async (ctx) => {
    const reader = readerFor(deps.readers, ctx.query);
    // another agent's plugins are not registered here: the backend alone knows them
    const id = reader.own ? supervisor.get(ctx.params.plugin_id!).id : ctx.params.plugin_id!;
    if (id.length > 64) throw new ApiError('INVALID_PARAMETER', 'plugin_id must be at most 64 characters', { field: 'plugin_id' });
    const limit = parseLimit(ctx.query.limit);
    const startMs = timeParam(ctx.query.start_time, 'start_time');
    const endMs = timeParam(ctx.query.end_time, 'end_time');
    if (startMs !== undefined && endMs !== undefined && startMs > endMs) {
      throw new ApiError('INVALID_PARAMETER', 'start_time must not be after end_time', { field: 'start_time' });
    }
    const items = (await reader.plugin(id, { limit, ...(startMs === undefined ? {} : { startMs }), ...(endMs === undefined ? {} : { endMs }) })).map(fields);
    ctx.set(SOURCE_HEADER, reader.source);
    ctx.body = { plugin_id: id, history: items, count: items.length, time: formatLocalIso(clock.now()) };
  });

  return router;
}
