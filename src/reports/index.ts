import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import cron, { type ScheduledTask } from 'node-cron';
import type { Middleware } from 'koa';
import type { Config } from '../config/load.js';
import type { AdminMiddleware } from '../http/auth.js';
import type { Clock } from '../model/clock.js';
import type { Component } from '../model/component.js';
import type { ReportSources } from './content.js';
import { buildInWorker } from './build.js';
import type { ReportInput } from './content.js';
import { findChromium } from './pdf.js';
import { createReportRouter } from './routes.js';
import { reportJson, ReportService } from './service.js';
import { ReportStore, type ReportRow } from './store.js';

/** What a schedule can deliver to besides files and webhooks: a notification channel (alerting/channels.ts). */
export interface ReportChannel {
  deliverReport(m: { subject: string; text: string; attachment?: { filename: string; path: string } }): Promise<void>;
}

export interface ReportsOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  sources: ReportSources;
  clock: Clock;
  writeAuth: Middleware;
  requireAdmin: AdminMiddleware;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** A channel by name (`alerting.channels`), for schedules' `deliver: [{channel}]`. */
  channel: (name: string) => ReportChannel | undefined;
  /** perfwatch's URL as users reach it (`alerting.external_url`, else the listening address), for download links. */
  publicUrl: () => string;
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
  const build = async (input: ReportInput, file: string) => {
    if (input.req.format !== 'pdf') return buildInWorker(input, null, file);
    const chromium = await findChromium(c.chromium, o.env);
    if (!chromium) throw new Error(`no Chromium to print the PDF: set reports.chromium or PERFWATCH_CHROMIUM, or install it (Debian: apt-get install chromium fonts-noto-cjk)${c.chromium ? `; ${c.chromium} is not an executable` : ''}`);
    return buildInWorker(input, { executablePath: chromium, timeoutMs: Math.min(c.timeout, 120_000) }, file);
  };
  let tasks: ScheduledTask[] = [];
  const deliver = async (row: ReportRow) => {
    const name = row.request.origin.startsWith('schedule:') ? row.request.origin.slice('schedule:'.length) : null;
    const sch = c.schedules.find((x) => x.name === name);
    if (!sch || !service) return;
    if (row.status !== 'ready') {
      o.log('warn', 'scheduled report failed; nothing delivered', { schedule: sch.name, report_id: row.id, cause: row.error });
      return;
    }
    const file = service.fileOf(row);
    const filename = `perfwatch-${row.request.type}-${new Date(row.request.endMs).toISOString().slice(0, 10)}-${row.id}.${row.request.format}`;
    const url = `${o.publicUrl().replace(/\/$/, '')}/api/v1/performance/reports/${row.id}/download`;
    const subject = `[perfwatch] ${sch.name}: ${row.request.type} report ${row.id} (${row.request.period})`;
    const text = `${subject}\nhost: ${o.sources.hostname}\nperiod: ${new Date(row.request.startMs).toISOString()} – ${new Date(row.request.endMs).toISOString()}\ndownload (admin token): ${url}`;
    for (const d of sch.deliver) {
      try {
        if (d.channel !== undefined) await o.channel(d.channel)!.deliverReport({ subject, text, attachment: { filename, path: file } });
        else if (d.file !== undefined) {
          await mkdir(d.file, { recursive: true });
          await copyFile(file, path.join(d.file, filename));
        } else if (d.webhook !== undefined) {
          const res = await fetch(d.webhook, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'perfwatch' }, body: JSON.stringify({ event: 'report_ready', schedule: sch.name, report: reportJson(row) }), signal: AbortSignal.timeout(10_000) });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`webhook answered ${res.status}`);
        }
        o.log('info', 'scheduled report delivered', { schedule: sch.name, report_id: row.id, to: d });
      } catch (err) {
        o.log('warn', 'scheduled report delivery failed', { schedule: sch.name, report_id: row.id, to: d, err: String(err) });
      }
    }
  };
  /** Makes the report a schedule asks for now (also what `cron` calls). */
  const runSchedule = (name: string) => {
    const sch = c.schedules.find((x) => x.name === name);
    if (!sch || !service) return null;
    try {
      const { row } = service.create({ type: sch.type, period: sch.period, format: sch.format, ...(sch.metrics ? { metrics: sch.metrics } : {}), include_alerts: sch.include_alerts, include_recommendations: sch.include_recommendations }, `schedule:${sch.name}`);
      o.log('info', 'scheduled report queued', { schedule: sch.name, report_id: row.id });
      return row.id;
    } catch (err) {
      o.log('warn', 'scheduled report not queued', { schedule: sch.name, err: String(err) });
      return null;
    }
  };
  const component: Component = {
    name: 'reports',
    start() {
      store = new ReportStore(path.join(o.config.storage.path, 'reports'));
      service = new ReportService({ store, sources: o.sources, clock: o.clock, concurrency: c.concurrency, maxQueue: c.max_queue, timeoutMs: c.timeout, maxAgeMs: c.max_age, maxCount: c.max_count, build, log: o.log, onFinished: (row) => void deliver(row) });
      service.start();
    },
    async stop() {
      await service?.stop();
      store?.close();
      service = null;
      store = null;
    },
  };
  /**
   * The schedules, a component of their own that starts once the HTTP server listens: a report's email and chat
   * message carry its download link, made from the server's URL, which a schedule firing during startup did not have
   * yet (a test run here mailed a relative link).
   */
  const schedules: Component = {
    name: 'report schedules',
    start() {
      tasks = c.schedules.map((sch) => cron.schedule(sch.cron, () => void runSchedule(sch.name), { name: `report:${sch.name}`, noOverlap: true, ...(sch.timezone ? { timezone: sch.timezone } : {}) }));
    },
    async stop() {
      for (const t of tasks) await t.stop();
      tasks = [];
    },
  };
  const router = createReportRouter({ reports: live, writeAuth: o.writeAuth, requireAdmin: o.requireAdmin, clock: o.clock, bodyLimit: o.config.server.body_limit });
  return { component, schedules, router, service: live, runSchedule };
}
