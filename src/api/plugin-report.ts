import Router from '@koa/router';
import { z } from 'zod';
import { ApiError, invalidBody } from '../http/api-error.js';
import type { AdminMiddleware } from '../http/auth.js';
import { readJson } from '../http/body.js';
import type { Clock } from '../model/clock.js';
import { formatLocalIso } from '../model/time.js';
import type { ServiceMetrics, ServiceSnapshot } from '../store/service-metrics.js';
import type { ManagedPlugin } from '../supervisor/managed-plugin.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { pluginOrAdmin } from './plugin-auth.js';
import { heartbeatSchema } from './plugin-health.js';

const TOOL_NAME = /^[\x21-\x7e][\x20-\x7e]{0,127}$/;
const toolName = z.string().regex(TOOL_NAME, { error: 'expected 1 to 128 printable ASCII characters, not starting with a space' });

const reportSchema = z.strictObject({
  calls: z
    .array(
      z.strictObject({
        tool: toolName,
        duration_ms: z.number().min(0).max(86_400_000),
        ok: z.boolean(),
        error: z.string().max(1024).optional(),
      }),
    )
    .default([]),
  active_connections: z.int().min(0).max(1_000_000_000).optional(),
  tools: z.array(toolName).max(1000).optional(),
  heartbeat: heartbeatSchema.optional(),
  /** Calls the plugin dropped (its queue was full) since its last accepted report. */
  dropped_calls: z.int().min(0).max(1e12).optional(),
});

/**
 * Service metrics (docs/service-metrics.md): `POST /plugin/{id}/report`, where a plugin reports its calls, gauges and
 * heartbeat with its `PERFWATCH_PLUGIN_TOKEN` (all or nothing: a report with one bad field changes no state), and
 * seed 003's `get_service_metrics` as `GET /plugin/{id}/service-metrics` and `GET /plugins/service-metrics` (admin).
 */
export function createPluginReportRouter(deps: { supervisor: Supervisor; services: ServiceMetrics; requireAdmin: AdminMiddleware; clock: Clock; maxBatch: number; bodyLimit: number }): Router {
  const { supervisor, services, requireAdmin, clock } = deps;
  const router = new Router();

  router.post('/plugin/:plugin_id/report', pluginOrAdmin(supervisor, requireAdmin), async (ctx) => {
    const p = supervisor.get(ctx.params.plugin_id!);
    const raw = await readJson(ctx, deps.bodyLimit);
    // the count first: a huge batch is refused before any of it is parsed
    const n = (raw as { calls?: unknown } | null)?.calls;
    if (Array.isArray(n) && n.length > deps.maxBatch) throw new ApiError('BATCH_TOO_LARGE', `report calls: ${n.length} calls, more than service_metrics.max_batch (${deps.maxBatch}); nothing was recorded`, { field: 'calls' });
    const parsed = reportSchema.safeParse(raw);
    if (!parsed.success) throw invalidBody(parsed.error.issues, 'report ', '; nothing was recorded');
    const r = parsed.data;
    if (!p.hasProcess) throw new ApiError('PLUGIN_NOT_RUNNING', `plugin "${p.id}" is not running (status ${p.state}); its report was not recorded`);
    services.record(p.id, {
      calls: r.calls.map((c) => ({ tool: c.tool, durationMs: c.duration_ms, ok: c.ok, error: c.error })),
      activeConnections: r.active_connections,
      tools: r.tools,
      droppedCalls: r.dropped_calls,
    });
    if (r.heartbeat) p.health.heartbeat(r.heartbeat.status, r.heartbeat.note);
    ctx.body = { plugin_id: p.id, accepted: r.calls.length, time: formatLocalIso(clock.now()) };
  });

  router.get('/plugin/:plugin_id/service-metrics', requireAdmin, (ctx) => {
    const p = supervisor.get(ctx.params.plugin_id!);
    ctx.body = { ...serviceJson(p, services.snapshot(p.id), clock.now()), time: formatLocalIso(clock.now()) };
  });

  router.get('/plugins/service-metrics', requireAdmin, (ctx) => {
    const now = clock.now();
    ctx.body = { services: supervisor.list().map((p) => serviceJson(p, services.snapshot(p.id), now)), time: formatLocalIso(now) };
  });

  return router;
}

const round = (x: number, digits = 6) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Seed 003's `get_service_metrics` fields, in its order, then perfwatch's own: health, the recent window, per tool. */
export function serviceJson(p: ManagedPlugin, s: ServiceSnapshot | null, nowMs: number) {
  const total = s?.totalCalls ?? 0;
  const failed = s?.failedCalls ?? 0;
  const toolsCount = s?.declaredTools?.length ?? s?.tools.length ?? 0;
  return {
    service_name: p.id,
    status: p.state,
    uptime: p.startedAtMs === null ? 0 : Math.max(0, Math.floor((nowMs - p.startedAtMs) / 1000)),
    tools_count: toolsCount,
    active_connections: s?.activeConnections ?? 0,
    total_calls: total,
    failed_calls: failed,
    avg_response_time: total ? round(s!.sumSeconds / total) : 0,
    last_activity: s?.lastActivityMs ? formatLocalIso(s.lastActivityMs) : null,
    error_rate: total ? round(failed / total) : 0,
    last_error: s?.lastError?.message ?? null,
    consecutive_failures: s?.consecutiveFailures ?? 0,
    health: p.health.status(),
    window: {
      seconds: s?.window.seconds ?? null,
      calls: s?.window.calls ?? 0,
      calls_per_second: round(s?.window.perSecond ?? 0, 3),
      error_rate: s?.window.errorRatio === null || s === null ? null : round(s.window.errorRatio),
      avg_response_time: s?.window.averageSeconds == null ? null : round(s.window.averageSeconds),
      p95_response_time: s?.window.p95Seconds == null ? null : round(s.window.p95Seconds),
    },
    tools: (s?.tools ?? []).map((t) => ({ name: t.tool, total_calls: t.ok + t.failed, failed_calls: t.failed, avg_response_time: t.ok + t.failed ? round(t.sumSeconds / (t.ok + t.failed)) : 0 })),
    declared_tools: s?.declaredTools ?? null,
    dropped_calls: s?.droppedCalls ?? 0,
    last_error_tool: s?.lastError?.tool ?? null,
  };
}
