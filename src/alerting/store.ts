import { StartupError } from '../model/errors.js';
import { chmodSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Level, AlertType } from './rule.js';

/**
 * The embedded store under `storage.path` (SQLite through better-sqlite3, WAL): rules created through the API, the
 * trigger statistics of every rule, and the alert history. better-sqlite3 is synchronous; every write here happens on a
 * state change (never per sample), batched in one transaction per evaluation, so an alert storm of 500 instances costs
 * one transaction (bench/README.md).
 */

export interface StoredRule {
  seq: number;
  id: string;
  body: string;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface AlertRecord {
  seq: number;
  id: string;
  ruleId: string;
  fingerprint: string;
  type: AlertType;
  level: Level;
  title: string;
  message: string;
  value: number;
  threshold: number;
  status: 'active' | 'resolved';
  labels: Record<string, string>;
  metadata: Record<string, unknown>;
  createdAtMs: number;
  updatedAtMs: number;
  resolvedAtMs: number | null;
  resolvedBy: string | null;
  resolution: string | null;
  activeAtMs: number;
}

type Row = Record<string, unknown>;

const SCHEMA = `
create table if not exists rules (
  seq integer primary key autoincrement,
  id text not null unique,
  body text not null,
  created_at integer not null,
  updated_at integer not null
);
create table if not exists rule_stats (
  rule_id text primary key,
  trigger_count integer not null default 0,
  last_triggered integer
);
create table if not exists alerts (
  seq integer primary key autoincrement,
  rule_id text not null,
  fingerprint text not null,
  type text not null,
  level text not null,
  title text not null,
  message text not null,
  value real,
  threshold real not null,
  status text not null,
  labels text not null,
  metadata text not null,
  created_at integer not null,
  updated_at integer not null,
  resolved_at integer,
  resolved_by text,
  resolution text,
  active_at integer not null
);
create index if not exists alerts_status on alerts(status);
create index if not exists alerts_created on alerts(created_at);
`;

const alertId = (seq: number) => `alert_${String(seq).padStart(3, '0')}`;
export const ruleIdFor = (seq: number) => `rule_${String(seq).padStart(3, '0')}`;

/** A JSON object column; a row damaged on disk reads as `{}` (labels) or says so (metadata) instead of failing every query. */
function jsonObject(text: unknown, column: 'labels' | 'metadata'): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(String(text));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* below */
  }
  return column === 'metadata' ? { unreadable: 'this alert\'s stored metadata is damaged' } : {};
}

function fileSize(file: string): number | null {
  try {
    return statSync(file).size;
  } catch {
    return null;
  }
}

function toRecord(r: Row): AlertRecord {
  return {
    seq: r.seq as number,
    id: alertId(r.seq as number),
    ruleId: r.rule_id as string,
    fingerprint: r.fingerprint as string,
    type: r.type as AlertType,
    level: r.level as Level,
    title: r.title as string,
    message: r.message as string,
    value: r.value === null ? NaN : (r.value as number),
    threshold: r.threshold as number,
    status: r.status as AlertRecord['status'],
    labels: jsonObject(r.labels, 'labels') as Record<string, string>,
    metadata: jsonObject(r.metadata, 'metadata'),
    createdAtMs: r.created_at as number,
    updatedAtMs: r.updated_at as number,
    resolvedAtMs: (r.resolved_at as number | null) ?? null,
    resolvedBy: (r.resolved_by as string | null) ?? null,
    resolution: (r.resolution as string | null) ?? null,
    activeAtMs: r.active_at as number,
  };
}

export interface AlertQuery {
  level?: Level;
  type?: string;
  includeResolved: boolean;
  limit: number;
}

function filters(q: { level?: string; type?: string; includeResolved: boolean }): { where: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (!q.includeResolved) where.push("status = 'active'");
  if (q.level) (where.push('level = ?'), args.push(q.level));
  if (q.type) (where.push('type = ?'), args.push(q.type));
  return { where: where.length ? `where ${where.join(' and ')}` : '', args };
}

export class AlertStore {
  #db: Database.Database;
  #historyLimit: number;
  #stmt: Record<string, Database.Statement>;

