import path from 'node:path';
import type { Middleware } from 'koa';
import type { Config } from '../config/load.js';
import type { AdminMiddleware } from '../http/auth.js';
import type { Clock } from '../model/clock.js';
import type { Component } from '../model/component.js';
import type { ReportSources } from './content.js';
import { findChromium, printPdf, reportHtml } from './pdf.js';
import { createReportRouter } from './routes.js';
import { ReportService } from './service.js';
import { ReportStore } from './store.js';

export interface ReportsOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  sources: ReportSources;
  clock: Clock;
  writeAuth: Middleware;
  requireAdmin: AdminMiddleware;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * Reports (docs/reports.md): the routes, and the part that opens `<storage.path>/reports/` at start (failing what a
 * stop interrupted, queueing what was pending) and closes it at stop.
 */
export function createReports(o: ReportsOptions) {
  const c = o.config.reports;
  let service: ReportService | null = null;
  let store: ReportStore | null = null;
  const live = () => {
    if (!service) throw new Error('reports are not started');
    return service;
  };
  const renderPdf = async (content: Parameters<typeof reportHtml>[0]) => {
    const chromium = await findChromium(c.chromium, o.env);
    if (!chromium) throw new Error(`no Chromium to print the PDF: set reports.chromium or PERFWATCH_CHROMIUM, or install it (Debian: apt-get install chromium fonts-noto-cjk)${c.chromium ? `; ${c.chromium} is not an executable` : ''}`);
    return printPdf(await reportHtml(content), chromium, Math.min(c.timeout, 120_000));
  };
  const component: Component = {
    name: 'reports',
    start() {
      store = new ReportStore(path.join(o.config.storage.path, 'reports'));
      service = new ReportService({ store, sources: o.sources, clock: o.clock, concurrency: c.concurrency, maxQueue: c.max_queue, timeoutMs: c.timeout, maxAgeMs: c.max_age, maxCount: c.max_count, renderPdf, log: o.log });
      service.start();
    },
    async stop() {
      await service?.stop();
      store?.close();
      service = null;
      store = null;
    },
  };
  const router = createReportRouter({ reports: live, writeAuth: o.writeAuth, requireAdmin: o.requireAdmin, clock: o.clock, bodyLimit: o.config.server.body_limit });
  return { component, router, service: live };
}
