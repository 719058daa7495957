import { rename, rm } from 'node:fs/promises';
import { z } from 'zod';
import { ApiError, invalidBody } from '../http/api-error.js';
import type { Clock } from '../model/clock.js';
import { isoUtc } from '../model/time.js';
import { gatherReport, ReportInputError, selection, type ReportInput, type ReportSources } from './content.js';
import type { ReportRequest, ReportRow, ReportStore } from './store.js';

/** The seed's fixed periods; `start`/`end` give any other. */
export const REPORT_PERIODS: ReadonlyMap<string, number> = new Map([['1h', 3_600_000], ['6h', 21_600_000], ['24h', 86_400_000], ['7d', 7 * 86_400_000]]);
const MAX_SPAN_MS = 90 * 86_400_000;

const isoTime = z.string().max(64).refine((s) => Number.isFinite(Date.parse(s)), { message: 'expected an ISO 8601 time' });
export const reportRequestSchema = z
  .strictObject({
    type: z.enum(['summary', 'detailed', 'custom']).default('summary'),
    period: z.enum(['1h', '6h', '24h', '7d']).optional(),
    start: isoTime.optional(),
    end: isoTime.optional(),
    format: z.enum(['json', 'csv', 'pdf']).default('json'),
    metrics: z.array(z.string().min(1).max(128)).min(1).max(100).optional(),
    include_alerts: z.boolean().default(true),
    include_recommendations: z.boolean().default(false),
  })
  .superRefine((r, ctx) => {
    if ((r.start === undefined) !== (r.end === undefined)) ctx.addIssue({ code: 'custom', path: [r.start === undefined ? 'start' : 'end'], message: 'start and end go together' });
    if (r.start !== undefined && r.period !== undefined) ctx.addIssue({ code: 'custom', path: ['period'], message: 'give a period or start and end, not both' });
    if (r.start !== undefined && r.end !== undefined) {
      const span = Date.parse(r.end) - Date.parse(r.start);
      if (span <= 0) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
      else if (span > MAX_SPAN_MS) ctx.addIssue({ code: 'custom', path: ['end'], message: 'at most 90 days after start' });
    }
    if (r.type === 'custom' && !r.metrics) ctx.addIssue({ code: 'custom', path: ['metrics'], message: 'a custom report lists its metrics' });
  });
export type ReportRequestInput = z.input<typeof reportRequestSchema>;

export interface ReportServiceOptions {
  store: ReportStore;
  sources: ReportSources;
  clock: Clock;
  concurrency: number;
  maxQueue: number;
  timeoutMs: number;
  maxAgeMs: number;
  maxCount: number;
  /** Writes the report's file from what was gathered and resolves with its size (build.ts: in a worker thread; a PDF printed by Chromium). */
  build: (input: ReportInput, file: string) => Promise<number>;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Told when a report is ready or failed (schedules deliver it). */
  onFinished?: (row: ReportRow) => void;
}

interface Job {
  id: string;
  cancelled: string | null;
}

/**
 * Report generation off the hot path: requests are validated and stored at once (`pending`), then built in the
 * background, `concurrency` at a time, each cut at `timeoutMs`. The main thread reads the history, yielding between
 * series and plugins; a worker thread makes the content and the file (a PDF is printed by a Chromium process). A full
 * queue refuses with 429 `REPORTS_BUSY`.
 */
export class ReportService {
  #o: ReportServiceOptions;
  #queue: string[] = [];
  #running = new Map<string, Job>();
  #durations: number[] = [];
  #pruneTimer: NodeJS.Timeout | null = null;
  #stopped = false;
  #idle: Array<() => void> = [];

  constructor(o: ReportServiceOptions) {
    this.#o = o;
  }

