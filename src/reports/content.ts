import { HOST_SERIES_BY_NAME } from '../model/legacy-names.js';
import { isoUtc } from '../model/time.js';
import type { HistoryReader } from '../store/history-reader.js';
import { viewColumns, type PluginColumns, type PluginRingView } from '../store/plugin-history.js';
import { recommend, THRESHOLDS, type Recommendation } from './recommendations.js';
import type { ReportRequest } from './store.js';

const CPU_THRESHOLD = THRESHOLDS.cpuPercent;

/** What a report reads, each a function main.ts wires: the local history, the plugins, the alerts and the rules. */
export interface ReportSources {
  history: HistoryReader;
  /** A plugin's sample ring, shared with the build worker (PluginHistory.view); null for one never sampled. */
  pluginRing: (pluginId: string) => PluginRingView | null;
  plugins: () => Array<{ id: string; name: string; state: string; restarts: number; health: string; calls: { total: number; failed: number; avgSeconds: number } | null }>;
  /** Alerts raised within [startMs, endMs], oldest first, as `GET alerts` shows them. */
  alerts: (startMs: number, endMs: number) => Array<Record<string, unknown>>;
  rules: () => Array<Record<string, unknown>>;
  hostname: string;
  /** Yields to the event loop between sections: a report never holds it for long. */
  yieldNow?: () => Promise<void>;
}

/** The seed's short names (`cpu`, `memory`, `disk`, `network`) and the history names they stand for. */
export const METRIC_GROUPS: Readonly<Record<string, readonly string[]>> = {
  cpu: ['cpu_percent'],
  memory: ['memory_percent', 'memory_used', 'memory_available'],
  disk: ['disk_usage_percent', 'disk_read_bytes', 'disk_write_bytes'],
  network: ['network_upload_rate', 'network_download_rate'],
  load: ['load_1m'],
};
const SUMMARY_GAUGES: ReadonlyArray<[string, string, string]> = [
  ['cpu', 'cpu_percent', '%'],
  ['memory', 'memory_percent', '%'],
  ['disk', 'disk_usage_percent', '%'],
  ['load', 'load_1m', ''],
];
/** Points per chart: enough for a line a person reads, few enough for a PDF page. */
const POINTS = 240;

export interface Stat {
  current: number | null;
  average: number | null;
  maximum: number | null;
  minimum: number | null;
  trend: 'increasing' | 'decreasing' | 'stable';
}

export interface PluginRowContent {
  plugin_id: string;
  name: string;
  status: string;
  health: string;
  restarts: number;
  samples: number;
  cpu_average: number | null;
  cpu_maximum: number | null;
  memory_average_mb: number | null;
  memory_maximum_mb: number | null;
  memory_first_mb: number | null;
  memory_last_mb: number | null;
  /** The calls the plugin reported since perfwatch started (docs/service-metrics.md); null when it reports none. */
  calls_total: number | null;
  calls_failed: number | null;
  calls_error_rate: number | null;
  avg_response_time: number | null;
}

/**
 * A series of a report: `data` is flat `[t0, v0, t1, v1, …]` (epoch ms, value) in time order; a value is the bucket
 * mean (a plugin's or a gauge's), null-free. Flat, because a week of a hundred series as `[t, v]` pairs was over a
 * million small arrays per report, whose collection paused the event loop; the JSON report still writes `points`
 * as pairs (`toJSON`).
 */
export interface SeriesContent {
  name: string;
  unit: string;
  data: Float64Array;
  toJSON(): { name: string; unit: string; points: Array<[number, number]> };
}

export function seriesContent(name: string, unit: string, data: Float64Array): SeriesContent {
  return {
    name,
    unit,
    data,
    toJSON() {
      const points: Array<[number, number]> = new Array(data.length / 2);
      for (let i = 0; i < points.length; i++) points[i] = [data[2 * i]!, data[2 * i + 1]!];
      return { name, unit, points };
    },
  };
}

