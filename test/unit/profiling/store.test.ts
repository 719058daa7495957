import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { ProfilingStore } from '../../../src/profiling/store.js';

t.test('routes(): count, errors and nearest-rank percentiles per route, in SQLite\'s order, as the rows say', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'profiling.db');
  const store = new ProfilingStore(file);
  t.teardown(() => store.close());
  const T = Date.UTC(2026, 11, 3, 12);
  let seed = 5;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  // routes whose UTF-16 order differs from their UTF-8 byte order (U+FF5E sorts after U+1F600 in UTF-16, before in bytes)
  const routes = ['/a', '/b/:id', '/é', '/\uff5e', '/\u{1f600}', '/z'];
  for (const project of ['shop', 'blog']) {
    store.insert(
      project,
      Array.from({ length: 1500 }, (_, i) => ({
        route: routes[Math.floor(rand() * routes.length)]!,
        method: rand() < 0.8 ? 'GET' : 'POST',
        status: rand() < 0.05 ? 503 : rand() < 0.1 ? 404 : 200,
        path: null,
        start_time: (T - 600_000 + i * 400) / 1000,
        duration_ms: Math.round(rand() * 1e6) / 1000,
        cpu_time_ms: 0,
        memory_delta_bytes: 0,
        tree: null,
        sampled: null,
      })),
      T,
    );
  }
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  const since = T - 300_000;
  const until = T;
  // the oracle: SQLite orders the groups and the durations
  const expect = (project?: string) => {
    const groups = db.prepare(`select project, route, method, count(*) as n, sum(status >= 500) as errors, max(duration_ms) as max from records where start_ms >= ? and start_ms <= ? ${project ? 'and project = ?' : ''} group by project, route, method order by project, route, method`).all(...[since, until, ...(project ? [project] : [])]) as Array<{ project: string; route: string; method: string; n: number; errors: number; max: number }>;
    return groups.map((g) => {
      const d = (db.prepare('select duration_ms from records where start_ms >= ? and start_ms <= ? and project = ? and route = ? and method = ? order by duration_ms').pluck().all(since, until, g.project, g.route, g.method) as number[]);
      const at = (p: number) => Math.round(d[Math.ceil((p / 100) * d.length) - 1]! * 1000) / 1000;
      return { project: g.project, route: g.route, method: g.method, count: g.n, errors: g.errors, p50_ms: at(50), p95_ms: at(95), p99_ms: at(99), max_ms: Math.round(g.max * 1000) / 1000 };
    });
  };
  const got = store.routes(since, until);
  t.equal(got.length, 2 * routes.length * 2, 'every project, route and method with records in the window');
  t.same(got.map(({ project, route, method, count, errors, p50_ms, p95_ms, p99_ms, max_ms }) => ({ project, route, method, count, errors, p50_ms, p95_ms, p99_ms, max_ms })), expect());
  t.equal(got.reduce((n, r) => n + r.count, 0), 1500, 'the window holds the newer half of each project');
  t.same(store.routes(since, until, 'blog').map((r) => r.route + r.method), expect('blog').map((r) => r.route + r.method), 'one project');
  const one = store.routes(since, until, 'shop', { route: '/\uff5e', method: 'POST' });
  t.same(one.map((r) => [r.route, r.method, r.count]), expect('shop').filter((r) => r.route === '/\uff5e' && r.method === 'POST').map((r) => [r.route, r.method, r.count]), 'one route');
  t.same(store.routes(T + 1, T + 2), [], 'an empty window');
});
