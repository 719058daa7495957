import { stringify } from 'csv-stringify/sync';
import type { ReportContent } from './content.js';

/**
 * A report as one CSV file in sections (docs/reports.md): each starts with a `# <section>` line, then its header row,
 * then its rows, and ends with an empty line. `series` comes first (long format: one row per point); then `summary`,
 * `plugins`, `alerts` and `recommendations` when the report has them. A UTF-8 BOM leads, so spreadsheet programs read
 * the Chinese text as UTF-8.
 */
/** Rows of a series written between two yields. */
const ROWS = 250;

export async function reportCsv(c: ReportContent): Promise<string> {
  const parts: string[] = ['\uFEFF'];
  const section = (name: string, header: string[], rows: unknown[][]) => {
    parts.push(`# ${name}\n`, stringify([header, ...rows]), '\n');
  };
  // the series: a week of a hundred is ~200 000 rows, written ROWS at a time with the event loop free in between (a
  // whole series at once was one 10 ms piece of main thread, which a /metrics scrape arriving meanwhile waited for)
  parts.push('# series\n', stringify([['series', 'unit', 'timestamp', 'value']]));
  for (const s of c.series) {
    for (let i = 0; i < s.points.length; i += ROWS) {
      parts.push(stringify(s.points.slice(i, i + ROWS).map(([t, v]) => [s.name, s.unit, new Date(t).toISOString(), v])));
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  parts.push('\n');
  section('summary', ['metric', 'unit', 'current', 'average', 'maximum', 'minimum', 'trend'], Object.entries(c.summary).map(([k, s]) => [k, s.unit, s.current, s.average, s.maximum, s.minimum, s.trend]));
  section(
    'plugins',
    ['plugin_id', 'status', 'health', 'restarts', 'samples', 'cpu_average', 'cpu_maximum', 'memory_average_mb', 'memory_maximum_mb', 'calls_total', 'calls_failed', 'calls_error_rate', 'avg_response_time'],
    c.plugins.all.map((p) => [p.plugin_id, p.status, p.health, p.restarts, p.samples, p.cpu_average, p.cpu_maximum, p.memory_average_mb, p.memory_maximum_mb, p.calls_total, p.calls_failed, p.calls_error_rate, p.avg_response_time]),
  );
  if (c.alerts) section('alerts', ['id', 'level', 'title', 'message', 'created_at', 'resolved_at', 'seconds'], c.alerts.list.map((a) => [a.id, a.level, a.title, a.message, a.created_at, a.resolved_at, a.seconds]));
  if (c.recommendations) section('recommendations', ['kind', 'severity', 'subject', 'finding', 'evidence'], c.recommendations.map((r) => [r.kind, r.severity, r.subject, r.finding, JSON.stringify(r.evidence)]));
  return parts.join('');
}