export interface ReportContent {
  report_id: string;
  title: string;
  type: ReportRequest['type'];
  host: string;
  period: { name: string | null; start: string; end: string };
  generated_at: string;
  step_seconds: number;
  summary: Record<string, Stat & { unit: string }>;
  plugins: { top_cpu: PluginRowContent[]; top_memory: PluginRowContent[]; all: PluginRowContent[] };
  alerts: null | {
    total: number;
    by_level: Record<string, number>;
    longest: null | { id: string; title: string; level: string; seconds: number };
    most_frequent: null | { rule_id: string; title: string; count: number };
    list: Array<{ id: string; level: string; title: string; message: string; rule_id: string; created_at: string; resolved_at: string | null; seconds: number }>;
  };
  series: SeriesContent[];
  recommendations: Recommendation[] | null;
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/** The step that gives about POINTS buckets over the span, at least 1 s. */
export function stepFor(spanMs: number): number {
  return Math.max(1000, Math.ceil(spanMs / POINTS / 1000) * 1000);
}

/** Which host series, plugins and custom metrics a report shows: all (summary, detailed) or the listed ones (custom). */
export function selection(req: ReportRequest, known: { plugins: string[]; has: (name: string) => boolean }): { host: string[]; plugins: string[]; custom: string[]; unknown: string[] } {
  if (req.type !== 'custom' || !req.metrics) return { host: [...HOST_SERIES_BY_NAME.keys()].filter((n) => !HOST_SERIES_BY_NAME.get(n)!.counter), plugins: known.plugins, custom: [], unknown: [] };
  const host: string[] = [];
  const plugins: string[] = [];
  const custom: string[] = [];
  const unknown: string[] = [];
  for (const m of req.metrics) {
    if (METRIC_GROUPS[m]) host.push(...METRIC_GROUPS[m]!);
    else if (HOST_SERIES_BY_NAME.has(m)) host.push(m);
    else if (known.plugins.includes(m)) plugins.push(m);
    else if (known.has(m)) custom.push(m);
    else unknown.push(m);
  }
  return { host: [...new Set(host)], plugins, custom, unknown };
}

/**
 * What a report is made from: read from the sources on the main thread by `gatherReport` (the host series already
 * bucketed, each plugin's sample ring as a view of its shared memory), then sent to the build worker (build.ts),
 * where `composeReport` makes the content. Structured-clonable; `transferables` lists its typed arrays' buffers (the
 * plugin rings' memory is shared, not sent).
 */
export interface ReportInput {
  id: string;
  req: ReportRequest;
  nowMs: number;
  step: number;
  hostname: string;
  summary: ReportContent['summary'];
  /** The host (and custom) series of a detailed or custom report, in the order the content shows them. */
  hostSeries: Array<{ name: string; unit: string; data: Float64Array }>;
  /** Disk usage over the period, flat `[t, v, …]`, for the recommendations (null without them). */
  disk: Float64Array | null;
  plugins: Array<{ status: ReturnType<ReportSources['plugins']>[number]; ring: PluginRingView | null }>;
  alerts: Array<Record<string, unknown>> | null;
  rules: Array<Record<string, unknown>>;
}

/** The buffers of a ReportInput's typed arrays: transferred to the worker, not copied. */
export function transferables(input: ReportInput): ArrayBuffer[] {
  return [...input.hostSeries.map((s) => s.data.buffer), ...(input.disk ? [input.disk.buffer] : [])] as ArrayBuffer[];
}

/**
 * Reads what a report needs from the sources, yielding to the event loop between series and plugins. Summary: host
 * KPIs (as `GET summary` computes them); detailed: plus every host gauge as a series; custom: only the listed metrics
 * (host names or the seed's groups, plugin ids, custom metric names). The plugins' samples are not read here: their
 * rings' shared memory goes to the worker, where `composeReport` folds them.
 */
export async function gatherReport(id: string, req: ReportRequest, src: ReportSources, nowMs: number): Promise<ReportInput> {
  const pause = src.yieldNow ?? (() => new Promise<void>((r) => setImmediate(r)));
  const step = stepFor(req.endMs - req.startMs);
  const statuses = src.plugins();
  const sel = selection(req, { plugins: statuses.map((p) => p.id), has: (n) => src.history.has(n) });
  if (sel.unknown.length) throw new ReportInputError(`metrics: ${sel.unknown.map((m) => `"${m.slice(0, 64)}"`).join(', ')} ${sel.unknown.length === 1 ? 'is' : 'are'} not a host metric (or cpu, memory, disk, network, load), a plugin id or a custom metric`);

  // each host series read once, whichever of the KPIs, the series and the disk finding asks first
  const ranges = new Map<string, Awaited<ReturnType<HistoryReader['range']>>[number]>();
  const rangeOf = async (name: string) => ranges.get(name) ?? ranges.set(name, (await src.history.range([name], req.startMs, req.endMs, step))[0]!).get(name)!;

  // host KPIs, one gauge at a time, a yield after each: all of them over a week at once was a 3–7 ms piece of main thread
  const summary: ReportContent['summary'] = {};
  for (const [key, name, unit] of SUMMARY_GAUGES.filter(([, name]) => sel.host.includes(name))) {
    const [g] = (await src.history.summarize({ gauges: [name], counters: [], trend: true }, req.startMs, req.endMs, step)).gauges;
    // `current` of a report is the period's last value (GET summary's is now's): a past period reads the same later
    const last = (await rangeOf(name))[0]?.hundredths.at(-1);
    summary[key] = g && last !== undefined ? { current: last / 100, average: r2(g.average), maximum: r2(g.maximum), minimum: r2(g.minimum), trend: g.trend, unit } : { current: null, average: null, maximum: null, minimum: null, trend: 'stable', unit };
    await pause();
  }

  // host series (detailed: every gauge; custom: the listed ones and the custom metrics), in catalogue order
  const hostSeries: ReportInput['hostSeries'] = [];
  if (req.type !== 'summary') {
    for (const name of [...sel.host, ...sel.custom]) {
      // one series at a time: a week of one is a few ms; all of them at once would hold the event loop
      for (const s of await rangeOf(name)) hostSeries.push({ name: s.name, unit: HOST_SERIES_BY_NAME.get(name)?.unit ?? '', data: flatten(s.times, s.hundredths) });
      await pause();
    }
  }
  let disk: Float64Array | null = null;
  if (req.includeRecommendations) {
    // the disk finding reads the disk over the whole period whatever the report type
    const [d] = await rangeOf('disk_usage_percent');
    disk = d ? flatten(d.times, d.hundredths) : new Float64Array(0);
  }

  const plugins = statuses.filter((s) => sel.plugins.includes(s.id)).map((status) => ({ status, ring: src.pluginRing(status.id) }));
  return { id, req, nowMs, step, hostname: src.hostname, summary, hostSeries, disk, plugins, alerts: req.includeAlerts ? src.alerts(req.startMs, req.endMs) : null, rules: req.includeRecommendations ? src.rules() : [] };
}

/**
 * Makes a report's content from what `gatherReport` read, synchronously (the build worker runs it): top plugins by CPU
 * and memory, restarts, alerts by level with the longest and the most frequent; each plugin's CPU and memory series
 * for a detailed or custom report; the recommendations when asked for.
 */
export function composeReport(input: ReportInput): ReportContent {
  const { req, step } = input;
  const wantPluginSeries = req.type !== 'summary';
  const pluginSeries: SeriesContent[] = [];
  const rows: PluginRowContent[] = [];
  // what the recommendations read, gathered in the same pass: memory by bucket, samples above the CPU threshold
  const memoryOf = new Map<string, Float64Array>();
  const cpuOf = new Map<string, { samples: number; above: number; average: number }>();
  for (const { status: p, ring } of input.plugins) {
    // buckets as flat sums and counts, not a Map of pairs: a week of 50 plugins made a hundred thousand small arrays
    const first = Math.floor(req.startMs / step);
    const nb = Math.floor(req.endMs / step) - first + 1;
    const buckets: PluginBuckets = { first, step, memS: new Float64Array(nb), memC: new Uint32Array(nb), cpuS: wantPluginSeries ? new Float64Array(nb) : null, cpuC: wantPluginSeries ? new Uint32Array(nb) : null };
    const st = new Float64Array(STAT_SLOTS);
    st[S.cpuMax] = -Infinity;
    st[S.memMax] = -Infinity;
    if (ring) for (const batch of viewColumns(ring, req.startMs, req.endMs)) foldPluginBatch(batch, st, buckets);
    const n = st[S.n]!;
    const [cpuSum, cpuMax, memSum, memMax, memFirst, memLast, above] = [st[S.cpuSum]!, st[S.cpuMax]!, st[S.memSum]!, st[S.memMax]!, st[S.memFirst]!, st[S.memLast]!, st[S.above]!];
    const { memS, memC, cpuS, cpuC } = buckets;
    rows.push({
      plugin_id: p.id,
      name: p.name,
      status: p.state,
      health: p.health,
      restarts: p.restarts,
      samples: n,
      cpu_average: n ? r2(cpuSum / n) : null,
      cpu_maximum: n ? r2(cpuMax) : null,
      memory_average_mb: n ? r2(memSum / n) : null,
      memory_maximum_mb: n ? r2(memMax) : null,
      memory_first_mb: n ? r2(memFirst) : null,
      memory_last_mb: n ? r2(memLast) : null,
      calls_total: p.calls?.total ?? null,
      calls_failed: p.calls?.failed ?? null,
      calls_error_rate: p.calls?.total ? Math.round((p.calls.failed / p.calls.total) * 10_000) / 10_000 : null,
      avg_response_time: p.calls?.total ? Math.round(p.calls.avgSeconds * 1e6) / 1e6 : null,
    });
    const averages = (sums: Float64Array, counts: Uint32Array): Float64Array => {
      let filled = 0;
      for (let b = 0; b < nb; b++) if (counts[b]) filled++;
      const out = new Float64Array(filled * 2);
      for (let b = 0, k = 0; b < nb; b++) if (counts[b]) ((out[k++] = (first + b) * step), (out[k++] = r2(sums[b]! / counts[b]!)));
      return out;
    };
    const memory = averages(memS, memC);
    memoryOf.set(p.id, memory);
    cpuOf.set(p.id, { samples: n, above, average: n ? cpuSum / n : 0 });
    if (wantPluginSeries && n) {
      pluginSeries.push(seriesContent(`plugin ${p.id} cpu_percent`, '%', averages(cpuS!, cpuC!)));
      pluginSeries.push(seriesContent(`plugin ${p.id} memory_mb`, 'MB', memory));
    }
  }
  const sampled = rows.filter((r) => r.samples > 0);
  const topCpu = [...sampled].sort((a, b) => b.cpu_average! - a.cpu_average!).slice(0, 10);
  const topMemory = [...sampled].sort((a, b) => b.memory_average_mb! - a.memory_average_mb!).slice(0, 10);
  const alerts = input.alerts ? alertSection(input.alerts, req.endMs) : null;
  const content: ReportContent = {
    report_id: input.id,
    title: `${req.type === 'summary' ? 'Performance summary' : req.type === 'detailed' ? 'Detailed performance report' : 'Custom performance report'} · 性能报告`,
    type: req.type,
    host: input.hostname,
    period: { name: req.period, start: isoUtc(req.startMs), end: isoUtc(req.endMs) },
    generated_at: isoUtc(input.nowMs),
    step_seconds: step / 1000,
    summary: input.summary,
    plugins: { top_cpu: topCpu, top_memory: topMemory, all: rows },
    alerts,
    // host first, then plugins
    series: [...input.hostSeries.map((s) => seriesContent(s.name, s.unit, s.data)), ...pluginSeries],
    recommendations: null,
  };
  if (input.disk) {
    content.recommendations = recommend({ rows, disk: input.disk, alerts: alerts?.list ?? [], rules: input.rules, spanMs: req.endMs - req.startMs, pluginSeries: (id) => memoryOf.get(id) ?? new Float64Array(0), cpuStats: (id) => cpuOf.get(id) ?? { samples: 0, above: 0, average: 0 } });
  }
  return content;
}

/** One plugin's running figures while its samples are folded, in a Float64Array (slots `S`). */
const S = { n: 0, cpuSum: 1, cpuMax: 2, memSum: 3, memMax: 4, memFirst: 5, memLast: 6, above: 7 } as const;
const STAT_SLOTS = 8;

/** A plugin's buckets over the report: sums and counts of memory (MB) and, for its series, CPU. */
interface PluginBuckets {
  first: number;
  step: number;
  memS: Float64Array;
  memC: Uint32Array;
  cpuS: Float64Array | null;
  cpuC: Uint32Array | null;
}

/**
 * Folds one batch of a plugin's samples into its figures and buckets. A plain synchronous function: in the async
 * build, running sums were variables that live across `await`, and each double written to one was a new heap number
 * (half a million samples per report, tens of megabytes of garbage, young-generation pauses of up to 5 ms).
 */
function foldPluginBatch(batch: PluginColumns, st: Float64Array, bk: PluginBuckets): void {
  const { memS, memC, cpuS, cpuC, first, step } = bk;
  const nb = memS.length;
  let n = st[S.n]!;
  let cpuSum = st[S.cpuSum]!;
  let cpuMax = st[S.cpuMax]!;
  let memSum = st[S.memSum]!;
  let memMax = st[S.memMax]!;
  let memLast = st[S.memLast]!;
  let above = st[S.above]!;
  for (let i = 0; i < batch.n; i++) {
    const mb = batch.rssKib[i]! / 1024;
    const cpu = batch.cpu[i]!;
    if (n === 0) st[S.memFirst] = mb;
    n++;
    cpuSum += cpu;
    memSum += mb;
    if (cpu > cpuMax) cpuMax = cpu;
    if (mb > memMax) memMax = mb;
    memLast = mb;
    if (cpu > CPU_THRESHOLD) above++;
    const b = Math.floor(batch.ts[i]! / step) - first;
    if (b < 0 || b >= nb) continue;
    memS[b]! += mb;
    memC[b]!++;
    if (cpuS && cpuC) {
      cpuS[b]! += cpu;
      cpuC[b]!++;
    }
  }
  st[S.n] = n;
  st[S.cpuSum] = cpuSum;
  st[S.cpuMax] = cpuMax;
  st[S.memSum] = memSum;
  st[S.memMax] = memMax;
  st[S.memLast] = memLast;
  st[S.above] = above;
}

/** A ring's times and hundredths as flat `[t, v, …]` in the unit, the gaps (non-finite values) left out. */
function flatten(times: ArrayLike<number>, hundredths: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let k = 0; k < times.length; k++) if (Number.isFinite(hundredths[k])) n++;
  const out = new Float64Array(n * 2);
  for (let k = 0, j = 0; k < times.length; k++) {
    const v = hundredths[k]!;
    if (Number.isFinite(v)) ((out[j++] = times[k]!), (out[j++] = v / 100));
  }
  return out;
}

