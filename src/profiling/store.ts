import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import { runWorker, workerModule } from '../threads/worker.js';
import { mergeFrames } from './flame.js';
import type { Frame, RecordInput, RouteProfileInput, SampledTree } from './record.js';

/**
 * Request records in `<storage.path>/profiling.db` (SQLite, WAL): one row per record, the tree as JSON beside the
 * columns queries filter on. Bounded by age and count (`profiling.retention`, `profiling.max_records`).
 */

const SCHEMA = `
create table if not exists records (
  seq integer primary key autoincrement,
  project text not null,
  route text not null,
  method text not null,
  status integer not null,
  path text,
  start_ms integer not null,
  duration_ms real not null,
  cpu_ms real not null,
  memory_delta integer not null,
  received_ms integer not null,
  tree text
);
create index if not exists records_project_route on records (project, route, start_ms);
create index if not exists records_start on records (start_ms);
create index if not exists records_received on records (received_ms);
create table if not exists analyses (
  seq integer primary key autoincrement,
  record_seq integer not null,
  status text not null,
  provider text not null,
  result text,
  error text,
  created_ms integer not null,
  finished_ms integer
);
create index if not exists analyses_record on analyses (record_seq);
create table if not exists route_profiles (
  seq integer primary key autoincrement,
  project text not null,
  route text not null,
  method text not null,
  window_start_ms integer not null,
  window_end_ms integer not null,
  requests integer not null,
  samples integer not null,
  received_ms integer not null,
  tree text not null
);
create index if not exists route_profiles_route on route_profiles (project, route, method, window_end_ms);
create index if not exists route_profiles_received on route_profiles (received_ms);
create table if not exists projects (
  name text primary key,
  key_sha256 text not null unique,
  created_ms integer not null
);
`;

export type AnalysisStatus = 'pending' | 'running' | 'done' | 'failed';

export interface AnalysisRow {
  analysis_id: string;
  record_id: string;
  status: AnalysisStatus;
  provider: string;
  error: string | null;
  created_at: string;
  finished_at: string | null;
  /** findings, summary, suggestions, model, tokens: whatever the job got to. */
  result: Record<string, unknown> | null;
}

export interface StoredRecord {
  id: string;
  project: string;
  route: string;
  method: string;
  status: number;
  path: string | null;
  start_time: string;
  duration_ms: number;
  cpu_time_ms: number;
  memory_delta_bytes: number;
}

export interface RecordFilter {
  project?: string;
  route?: string;
  method?: string;
  status?: number;
  sinceMs?: number;
  untilMs?: number;
  minDurationMs?: number;
  limit: number;
}

export interface RouteStats {
  project: string;
  route: string;
  method: string;
  count: number;
  errors: number;
  error_rate: number;
  throughput_per_second: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
}

type Row = { seq: number; project: string; route: string; method: string; status: number; path: string | null; start_ms: number; duration_ms: number; cpu_ms: number; memory_delta: number; tree?: string | null; sampled?: string | null };

/** A route's samples merged over the windows of a time range. */
export interface RouteProfile {
  project: string;
  route: string;
  method: string;
  since: string;
  until: string;
  /** Windows merged, and those left out past the cap (the oldest). */
  windows: number;
  windows_left_out: number;
  requests: number;
  sample_count: number;
  root_frame: Frame | null;
}

/** Windows merged into one route profile at most (at the SDK's 5 s flush, the last ~80 minutes of a busy route). */
const MAX_WINDOWS = 1000;

const r3 = (v: number) => Math.round(v * 1000) / 1000;
export const recordId = (seq: number) => `rec_${seq}`;
export const seqOf = (id: string): number | null => (/^rec_(\d{1,15})$/.exec(id) ? Number(id.slice(4)) : null);

function view(r: Row): StoredRecord {
  return { id: recordId(r.seq), project: r.project, route: r.route, method: r.method, status: r.status, path: r.path, start_time: new Date(r.start_ms).toISOString(), duration_ms: r3(r.duration_ms), cpu_time_ms: r3(r.cpu_ms), memory_delta_bytes: r.memory_delta };
}

