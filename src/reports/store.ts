import { chmodSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StartupError } from '../model/errors.js';

/**
 * Reports under `<storage.path>/reports/`: one SQLite row per report (`reports.db`, WAL) and one file per finished
 * report (`<id>.json|csv|pdf`). A report is `pending` (queued), `running`, `ready` (its file exists) or `failed` (with
 * the cause). Writes happen on state changes only.
 */

export type ReportStatus = 'pending' | 'running' | 'ready' | 'failed';

export interface ReportRequest {
  type: 'summary' | 'detailed' | 'custom';
  format: 'json' | 'csv' | 'pdf';
  /** `1h | 6h | 24h | 7d`, or null for a custom start/end. */
  period: string | null;
  startMs: number;
  endMs: number;
  metrics: string[] | null;
  includeAlerts: boolean;
  includeRecommendations: boolean;
  /** Who asked: `api`, or `schedule:<name>`. */
  origin: string;
}

export interface ReportRow {
  seq: number;
  id: string;
  request: ReportRequest;
  status: ReportStatus;
  error: string | null;
  size: number | null;
  createdAtMs: number;
  startedAtMs: number | null;
  finishedAtMs: number | null;
}

const SCHEMA = `
create table if not exists reports (
  seq integer primary key autoincrement,
  id text not null unique,
  request text not null,
  status text not null,
  error text,
  size integer,
  created_at integer not null,
  started_at integer,
  finished_at integer
);
create index if not exists reports_created on reports (created_at);
`;

const EXT: Record<ReportRequest['format'], string> = { json: 'json', csv: 'csv', pdf: 'pdf' };

export class ReportStore {
  readonly dir: string;
  #db: Database.Database;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const file = path.join(dir, 'reports.db');
    try {
      this.#db = new Database(file);
      this.#db.pragma('journal_mode = WAL');
      this.#db.exec(SCHEMA);
    } catch (err) {
      throw new StartupError(`${file} cannot be opened as the reports database (${(err as Error).message}); move it away to start with an empty one`);
    }
  }

  fileOf(r: Pick<ReportRow, 'id' | 'request'>): string {
    return path.join(this.dir, `${r.id}.${EXT[r.request.format]}`);
  }

  /** A new pending report; its id is the seed's `report_001` form (three digits at least). */
  insert(request: ReportRequest, nowMs: number): ReportRow {
    const seq = Number((this.#db.prepare('select coalesce(max(seq), 0) + 1 as n from reports').get() as { n: number }).n);
    const id = `report_${String(seq).padStart(3, '0')}`;
    this.#db.prepare('insert into reports (seq, id, request, status, created_at) values (?, ?, ?, ?, ?)').run(seq, id, JSON.stringify(request), 'pending', Math.round(nowMs));
    return this.get(id)!;
  }

  get(id: string): ReportRow | null {
    const row = this.#db.prepare('select * from reports where id = ?').get(id) as Record<string, unknown> | undefined;
    return row ? toRow(row) : null;
  }

  /** Newest first. */
  list(limit: number): ReportRow[] {
    return (this.#db.prepare('select * from reports order by seq desc limit ?').all(limit) as Array<Record<string, unknown>>).map(toRow);
  }

  pending(): ReportRow[] {
    return (this.#db.prepare("select * from reports where status = 'pending' order by seq").all() as Array<Record<string, unknown>>).map(toRow);
  }

  running(id: string, nowMs: number): void {
    this.#db.prepare("update reports set status = 'running', started_at = ? where id = ?").run(Math.round(nowMs), id);
  }

  ready(id: string, size: number, nowMs: number): void {
    this.#db.prepare("update reports set status = 'ready', size = ?, finished_at = ? where id = ?").run(size, Math.round(nowMs), id);
  }

  failed(id: string, error: string, nowMs: number): void {
    this.#db.prepare("update reports set status = 'failed', error = ?, finished_at = ? where id = ?").run(error.slice(0, 2000), Math.round(nowMs), id);
  }

  /** At start-up: what was running when perfwatch stopped did not finish; it is failed with that cause, not lost. */
  failInterrupted(nowMs: number): number {
    return this.#db.prepare("update reports set status = 'failed', error = 'interrupted: perfwatch stopped while this report was being generated', finished_at = ? where status = 'running'").run(Math.round(nowMs)).changes;
  }

  async delete(r: ReportRow): Promise<void> {
    this.#db.prepare('delete from reports where id = ?').run(r.id);
    await rm(this.fileOf(r), { force: true });
  }

  /** Finished reports older than `maxAgeMs`, or past the newest `maxCount`: rows and files. */
  async prune(nowMs: number, maxAgeMs: number, maxCount: number): Promise<number> {
    const old = (this.#db.prepare("select * from reports where status in ('ready', 'failed') and (created_at < ? or seq not in (select seq from reports order by seq desc limit ?))").all(Math.round(nowMs - maxAgeMs), maxCount) as Array<Record<string, unknown>>).map(toRow);
    for (const r of old) await this.delete(r);
    return old.length;
  }

  close(): void {
    this.#db.close();
  }
}

function toRow(r: Record<string, unknown>): ReportRow {
  return {
    seq: Number(r.seq),
    id: String(r.id),
    request: JSON.parse(String(r.request)) as ReportRequest,
    status: String(r.status) as ReportStatus,
    error: r.error === null ? null : String(r.error),
    size: r.size === null ? null : Number(r.size),
    createdAtMs: Number(r.created_at),
    startedAtMs: r.started_at === null ? null : Number(r.started_at),
    finishedAtMs: r.finished_at === null ? null : Number(r.finished_at),
  };
}
