import { Readable } from 'node:stream';
import Router from '@koa/router';
import { stringify } from 'csv-stringify';
import type { AdminMiddleware } from '../../http/auth.js';
import { ApiError } from '../../http/api-error.js';
import { oneOf, textParam, timeParam } from '../../http/params.js';
import type { Clock } from '../../model/clock.js';
import { formatLocalIso } from '../../model/time.js';
import type { PluginHistory, StoredPluginSample } from '../../store/plugin-history.js';
import type { Supervisor } from '../../supervisor/supervisor.js';
import { PERIODS } from './performance.js';
import { fields } from './plugin-metrics.js';

/**
 * Monitoring-data export, seed 003's `export_to_json` / `export_to_csv`: `GET /api/v1/performance/export` (admin).
 * Streamed: one plugin's samples at a time, 500 per batch, each batch written before the next is read, so a week for
 * 500 plugins never sits in memory (bench/README.md, "Export").
 */

export interface ExportDeps {
  supervisor: Supervisor;
  history: PluginHistory;
  /** Alerts raised within [startMs, endMs], as `GET alerts` shows them. */
  alertsBetween: (startMs: number, endMs: number) => Array<Record<string, unknown>>;
  requireAdmin: AdminMiddleware;
  clock: Clock;
}

/** The seed's CSV columns: the sorted union of a sample's fields (`plugin_id` in the long layout). */
export const SAMPLE_FIELDS = ['cpu_percent', 'memory_mb', 'memory_percent', 'num_threads', 'pid', 'timestamp'] as const;
export const LONG_FIELDS = ['cpu_percent', 'memory_mb', 'memory_percent', 'num_threads', 'pid', 'plugin_id', 'timestamp'] as const;

/** One exported sample: the fields and rounding of `/plugin/metrics/{id}/history`, plus the pid. */
function row(s: StoredPluginSample) {
  return { ...fields(s), pid: s.pid };
}

/** `YYYYmmdd_HHMMSS` in local time, as the seed's file names. */
export function fileStamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}_${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export function createExportRouter(d: ExportDeps): Router {
  const router = new Router({ prefix: '/api/v1/performance' });

  router.get('/export', d.requireAdmin, (ctx) => {
    const format = oneOf(ctx.query.format, 'format', ['json', 'csv'] as const) ?? 'json';
    const layout = oneOf(ctx.query.layout, 'layout', ['long', 'per-plugin'] as const) ?? (ctx.query.plugin === undefined ? 'long' : 'per-plugin');
    const bom = oneOf(ctx.query.bom, 'bom', ['true', 'false'] as const) === 'true';
    const plugin = textParam(ctx.query.plugin, 'plugin', 64);
    const period = oneOf(ctx.query.period, 'period', [...PERIODS.keys()]);
    const since = timeParam(ctx.query.since, 'since');
    const until = timeParam(ctx.query.until, 'until');
    if (period !== undefined && since !== undefined) throw new ApiError('INVALID_PARAMETER', 'give period or since, not both', { field: 'period' });
    const now = d.clock.now();
    const endMs = until ?? now;
    const startMs = since ?? (period ? endMs - PERIODS.get(period)! : 0);
    if (startMs > endMs) throw new ApiError('INVALID_PARAMETER', 'since must not be after until', { field: 'since' });
    const ids = plugin === undefined ? d.supervisor.list().map((p) => p.id) : [d.supervisor.get(plugin).id];
    if (format === 'csv' && layout === 'per-plugin' && plugin === undefined) {
      throw new ApiError('INVALID_PARAMETER', 'a per-plugin CSV is one file per plugin: name one with plugin=, use layout=long, or `perfwatch export --layout per-plugin` for all of them', { field: 'layout' });
    }
    const stamp = fileStamp(now);
    if (format === 'json') {
      ctx.type = 'application/json; charset=utf-8';
      ctx.attachment(`monitoring_data_${stamp}.json`);
      ctx.body = Readable.from(jsonChunks(d, ids, startMs, endMs, now));
      return;
    }
    const columns = layout === 'long' ? [...LONG_FIELDS] : [...SAMPLE_FIELDS];
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment(layout === 'long' ? `metrics_${stamp}.csv` : `metrics_${ids[0]}_${stamp}.csv`);
    const csv = stringify({ header: true, columns, bom, record_delimiter: 'windows' });
    const rows = Readable.from(csvRows(d.history, ids, startMs, endMs, layout === 'long'));
    rows.on('error', (err) => csv.destroy(err));
    ctx.body = rows.pipe(csv);
  });

  return router;
}

/** The seed's JSON, `{export_time, services: {id: [samples]}, alerts}`, a batch of samples per chunk. */
async function* jsonChunks(d: ExportDeps, ids: readonly string[], startMs: number, endMs: number, now: number): AsyncGenerator<string> {
  yield `{"export_time":${JSON.stringify(formatLocalIso(now))},"services":{`;
  let firstPlugin = true;
  for (const id of ids) {
    yield `${firstPlugin ? '' : ','}${JSON.stringify(id)}:[`;
    firstPlugin = false;
    let first = true;
    for (const batch of d.history.batches(id, startMs, endMs)) {
      let text = '';
      for (const s of batch) {
        text += `${first ? '' : ','}${JSON.stringify(row(s))}`;
        first = false;
      }
      yield text;
    }
    yield ']';
  }
  yield `},"alerts":${JSON.stringify(d.alertsBetween(startMs, endMs))}}\n`;
}

function* csvRows(history: PluginHistory, ids: readonly string[], startMs: number, endMs: number, long: boolean): Generator<Record<string, unknown>> {
  for (const id of ids) {
    for (const batch of history.batches(id, startMs, endMs)) {
      for (const s of batch) yield long ? { ...row(s), plugin_id: id } : row(s);
    }
  }
}