  /** The file existed but was empty (0 bytes): whatever it held is gone, and a new database was made in its place. */
  readonly wasEmpty: boolean;

  constructor(file: string, opts: { historyLimit: number; readonly?: boolean }) {
    const size = fileSize(file);
    // SQLite treats a 0-byte file as a new database and throws away the WAL beside it, with whatever it still held
    if (size === 0 && (fileSize(`${file}-wal`) ?? 0) > 0) {
      throw new StartupError(`${file} is empty but ${file}-wal holds ${fileSize(`${file}-wal`)} bytes that opening it would discard; move both aside (or restore a backup) before starting`);
    }
    this.wasEmpty = size === 0;
    this.#db = new Database(file, opts.readonly ? { readonly: true, fileMustExist: true } : {});
    try {
      if (!opts.readonly) {
        // rules, alert history and labels are the operator's: not for other users of the host (the WAL and shm
        // files SQLite creates next to it take the database file's mode)
        chmodSync(file, 0o600);
        this.#db.pragma('journal_mode = WAL');
        this.#db.pragma('synchronous = NORMAL');
        this.#db.exec(SCHEMA);
      } else this.#db.pragma('schema_version');
    } catch (err) {
      this.#db.close();
      // refused, not replaced: the file may hold rules and alert history the operator wants back
      throw new StartupError(`${file} is not a readable perfwatch database (${(err as Error).message}); move it aside to start with a new one, or restore a backup`);
    }
    this.#historyLimit = opts.historyLimit;
    const p = (sql: string) => this.#db.prepare(sql);
    this.#stmt = {
      rules: p('select seq, id, body, created_at, updated_at from rules order by seq'),
      insertRule: p('insert into rules (id, body, created_at, updated_at) values (?, ?, ?, ?)'),
      setRuleId: p('update rules set id = ?, body = ? where seq = ?'),
      updateRule: p('update rules set body = ?, updated_at = ? where id = ?'),
      deleteRule: p('delete from rules where id = ?'),
      stats: p('select rule_id, trigger_count, last_triggered from rule_stats'),
      bumpStats: p('insert into rule_stats (rule_id, trigger_count, last_triggered) values (?, 1, ?) on conflict(rule_id) do update set trigger_count = trigger_count + 1, last_triggered = excluded.last_triggered'),
      deleteStats: p('delete from rule_stats where rule_id = ?'),
      insertAlert: p(`insert into alerts (rule_id, fingerprint, type, level, title, message, value, threshold, status, labels, metadata, created_at, updated_at, active_at)
        values (@ruleId, @fingerprint, @type, @level, @title, @message, @value, @threshold, 'active', @labels, @metadata, @createdAtMs, @createdAtMs, @activeAtMs)`),
      touchAlert: p('update alerts set value = ?, message = ?, updated_at = ? where seq = ?'),
      resolveAlert: p("update alerts set status = 'resolved', resolved_at = ?, updated_at = ?, resolved_by = ?, resolution = ? where seq = ? and status = 'active'"),
      alert: p('select * from alerts where seq = ?'),
      activeAlerts: p("select * from alerts where status = 'active' order by seq"),
      count: p('select count(*) as n from alerts'),
      prune: p('delete from alerts where seq in (select seq from alerts where status = \'resolved\' order by seq limit ?)'),
      countsSince: p('select level, count(*) as n from alerts where created_at >= ? group by level'),
    };
  }

  /** Runs `fn` in one transaction (one fsync for a whole evaluation's changes). */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }

  listRules(): StoredRule[] {
    return (this.#stmt.rules!.all() as Row[]).map((r) => ({ seq: r.seq as number, id: r.id as string, body: r.body as string, createdAtMs: r.created_at as number, updatedAtMs: r.updated_at as number }));
  }

  /** Inserts an API rule under the next `rule_<n>` id; returns the id. */
  insertRule(body: (id: string) => string, atMs: number): string {
    // AUTOINCREMENT never reuses a seq, so a deleted rule's id (still named by its old alerts) is never given again
    return this.transaction(() => {
      const seq = Number(this.#stmt.insertRule!.run(`new_${process.hrtime.bigint()}`, '{}', atMs, atMs).lastInsertRowid);
      const id = ruleIdFor(seq);
      this.#stmt.setRuleId!.run(id, body(id), seq);
      return id;
    });
  }

  updateRule(id: string, body: string, atMs: number): boolean {
    return this.#stmt.updateRule!.run(body, atMs, id).changes > 0;
  }

  deleteRule(id: string): boolean {
    return this.transaction(() => {
      this.#stmt.deleteStats!.run(id);
      return this.#stmt.deleteRule!.run(id).changes > 0;
    });
  }

  ruleStats(): Map<string, { triggerCount: number; lastTriggeredMs: number | null }> {
    const out = new Map<string, { triggerCount: number; lastTriggeredMs: number | null }>();
    for (const r of this.#stmt.stats!.all() as Row[]) out.set(r.rule_id as string, { triggerCount: r.trigger_count as number, lastTriggeredMs: (r.last_triggered as number | null) ?? null });
    return out;
  }

  insertAlert(a: Omit<AlertRecord, 'seq' | 'id' | 'status' | 'updatedAtMs' | 'resolvedAtMs' | 'resolvedBy' | 'resolution'>): AlertRecord {
    const info = this.#stmt.insertAlert!.run({ ...a, value: Number.isFinite(a.value) ? a.value : null, labels: JSON.stringify(a.labels), metadata: JSON.stringify(a.metadata) });
    this.#stmt.bumpStats!.run(a.ruleId, a.createdAtMs);
    return this.get(Number(info.lastInsertRowid))!;
  }

  touchAlert(seq: number, value: number, message: string, atMs: number): void {
    this.#stmt.touchAlert!.run(Number.isFinite(value) ? value : null, message, atMs, seq);
  }

  resolveAlert(seq: number, atMs: number, by: string | null, resolution: string | null): boolean {
    return this.#stmt.resolveAlert!.run(atMs, atMs, by, resolution, seq).changes > 0;
  }

  /** Keeps at most `historyLimit` alerts, dropping the oldest resolved ones. */
  prune(): void {
    const { n } = this.#stmt.count!.get() as { n: number };
    if (n > this.#historyLimit) this.#stmt.prune!.run(n - this.#historyLimit);
  }

  get(seq: number): AlertRecord | null {
    const r = this.#stmt.alert!.get(seq) as Row | undefined;
    return r ? toRecord(r) : null;
  }

  active(): AlertRecord[] {
    return (this.#stmt.activeAlerts!.all() as Row[]).map(toRecord);
  }

  query(q: AlertQuery): AlertRecord[] {
    const { where, args } = filters(q);
    const sql = `select * from alerts ${where} order by seq desc limit ?`;
    return (this.#db.prepare(sql).all(...args, q.limit) as Row[]).map(toRecord);
  }

  /** Counts over the whole kept history matching the level/type filters: by status and by level. */
  counts(q: { level?: Level; type?: string } = {}): { total: number; active: number; resolved: number; byLevel: Record<Level, number> } {
    const out = { total: 0, active: 0, resolved: 0, byLevel: { info: 0, warning: 0, error: 0, critical: 0 } as Record<Level, number> };
    const { where, args } = filters({ ...q, includeResolved: true });
    for (const r of this.#db.prepare(`select level, status, count(*) as n from alerts ${where} group by level, status`).all(...args) as Row[]) {
      const n = r.n as number;
      out.total += n;
      if (r.status === 'active') out.active += n;
      else out.resolved += n;
      out.byLevel[r.level as Level] += n;
    }
    return out;
  }

  /** Alerts raised since `sinceMs`, by level. */
  countsSince(sinceMs: number): Record<Level, number> & { total: number } {
    const out = { total: 0, info: 0, warning: 0, error: 0, critical: 0 };
    for (const r of this.#stmt.countsSince!.all(sinceMs) as Row[]) {
      out[r.level as Level] += r.n as number;
      out.total += r.n as number;
    }
    return out;
  }

  close(): void {
    this.#db.close();
  }
}
