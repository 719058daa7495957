import { stringify } from 'csv-stringify/sync';
import type { ReportContent } from './content.js';

/** A field as csv-stringify quotes it by default: with a comma, a quote or a line break it is quoted, its quotes doubled. */
const q = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * A report as one CSV file in sections (docs/reports.md): each starts with a `# <section>` line, then its header row,
 * then its rows, and ends with an empty line. `series` comes first (long format: one row per point); then `summary`,
 * `plugins`, `alerts` and `recommendations` when the report has them. A UTF-8 BOM leads, so spreadsheet programs read
 * the Chinese text as UTF-8. Made in the build worker (build.ts): a week of a hundred series is tens of thousands of rows.
 */
export function reportCsv(c: ReportContent): Buffer {
  const rows: string[] = [];
  for (const { name, unit, data } of c.series) {
    const pre = `${q(name)},${q(unit)},`;
    for (let i = 0; i < data.length; i += 2) rows.push(`${pre}${new Date(data[i]!).toISOString()},${data[i + 1]}\n`);
  }
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
  return Buffer.from(`\uFEFF# series\n${stringify([['series', 'unit', 'timestamp', 'value']])}${rows.join('')}\n${parts.join('')}`);
}
