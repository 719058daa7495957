import { stringify } from 'csv-stringify/sync';
import type { ReportContent } from './content.js';
import { IDLE_PRELUDE, runWorker } from './worker.js';

/**
 * The series section's rows, written in a worker thread: a week of a hundred series is ~200 000 rows, and even
 * written 250 rows per event-loop turn on the main thread it lifted /metrics p99 to 2–3× idle (bench/README.md,
 * "Reports"). The points arrive as one flat Float64Array per series (transferred, not cloned) and the text leaves
 * as UTF-8 bytes (transferred). Quoting as csv-stringify's defaults: a field with a comma, a quote or a line break is
 * quoted, its quotes doubled.
 */
const CSV_WORKER = `${IDLE_PRELUDE}
serve(({ names, data }) => {
  const q = (s) => (/[",\\r\\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s);
  const parts = [];
  names.forEach(([name, unit], n) => {
    const pre = q(name) + ',' + q(unit) + ',';
    const d = data[n];
    for (let i = 0; i < d.length; i += 2) parts.push(pre + new Date(d[i]).toISOString() + ',' + d[i + 1] + '\\n');
  });
  const buf = Buffer.from(parts.join(''));
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  return [{ rows: bytes }, [bytes]];
});
`;

/**
 * A report as one CSV file in sections (docs/reports.md): each starts with a `# <section>` line, then its header row,
 * then its rows, and ends with an empty line. `series` comes first (long format: one row per point); then `summary`,
 * `plugins`, `alerts` and `recommendations` when the report has them. A UTF-8 BOM leads, so spreadsheet programs read
 * the Chinese text as UTF-8.
 */
export async function reportCsv(c: ReportContent): Promise<Buffer> {
  const data = c.series.map((s) => s.data.slice()); // copies: the transfer detaches them
  const { rows } = await runWorker<{ rows: ArrayBuffer }>(CSV_WORKER, null, { names: c.series.map((s) => [s.name, s.unit]), data }, data.map((d) => d.buffer as ArrayBuffer));
  const parts: string[] = [];
  const section = (name: string, header: string[], list: unknown[][]) => {
    parts.push(`# ${name}\n`, stringify([header, ...list]), '\n');
  };
  section('summary', ['metric', 'unit', 'current', 'average', 'maximum', 'minimum', 'trend'], Object.entries(c.summary).map(([k, s]) => [k, s.unit, s.current, s.average, s.maximum, s.minimum, s.trend]));
  section(
    'plugins',
    ['plugin_id', 'status', 'health', 'restarts', 'samples', 'cpu_average', 'cpu_maximum', 'memory_average_mb', 'memory_maximum_mb', 'calls_total', 'calls_failed', 'calls_error_rate', 'avg_response_time'],
    c.plugins.all.map((p) => [p.plugin_id, p.status, p.health, p.restarts, p.samples, p.cpu_average, p.cpu_maximum, p.memory_average_mb, p.memory_maximum_mb, p.calls_total, p.calls_failed, p.calls_error_rate, p.avg_response_time]),
  );
  if (c.alerts) section('alerts', ['id', 'level', 'title', 'message', 'created_at', 'resolved_at', 'seconds'], c.alerts.list.map((a) => [a.id, a.level, a.title, a.message, a.created_at, a.resolved_at, a.seconds]));
  if (c.recommendations) section('recommendations', ['kind', 'severity', 'subject', 'finding', 'evidence'], c.recommendations.map((r) => [r.kind, r.severity, r.subject, r.finding, JSON.stringify(r.evidence)]));
  return Buffer.concat([Buffer.from(`\uFEFF# series\n${stringify([['series', 'unit', 'timestamp', 'value']])}`), Buffer.from(rows), Buffer.from(`\n${parts.join('')}`)]);
}