type AnalysisDbRow = { seq: number; record_seq: number; status: AnalysisStatus; provider: string; result: string | null; error: string | null; created_ms: number; finished_ms: number | null };

function analysisView(r: AnalysisDbRow): AnalysisRow {
  return { analysis_id: `ana_${r.seq}`, record_id: recordId(r.record_seq), status: r.status, provider: r.provider, error: r.error, created_at: new Date(r.created_ms).toISOString(), finished_at: r.finished_ms === null ? null : new Date(r.finished_ms).toISOString(), result: r.result ? JSON.parse(r.result) : null };
}

/** Nearest-rank percentile of sorted values. */
const pct = (sorted: ArrayLike<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;

/** A per-route statistics job for the query worker: the database file and the window. */
export interface RoutesJob {
  file: string;
  sinceMs: number;
  untilMs: number;
  project?: string;
  only?: { route: string; method: string };
}

const QUERY_WORKER = workerModule('query-worker', import.meta.url);

/**
 * Count, errors and nearest-rank percentiles per project, route and method over a window. `only`: one route, read
 * through the (project, route, start) index.
 */
export function routeStats(db: Database.Database, { sinceMs, untilMs, project, only }: Omit<RoutesJob, 'file'>): RouteStats[] {
  // rows as arrays and unordered: SQLite's sort of every row cost more than grouping them here and sorting each
  // route's durations as doubles (300 000 records in the window: 0.85 → 0.5 s, bench/README.md, issue 15)
  const rows = db
    .prepare(`select project, route, method, status, duration_ms from records where start_ms >= ? and start_ms <= ? ${project ? 'and project = ?' : ''} ${only ? 'and route = ? and method = ?' : ''}`)
    .raw(true)
    .all(...[sinceMs, untilMs, ...(project ? [project] : []), ...(only ? [only.route, only.method] : [])]) as Array<[string, string, string, number, number]>;
  const groups = new Map<string, { project: string; route: string; method: string; durations: number[]; errors: number }>();
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const key = `${r[0]}\u0000${r[1]}\u0000${r[2]}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { project: r[0], route: r[1], method: r[2], durations: [], errors: 0 }));
    g.durations.push(r[4]);
    if (r[3] >= 500) g.errors++;
  }
  const seconds = Math.max(1, (untilMs - sinceMs) / 1000);
  // in SQLite's order (its BINARY collation compares UTF-8 bytes), as when it sorted them: each group's bytes once
  const keyed = [...groups.values()].map((g) => ({ g, k: [Buffer.from(g.project), Buffer.from(g.route), Buffer.from(g.method)] as const }));
  return keyed
    .sort((a, b) => Buffer.compare(a.k[0], b.k[0]) || Buffer.compare(a.k[1], b.k[1]) || Buffer.compare(a.k[2], b.k[2]))
    .map(({ g }) => {
      const d = Float64Array.from(g.durations).sort();
      return { project: g.project, route: g.route, method: g.method, count: d.length, errors: g.errors, error_rate: r3(g.errors / d.length), throughput_per_second: Math.round((d.length / seconds) * 1e6) / 1e6, p50_ms: r3(pct(d, 50)), p95_ms: r3(pct(d, 95)), p99_ms: r3(pct(d, 99)), max_ms: r3(d.at(-1)!) };
    });
}

export class ProfilingStore {
  #db: Database.Database;
  #insert: Database.Statement;
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
    this.#db = new Database(file);
    chmodSync(file, 0o600);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(SCHEMA);
    // a profiling.db from before sampled trees gains their column
    if (!(this.#db.prepare('pragma table_info(records)').all() as Array<{ name: string }>).some((c) => c.name === 'sampled')) this.#db.exec('alter table records add column sampled text');
    this.#insert = this.#db.prepare('insert into records (project, route, method, status, path, start_ms, duration_ms, cpu_ms, memory_delta, received_ms, tree, sampled) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  }

  /** Stores the records in one transaction; returns their ids in order. */
  insert(project: string, records: RecordInput[], nowMs: number): string[] {
    return this.#db.transaction(() =>
      records.map((r) => {
        const info = this.#insert.run(project, r.route, r.method, r.status, r.path, Math.round(r.start_time * 1000), r.duration_ms, r.cpu_time_ms, Math.round(r.memory_delta_bytes), nowMs, r.tree ? JSON.stringify(r.tree) : null, r.sampled ? JSON.stringify(r.sampled) : null);
        return recordId(Number(info.lastInsertRowid));
      }),
    )();
  }

  insertRouteProfiles(project: string, profiles: RouteProfileInput[], nowMs: number): void {
    const stmt = this.#db.prepare('insert into route_profiles (project, route, method, window_start_ms, window_end_ms, requests, samples, received_ms, tree) values (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.#db.transaction(() => {
      for (const p of profiles) stmt.run(project, p.route, p.method, Math.round(p.window_start * 1000), Math.round(p.window_end * 1000), p.requests, p.tree.sample_count, nowMs, JSON.stringify(p.tree.root_frame));
    })();
  }

  /** The route's samples merged over the windows that end in [sinceMs, untilMs], the newest MAX_WINDOWS of them. */
  routeProfile(project: string, route: string, method: string, sinceMs: number, untilMs: number): RouteProfile {
    const where = 'project = ? and route = ? and method = ? and window_end_ms >= ? and window_end_ms <= ?';
    const args = [project, route, method, sinceMs, untilMs];
    const total = (this.#db.prepare(`select count(*) as n from route_profiles where ${where}`).get(...args) as { n: number }).n;
    const rows = this.#db.prepare(`select requests, samples, tree from route_profiles where ${where} order by window_end_ms desc limit ?`).all(...args, MAX_WINDOWS) as Array<{ requests: number; samples: number; tree: string }>;
    const root = mergeFrames(rows.map((r) => JSON.parse(r.tree) as Frame));
    return { project, route, method, since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), windows: rows.length, windows_left_out: total - rows.length, requests: rows.reduce((s, r) => s + r.requests, 0), sample_count: rows.reduce((s, r) => s + r.samples, 0), root_frame: root };
  }

  list(f: RecordFilter): StoredRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const eq = (col: string, v: unknown) => {
      if (v === undefined) return;
      where.push(`${col} = ?`);
      args.push(v);
    };
    eq('project', f.project);
    eq('route', f.route);
    eq('method', f.method);
    eq('status', f.status);
    if (f.sinceMs !== undefined) (where.push('start_ms >= ?'), args.push(f.sinceMs));
    if (f.untilMs !== undefined) (where.push('start_ms <= ?'), args.push(f.untilMs));
    if (f.minDurationMs !== undefined) (where.push('duration_ms >= ?'), args.push(f.minDurationMs));
    const sql = `select seq, project, route, method, status, path, start_ms, duration_ms, cpu_ms, memory_delta from records ${where.length ? `where ${where.join(' and ')}` : ''} order by start_ms desc, seq desc limit ?`;
    return (this.#db.prepare(sql).all(...args, f.limit) as Row[]).map(view);
  }

  get(id: string): (StoredRecord & { tree: { kind: string; truncated: boolean; root_frame: Frame } | null; sampled: SampledTree | null }) | null {
    const seq = seqOf(id);
    if (seq === null) return null;
    const row = this.#db.prepare('select * from records where seq = ?').get(seq) as Row | undefined;
    return row ? { ...view(row), tree: row.tree ? JSON.parse(row.tree) : null, sampled: row.sampled ? JSON.parse(row.sampled) : null } : null;
  }

  /**
   * Per project, route and method over [sinceMs, untilMs]: count, errors (status ≥ 500), throughput and latency
   * percentiles, on this thread: for `only` one route (an analysis needs its own), and tests.
   */
  routes(sinceMs: number, untilMs: number, project?: string, only?: { route: string; method: string }): RouteStats[] {
    return routeStats(this.#db, { sinceMs, untilMs, ...(project ? { project } : {}), ...(only ? { only } : {}) });
  }

  /**
   * The same on the profiling query worker, through its own read-only connection: every record of the window is read
   * and each route's durations sorted, 0.5 s for 300 000 records, which held the event loop (and /metrics) on every
   * poll of the console's profiling page.
   */
  routesOffThread(sinceMs: number, untilMs: number, project?: string): Promise<RouteStats[]> {
    const job: RoutesJob = { file: this.#file, sinceMs, untilMs, ...(project ? { project } : {}) };
    return runWorker<RouteStats[]>(QUERY_WORKER, job, []);
  }

  /** Projects made through the API: name, the key's SHA-256 (the key itself is shown once, never stored), creation time. */
  projects(): Array<{ name: string; keySha256: string; createdMs: number }> {
    return (this.#db.prepare('select name, key_sha256, created_ms from projects order by name').all() as Array<{ name: string; key_sha256: string; created_ms: number }>).map((r) => ({ name: r.name, keySha256: r.key_sha256, createdMs: r.created_ms }));
  }

  addProject(name: string, keySha256: string, nowMs: number): void {
    this.#db.prepare('insert into projects (name, key_sha256, created_ms) values (?, ?, ?)').run(name, keySha256, nowMs);
  }

  deleteProject(name: string): boolean {
    return this.#db.prepare('delete from projects where name = ?').run(name).changes > 0;
  }

  /** A new analysis job of a record, `pending`. */
  createAnalysis(recordId: string, provider: string, nowMs: number): string {
    const info = this.#db.prepare("insert into analyses (record_seq, status, provider, created_ms) values (?, 'pending', ?, ?)").run(seqOf(recordId), provider, nowMs);
    return `ana_${Number(info.lastInsertRowid)}`;
  }

  setAnalysis(id: string, status: AnalysisStatus, result: Record<string, unknown> | null, error: string | null, nowMs: number | null): void {
    this.#db.prepare('update analyses set status = ?, result = ?, error = ?, finished_ms = ? where seq = ?').run(status, result ? JSON.stringify(result) : null, error, nowMs, Number(id.slice(4)));
  }

  getAnalysis(id: string): AnalysisRow | null {
    if (!/^ana_\d{1,15}$/.test(id)) return null;
    const row = this.#db.prepare('select * from analyses where seq = ?').get(Number(id.slice(4))) as AnalysisDbRow | undefined;
    return row ? analysisView(row) : null;
  }

  analysesOf(recordId: string): AnalysisRow[] {
    return (this.#db.prepare('select * from analyses where record_seq = ? order by seq desc limit 100').all(seqOf(recordId)) as AnalysisDbRow[]).map(analysisView);
  }

  /** Jobs a stop or crash left `pending` or `running`: failed, never left hanging. */
  failInterrupted(nowMs: number): number {
    return this.#db.prepare("update analyses set status = 'failed', error = 'interrupted: perfwatch stopped while the analysis ran; ask again', finished_ms = ? where status in ('pending', 'running')").run(nowMs).changes;
  }

  /** Deletes records received before `beforeMs` and the oldest past `maxRecords`; returns how many went. */
  prune(beforeMs: number, maxRecords: number): number {
    const aged = this.#db.prepare('delete from records where received_ms < ?').run(beforeMs).changes;
    this.#db.prepare('delete from route_profiles where received_ms < ?').run(beforeMs);
    const over = this.#db.prepare('delete from records where seq <= (select seq from records order by seq desc limit 1 offset ?)').run(maxRecords).changes;
    // an analysis goes with its record
    if (aged + over) this.#db.prepare('delete from analyses where record_seq not in (select seq from records)').run();
    return aged + over;
  }

  count(): number {
    return (this.#db.prepare('select count(*) as n from records').get() as { n: number }).n;
  }

  close(): void {
    this.#db.close();
  }
}
