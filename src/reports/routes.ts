import { createReadStream } from 'node:fs';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import { ApiError } from '../http/api-error.js';
import type { AdminMiddleware } from '../http/auth.js';
import { readJson } from '../http/body.js';
import { successEnvelope } from '../http/envelope.js';
import { intParam } from '../http/params.js';
import type { Clock } from '../model/clock.js';
import { isoUtc } from '../model/time.js';
import { reportJson, type ReportService } from './service.js';

const CONTENT_TYPE = { json: 'application/json; charset=utf-8', csv: 'text/csv; charset=utf-8', pdf: 'application/pdf' } as const;

/**
 * Seed 001's `POST /api/v1/performance/reports` (its answer field for field) and what a client needs next: the list,
 * one report's status, its download, its deletion. Creating and deleting take the write auth (admin, or open with
 * `auth.open_writes`); reading and downloading take the admin token (a report holds everything about the host).
 */
export function createReportRouter(d: { reports: () => ReportService; writeAuth: Middleware; requireAdmin: AdminMiddleware; clock: Clock; bodyLimit: number }): Router {
  const router = new Router({ prefix: '/api/v1/performance' });
  const ok = successEnvelope(d.clock);

  router.post('/reports', d.writeAuth, async (ctx) => {
    const { row, estimatedReadyMs } = d.reports().create(await readJson(ctx, d.bodyLimit));
    ctx.body = ok({ report_id: row.id, download_url: `/api/v1/performance/reports/${row.id}/download`, estimated_ready_time: isoUtc(estimatedReadyMs) });
  });

  router.get('/reports', d.requireAdmin, (ctx) => {
    const limit = intParam(ctx.query.limit, 'limit', 100, 1, 1000);
    ctx.body = ok({ reports: d.reports().list(limit).map(reportJson) });
  });

  router.get('/reports/:report_id', d.requireAdmin, (ctx) => {
    ctx.body = ok(reportJson(d.reports().get(ctx.params.report_id!)));
  });

  router.get('/reports/:report_id/download', d.requireAdmin, (ctx) => {
    const r = d.reports().get(ctx.params.report_id!);
    if (r.status === 'failed') throw new ApiError('REPORT_GENERATION_FAILED', `report ${r.id} failed: ${r.error ?? 'unknown cause'}`);
    if (r.status !== 'ready') throw new ApiError('REPORT_NOT_READY', `report ${r.id} is ${r.status}; GET /api/v1/performance/reports/${r.id} tells when it is ready`);
    const ext = r.request.format;
    const day = isoUtc(r.request.endMs).slice(0, 10);
    ctx.set('Content-Type', CONTENT_TYPE[ext]);
    ctx.set('Content-Disposition', `attachment; filename="perfwatch-${r.request.type}-${day}-${r.id}.${ext}"`);
    ctx.set('Content-Length', String(r.size ?? 0));
    ctx.body = createReadStream(d.reports().fileOf(r));
  });

  router.delete('/reports/:report_id', d.writeAuth, async (ctx) => {
    const id = ctx.params.report_id!;
    await d.reports().delete(id);
    ctx.body = ok({ report_id: id, deleted: true });
  });

  return router;
}
