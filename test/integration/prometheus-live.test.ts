import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { stringify } from 'yaml';
import { buildDashboards, type Panel } from '../../src/dashboards/build.js';
import { M } from '../../src/model/metric-names.js';
import { auth, getJson, nodePlugin, ROOT, startApp, tempDir, waitFor } from '../helpers/index.js';
import { startPeer } from '../helpers/peers.js';

const run = promisify(execFile);
const SCRAPE_S = 1;

/** Panels whose query may rightly return nothing while all is well (no alert firing or pending in Prometheus). */
const MAY_BE_EMPTY = new Set(['Firing in Prometheus', 'Pending in Prometheus']);

/** A multi-value variable as Grafana's Prometheus datasource writes it into a regex matcher (escaped twice: regex, then PromQL string). */
const escapeRegex = (v: string) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');

t.test('a real Prometheus scraping perfwatch: families, rules, dashboards, values', async (t) => {
  // OTLP receiver stub, so the OTLP families and panels have data too
  const otlp = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((r) => otlp.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => otlp.close(() => r())));

  const pw = await startApp(t, {
    collection: { interval: '500ms' },
    otlp: { endpoint: `http://127.0.0.1:${(otlp.address() as AddressInfo).port}`, interval: '1s' },
    // a channel, so the channel counters exist (at 0 until an alert reaches it)
    alerting: { channels: [{ name: 'chat', type: 'slack', url: 'http://127.0.0.1:9/hook' }] },
    // a profiling project, so the per-route request families have samples once a record arrives
    profiling: { projects: [{ name: 'shop', key: 'live-test-project-key-01' }] },
    plugins: [
      // an exec health check, so the health families have samples (and the health panels data)
      nodePlugin('echo', 'idle.cjs', { start_grace: '100ms', health_checks: [{ name: 'alive', type: 'exec', command: ['true'], interval: '500ms' }] }),
      nodePlugin('cache', 'hold-memory.cjs', { env: { MEGABYTES: '16' }, start_grace: '100ms' }),
      nodePlugin('flaky', 'crash.cjs', { backoff_initial: '200ms', max_restarts: 2 }),
    ],
  });
  await fetch(`${pw.url}/api/v1/performance/metrics`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'queue_length', value: 3 }) });
  // calls reported for echo, so the service-metric families have samples (the window gauges for a minute)
  const report = await fetch(`${pw.url}/plugin/echo/report`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ calls: [{ tool: 'search', duration_ms: 12, ok: true }, { tool: 'search', duration_ms: 40, ok: false, error: 'x' }], active_connections: 1, tools: ['search'] }) });
  t.equal(report.status, 200, 'a report for echo');
  const record = await fetch(`${pw.url}/api/v1/performance/batch`, { method: 'POST', headers: { 'x-project-key': 'live-test-project-key-01', 'content-type': 'application/json' }, body: JSON.stringify({ records: [200, 503].map((status) => ({ route: '/api/users/:id', method: 'GET', status, start_time: Date.now() / 1000, duration_ms: 12 })), route_profiles: [{ route: '/api/users/:id', method: 'GET', window_start: Date.now() / 1000 - 5, window_end: Date.now() / 1000, requests: 2, tree: { kind: 'sampled', interval_ms: 10, sample_count: 3, root_frame: { function: 'GET /api/users/:id', time: 0.03, self_time: 0.03, children: [] } } }] }) });
  t.equal(record.status, 200, 'request records for shop, one of them a 5xx (the dashboard\'s 5xx share has a series)');

  const dir = tempDir(t);
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: `${SCRAPE_S}s`, evaluation_interval: `${SCRAPE_S}s` },
      rule_files: [path.join(ROOT, 'alerts/perfwatch.rules.yml')],
      scrape_configs: [{ job_name: 'perfwatch', static_configs: [{ targets: [new URL(pw.url).host] }] }],
    }),
  );
  const check = await run('promtool', ['check', 'config', config]);
  t.match(check.stdout, /SUCCESS/);
  const prom = await startPeer(t, 'prometheus', (data) => [`--config.file=${config}`, `--storage.tsdb.path=${data}`, '--web.listen-address=127.0.0.1:0', '--log.level=info']);
  await waitFor(async () => (await fetch(`${prom.url}/-/ready`)).ok, { timeoutMs: 20_000, what: 'Prometheus ready' });
  const query = async (expr: string, time?: number) => {
    const u = new URL('/api/v1/query', prom.url);
    u.searchParams.set('query', expr);
    if (time !== undefined) u.searchParams.set('time', String(time));
    const r = await getJson(u.toString());
    if (r.status !== 200) throw new Error(`${expr}: ${JSON.stringify(r.body)}`);
    return r.body.data.result as Array<{ metric: Record<string, string>; value: [number, string] }>;
  };

  // ---- (a) up, and every perfwatch family present ----
  await waitFor(async () => (await query('up{job="perfwatch"} == 1')).length === 1, { timeoutMs: 20_000, what: 'up == 1' });
  await waitFor(async () => Number((await query('count_over_time(up{job="perfwatch"}[1m])'))[0]?.value[1] ?? 0) >= 6, { timeoutMs: 20_000, what: 'six scrapes' });
  const names = new Set<string>((await getJson(`${prom.url}/api/v1/label/__name__/values`)).body.data);
  const hasFrequency = /cpu MHz/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  for (const name of Object.values(M)) {
    if (name === M.hostCpuFrequencyHertz && !hasFrequency) continue; // not every (virtual) CPU reports a frequency
    const sample = name === M.collectionCycleDurationSeconds || name === M.pluginCallDurationSeconds || name === M.profilingRequestDurationSeconds ? `${name}_bucket` : name;
    t.ok(names.has(sample), `${sample} scraped`);
  }
  t.ok([...names].some((n) => n.startsWith('perfwatch_custom_')), 'custom family scraped');

  // ---- (b) every rule of alerts/ healthy ----
  const rulesHealthy = await waitFor(
    async () => {
      const groups = (await getJson(`${prom.url}/api/v1/rules`)).body.data.groups as Array<{ file: string; rules: Array<{ name: string; health: string; lastError?: string }> }>;
      const rules = groups.flatMap((g) => g.rules);
      return rules.length === 8 && rules.every((r) => r.health === 'ok') ? rules : null;
    },
    { timeoutMs: 20_000, what: 'all 8 rules evaluated healthy' },
  );
  t.equal(rulesHealthy.length, 8);

  // ---- (c) every dashboard variable and panel query returns data ----
  const labelValues = async (metricSelector: string, label: string) => {
    const u = new URL(`/api/v1/label/${label}/values`, prom.url);
    u.searchParams.set('match[]', metricSelector);
    return (await getJson(u.toString())).body.data as string[];
  };
  for (const [file, dash] of Object.entries(buildDashboards())) {
    const values: Record<string, string> = {};
    for (const v of dash.templating.list) {
      if (v.type !== 'query') continue;
      let q = String(v.definition);
      for (const [k, val] of Object.entries(values)) q = q.replaceAll(`$${k}`, val);
      const m = /^label_values\((.+), (\w+)\)$/.exec(q);
      t.ok(m, `${file}: variable ${v.name} is label_values(metric, label)`);
      const got = await labelValues(m![1]!, m![2]!);
      t.ok(got.length > 0, `${file}: variable ${v.name} = ${q} → ${got.join(', ')}`);
      values[v.name as string] = got.map(escapeRegex).join('|');
    }
    const panels: Panel[] = dash.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
    for (const p of panels) {
      for (const target of p.targets ?? []) {
        let expr = target.expr.replaceAll('$__rate_interval', `${4 * SCRAPE_S}s`).replaceAll('$__range', '5m').replaceAll('$__interval', `${SCRAPE_S}s`);
        for (const [k, val] of Object.entries(values)) expr = expr.replaceAll(`$${k}`, val);
        t.notMatch(expr, /\$/, `${file} / ${p.title}: every variable substituted`);
        const result = await query(expr);
        if (MAY_BE_EMPTY.has(p.title)) t.pass(`${file} / ${p.title}: may be empty (${result.length} series)`);
        else t.ok(result.length > 0, `${file} / ${p.title} [${target.refId}]: ${expr} → ${result.length} series`);
      }
    }
  }

  // ---- (d) what Prometheus scraped equals what /plugin/metrics reported for the same sample ----
  const history = ((await getJson(`${pw.url}/plugin/metrics/cache/history?limit=1000`, auth)).body.history as Array<{ memory_mb: number; timestamp: string }>)
    .map((h) => ({ mb: h.memory_mb, at: Date.parse(h.timestamp) }))
    .sort((x, y) => x.at - y.at);
  t.ok(history.length > 5);
  // a range selector gives the raw samples with their scrape timestamps
  const series = (await query('perfwatch_plugin_resident_memory_bytes{plugin_id="cache"}[8s]'))[0] as unknown as { values: Array<[number, string]> };
  t.ok(series.values.length >= 5, `${series.values.length} scraped samples`);
  let matched = 0;
  for (const [at, raw] of series.values) {
    const mb = Number(raw) / 1048576;
    // the sample a scrape at `at` saw: the last one taken before it (or the one before, if that cycle's render was under way)
    const i = history.findLastIndex((h) => h.at <= at * 1000);
    const candidates = [history[i], history[i - 1]].filter(Boolean).map((h) => h!.mb);
    if (candidates.some((c) => Math.abs(c - mb) <= 0.005 + 1e-9)) matched++;
    else t.fail(`scraped ${mb} MB at ${at} matches none of ${candidates.join(', ')}`);
  }
  t.equal(matched, series.values.length, 'every scraped value equals the JSON API\'s sample within its rounding (2 decimals)');
});