/** A request the data cannot answer (an unknown metric): the report fails with this message. */
export class ReportInputError extends Error {}

function alertSection(list: Array<Record<string, unknown>>, endMs: number): NonNullable<ReportContent['alerts']> {
  const items = list.map((a) => {
    const created = Date.parse(String(a.created_at));
    const resolved = a.resolved_at ? Date.parse(String(a.resolved_at)) : null;
    return {
      id: String(a.id),
      level: String(a.level),
      title: String(a.title ?? ''),
      message: String(a.message ?? ''),
      rule_id: String(a.rule_id ?? ''),
      created_at: String(a.created_at),
      resolved_at: a.resolved_at ? String(a.resolved_at) : null,
      seconds: Math.max(0, Math.round(((resolved ?? endMs) - created) / 1000)),
    };
  });
  const byLevel: Record<string, number> = { info: 0, warning: 0, error: 0, critical: 0 };
  for (const a of items) byLevel[a.level] = (byLevel[a.level] ?? 0) + 1;
  const longest = items.reduce<(typeof items)[number] | null>((m, a) => (!m || a.seconds > m.seconds ? a : m), null);
  const counts = new Map<string, { title: string; count: number }>();
  for (const a of items) {
    const c = counts.get(a.rule_id) ?? { title: a.title, count: 0 };
    c.count++;
    counts.set(a.rule_id, c);
  }
  const frequent = [...counts].sort((a, b) => b[1].count - a[1].count)[0];
  return {
    total: items.length,
    by_level: byLevel,
    longest: longest ? { id: longest.id, title: longest.title, level: longest.level, seconds: longest.seconds } : null,
    most_frequent: frequent ? { rule_id: frequent[0], title: frequent[1].title, count: frequent[1].count } : null,
    list: items,
  };
}