  /** At start-up: reports running when perfwatch stopped are failed (with that cause); pending ones are queued again. */
  start(): void {
    const n = this.#o.store.failInterrupted(this.#o.clock.now());
    if (n) this.#o.log('warn', 'reports interrupted by a stop were marked failed', { count: n });
    for (const r of this.#o.store.pending()) this.#queue.push(r.id);
    this.#pump();
    const prune = () => void this.#o.store.prune(this.#o.clock.now(), this.#o.maxAgeMs, this.#o.maxCount).catch((err) => this.#o.log('warn', 'report pruning failed', { err: String(err) }));
    prune();
    this.#pruneTimer = setInterval(prune, 3_600_000);
    this.#pruneTimer.unref();
  }

  /** Validates and queues a request; nothing is stored when it is refused. */
  create(body: unknown, origin = 'api'): { row: ReportRow; estimatedReadyMs: number } {
    const parsed = reportRequestSchema.safeParse(body);
    if (!parsed.success) throw invalidBody(parsed.error.issues);
    const r = parsed.data;
    const now = this.#o.clock.now();
    const endMs = r.end ? Date.parse(r.end) : now;
    const startMs = r.start ? Date.parse(r.start) : endMs - REPORT_PERIODS.get(r.period ?? '24h')!;
    const request: ReportRequest = {
      type: r.type,
      format: r.format,
      period: r.start ? null : (r.period ?? '24h'),
      startMs,
      endMs,
      metrics: r.metrics ?? null,
      includeAlerts: r.include_alerts,
      includeRecommendations: r.include_recommendations,
      origin,
    };
    const sel = selection(request, { plugins: this.#o.sources.plugins().map((p) => p.id), has: (n) => this.#o.sources.history.has(n) });
    if (sel.unknown.length) throw new ApiError('INVALID_JSON', `metrics: "${sel.unknown[0]!.slice(0, 64)}" is not a host metric (or cpu, memory, disk, network, load), a plugin id or a custom metric`, { field: 'metrics' });
    if (this.#queue.length >= this.#o.maxQueue) throw new ApiError('REPORTS_BUSY', `${this.#queue.length} reports are waiting already (reports.max_queue); ask again when one is done`);
    const row = this.#o.store.insert(request, now);
    this.#queue.push(row.id);
    const ahead = this.#queue.length - 1 + this.#running.size;
    const estimatedReadyMs = now + (Math.floor(ahead / this.#o.concurrency) + 1) * this.#typicalMs(request.format);
    this.#pump();
    return { row, estimatedReadyMs };
  }

  list(limit = 100): ReportRow[] {
    return this.#o.store.list(limit);
  }

  get(id: string): ReportRow {
    const r = this.#o.store.get(id);
    if (!r) throw new ApiError('REPORT_NOT_FOUND', `no report "${id.slice(0, 64)}"`);
    return r;
  }

  fileOf(r: ReportRow): string {
    return this.#o.store.fileOf(r);
  }

  /** Deletes a report and its file; a running one is cancelled first. */
  async delete(id: string): Promise<void> {
    const r = this.get(id);
    const job = this.#running.get(id);
    if (job) job.cancelled = 'deleted';
    this.#queue = this.#queue.filter((x) => x !== id);
    await this.#o.store.delete(r);
  }

  /** Resolves when nothing is queued or running (tests, the bench). */
  idle(): Promise<void> {
    if (!this.#queue.length && !this.#running.size) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    for (const job of this.#running.values()) job.cancelled = 'interrupted: perfwatch stopped while this report was being generated';
    const now = this.#o.clock.now();
    for (const id of this.#running.keys()) this.#o.store.failed(id, 'interrupted: perfwatch stopped while this report was being generated', now);
    this.#running.clear();
  }

  #typicalMs(format: ReportRequest['format']): number {
    if (!this.#durations.length) return format === 'pdf' ? 10_000 : 3000;
    return Math.max(1000, this.#durations.reduce((a, b) => a + b, 0) / this.#durations.length);
  }

  #pump(): void {
    while (!this.#stopped && this.#running.size < this.#o.concurrency && this.#queue.length) {
      const id = this.#queue.shift()!;
      const job: Job = { id, cancelled: null };
      this.#running.set(id, job);
      void this.#run(job).finally(() => {
        this.#running.delete(id);
        this.#pump();
        if (!this.#queue.length && !this.#running.size) for (const r of this.#idle.splice(0)) r();
      });
    }
  }

  async #run(job: Job): Promise<void> {
    const row = this.#o.store.get(job.id);
    if (!row) return;
    const t0 = this.#o.clock.now();
    this.#o.store.running(job.id, t0);
    // the build worker cannot be stopped mid-job: at the time limit the report fails at once, and what the worker
    // makes later is dropped
    let timedOut!: (err: Error) => void;
    const deadline = new Promise<never>((_, reject) => (timedOut = reject));
    deadline.catch(() => {});
    const timer = setTimeout(() => {
      job.cancelled = `timed out after ${this.#o.timeoutMs / 1000} s (reports.timeout)`;
      timedOut(new Cancelled(job.cancelled));
    }, this.#o.timeoutMs);
    const file = this.#o.store.fileOf(row);
    try {
      const check = () => {
        if (job.cancelled) throw new Cancelled(job.cancelled);
      };
      const sources: ReportSources = {
        ...this.#o.sources,
        yieldNow: async () => {
          await new Promise<void>((r) => setImmediate(r));
          check();
        },
      };
      const input = await gatherReport(job.id, row.request, sources, this.#o.clock.now());
      check();
      const building = this.#o.build(input, `${file}.tmp`);
      // a build that ends after the report was given up (timed out, deleted, stopped) leaves no file behind
      building.then(
        () => {
          if (job.cancelled) void rm(`${file}.tmp`, { force: true }).catch(() => {});
        },
        () => {},
      );
      const size = await Promise.race([building, deadline]);
      check();
      await rename(`${file}.tmp`, file);
      check();
      this.#o.store.ready(job.id, size, this.#o.clock.now());
      this.#durations = [...this.#durations.slice(-9), this.#o.clock.now() - t0];
      this.#o.log('info', 'report ready', { report_id: job.id, format: row.request.format, bytes: size, ms: Math.round(this.#o.clock.now() - t0) });
    } catch (err) {
      await rm(`${file}.tmp`, { force: true }).catch(() => {}); // what a failed build may have left
      if (job.cancelled === 'deleted' || this.#stopped) return;
      const cause = err instanceof Cancelled || err instanceof ReportInputError ? err.message : `${(err as Error).message ?? String(err)}`;
      this.#o.store.failed(job.id, cause, this.#o.clock.now());
      this.#o.log('warn', 'report generation failed', { report_id: job.id, cause });
    } finally {
      clearTimeout(timer);
    }
    const done = this.#o.store.get(job.id);
    if (done) this.#o.onFinished?.(done);
  }
}

class Cancelled extends Error {}

/** A report row as the API shows it. */
export function reportJson(r: ReportRow) {
  return {
    report_id: r.id,
    status: r.status,
    type: r.request.type,
    format: r.request.format,
    period: r.request.period,
    start: isoUtc(r.request.startMs),
    end: isoUtc(r.request.endMs),
    metrics: r.request.metrics,
    include_alerts: r.request.includeAlerts,
    include_recommendations: r.request.includeRecommendations,
    origin: r.request.origin,
    error: r.error,
    size: r.size,
    created_at: isoUtc(r.createdAtMs),
    started_at: r.startedAtMs === null ? null : isoUtc(r.startedAtMs),
    finished_at: r.finishedAtMs === null ? null : isoUtc(r.finishedAtMs),
    download_url: `/api/v1/performance/reports/${r.id}/download`,
  };
}
