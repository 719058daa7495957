import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { HostSample } from '../../collectors/host/host-collector.js';
import type { SystemInfo } from '../../collectors/host/system-info.js';
import type { Clock } from '../../model/clock.js';
import { isoUtc } from '../../model/time.js';
import { round } from '../../model/units.js';
import { ApiError } from '../../http/api-error.js';
import { readBody, readJson } from '../../http/body.js';
import { SampleError, validateSample } from '../../store/custom-metric.js';
import { SeriesLimitError, type CustomSeries } from '../../store/custom-series.js';
import type { SeriesStore } from '../../store/series-store.js';
import type { Point, TieredSeries } from '../../store/tiered-series.js';
import type { BatchRejection } from './batch-parse.js';
import type { BatchParser } from './batch-parser.js';
import { historyJson, type HistoryColumn } from './history-json.js';
import { HOST_SERIES_BY_NAME, hostKey } from './host-series.js';

export interface PerformanceDeps {
  store: SeriesStore;
  custom: CustomSeries;
  latestHost: () => HostSample | null;
  systemInfo: () => Promise<SystemInfo>;
  /** Alerts raised within the period, for `summary`: total and per level. */
  alertCounts: (periodMs: number) => { total: number; critical: number; warning: number };
  /** Admin check for writes, or a pass-through when `auth.open_writes` is set. */
  writeAuth: Middleware;
  clock: Clock;
  bodyLimit: number;
  maxBatch: number;
  /** Parses and validates batch bodies off the event loop. */
  batches: BatchParser;
  retentionDays: number;
}

/** `{"status": "success", "data": …, "timestamp": …}`, the envelope of every `/api/v1/performance` answer. */
export const successEnvelope = (clock: Clock) => (data: unknown) => ({ status: 'success', data, timestamp: isoUtc(clock.now()) });
const DEFAULT_HISTORY = ['cpu_percent', 'memory_percent', 'disk_usage_percent', 'network_bytes_sent', 'network_bytes_recv'];
const PERIODS: Record<string, number> = { '1h': 3_600_000, '6h': 21_600_000, '24h': 86_400_000, '7d': 604_800_000 };
/** `trend` is `stable` while the least-squares line over the period moves less than this many points (percent). */
export const TREND_THRESHOLD = 5;
/** Placeholder for pre-serialized history rows inside an envelope (summary holds only numbers: it cannot occur). */
const ROWS_SLOT = '@@perfwatch-rows@@';
/** Samples of a batch ingested between two yields to the event loop (~0.2 ms of work). */
const INGEST_SLICE = 200;

export function intParam(raw: unknown, name: string, def: number, min: number, max: number): number {
  if (raw === undefined) return def;
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ApiError('INVALID_PARAMETER', `${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`, { field: name });
  }
  return Number(raw);
}

function listParam(raw: unknown, name: string): string[] | null {
  if (raw === undefined) return null;
  if (typeof raw !== 'string') throw new ApiError('INVALID_PARAMETER', `${name} must be given once, as a comma-separated list`, { field: name });
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length || items.length > 50) throw new ApiError('INVALID_PARAMETER', `${name} must list 1 to 50 names`, { field: name });
  return items;
}

/** Least-squares slope of avg over time, scaled to the change it predicts over `spanMs`. */
export function trendOf(points: readonly Point[], spanMs: number): 'increasing' | 'decreasing' | 'stable' {
  if (points.length < 2) return 'stable';
  const n = points.length;
  const t0 = points[0]!.t;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    const x = p.t - t0;
    sx += x;
    sy += p.avg;
    sxx += x * x;
    sxy += x * p.avg;
  }
  const den = n * sxx - sx * sx;
  if (den === 0) return 'stable';
  const change = ((n * sxy - sx * sy) / den) * spanMs;
  return Math.abs(change) < TREND_THRESHOLD ? 'stable' : change > 0 ? 'increasing' : 'decreasing';
}

/** Mean, max and min over points, weighting each by its sample count. */
export function statsOf(points: readonly Point[]): { average: number; maximum: number; minimum: number } | null {
  if (!points.length) return null;
  let sum = 0;
  let count = 0;
  let max = -Infinity;
  let min = Infinity;
  for (const p of points) {
    sum += p.avg * p.count;
    count += p.count;
    if (p.max > max) max = p.max;
    if (p.min < min) min = p.min;
  }
  return { average: sum / count, maximum: max, minimum: min };
}

/** Performance API, as shared/seeds/001 fixes it: reads are open, writes take the admin token (or `auth.open_writes`). */
export function createPerformanceRouter(d: PerformanceDeps): Router {
  const router = new Router({ prefix: '/api/v1/performance' });
  const ok = successEnvelope(d.clock);

  router.get('/stats', (ctx) => {
    const h = d.latestHost();
    if (!h) throw new ApiError('NOT_READY', 'the host collector has not produced a first sample yet');
    const fs = h.filesystems[0];
    ctx.body = ok({
      cpu: { percent: round(h.cpu.percent, 1), cores: h.cpu.cores, frequency: Math.round(h.cpu.frequencyMhz ?? 0) },
      memory: { total: h.memory.total, available: h.memory.available, used: h.memory.used, percent: round(h.memory.percent, 1), cached: h.memory.cached },
      disk: {
        total: fs?.sizeBytes ?? 0,
        free: fs?.availBytes ?? 0,
        used: fs?.usedBytes ?? 0,
        percent: round(fs?.percent ?? 0, 1),
        read_bytes: h.diskReadBytes,
        write_bytes: h.diskWrittenBytes,
      },
      network: { bytes_sent: h.network.bytesSent, bytes_recv: h.network.bytesRecv, packets_sent: h.network.packetsSent, packets_recv: h.network.packetsRecv },
      processes: { ...h.processes },
      connections: { ...h.connections },
      timestamp: isoUtc(h.timestampMs),
    });
  });

  router.get('/system', async (ctx) => {
    let info: SystemInfo;
    try {
      info = await d.systemInfo();
    } catch (err) {
      throw new ApiError('SYSTEM_INFO_UNAVAILABLE', `system information is not available: ${(err as Error).message}`);
    }
    const h = d.latestHost();
    const frequency = info.cpu_info.frequency || Math.round(h?.cpu.frequencyMhz ?? 0);
    ctx.body = ok({
      ...info,
      cpu_info: { ...info.cpu_info, frequency },
      memory_info: h ? { total: h.memory.total, available: h.memory.available, swap_total: h.memory.swapTotal, swap_available: h.memory.swapFree } : info.memory_info,
      uptime: Math.floor(h ? Date.now() / 1000 - h.bootTimeSeconds : 0),
      load_average: h ? [h.load.load1, h.load.load5, h.load.load15] : [0, 0, 0],
    });
  });

  /** Every stored series a history name refers to: the host series, or each tag set of a custom metric. */
  const seriesFor = (name: string): Array<{ field: string; data: TieredSeries; counter: boolean }> => {
    const host = HOST_SERIES_BY_NAME.get(name);
    if (host) {
      const s = d.store.get(hostKey(name));
      return s ? [{ field: name, data: s.data, counter: !!host.counter }] : [];
    }
    const out = [];
    for (const [, s] of d.store.entries()) {
      if (s.meta.kind !== 'custom' || s.meta.name !== name) continue;
      const tags = Object.entries(s.meta.tags ?? {}).sort(([a], [b]) => a.localeCompare(b));
      out.push({ field: tags.length ? `${name}{${tags.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}` : name, data: s.data, counter: false });
    }
    return out;
  };

  router.get('/history', (ctx) => {
    const minutes = intParam(ctx.query.minutes, 'minutes', 60, 1, d.retentionDays * 1440);
    const interval = intParam(ctx.query.interval, 'interval', 60, 1, 86_400);
    const names = listParam(ctx.query.metrics, 'metrics') ?? DEFAULT_HISTORY;
    const now = d.clock.now();
    const start = now - minutes * 60_000;
    const stepMs = interval * 1000;
    // one column per series (its bucket times and values in plain arrays), one row per time bucket; the JSON is written
    // as bytes (history-json.ts): point objects per bucket, row objects and strings per value were most of the request
    const columns: HistoryColumn[] = [];
    for (const name of names) {
      const series = seriesFor(name);
      if (!series.length && !HOST_SERIES_BY_NAME.has(name)) throw new ApiError('METRIC_NOT_FOUND', `no metric named "${name}" (host metrics: ${[...HOST_SERIES_BY_NAME.keys()].join(', ')}; or a custom metric's name)`);
      for (const s of series) {
        const times: number[] = [];
        const hundredths: number[] = []; // the document's 2-decimal values
        s.data.forEachBucket(start, now, stepMs, (t, avg, _min, _max, last) => {
          times.push(t);
          hundredths.push(Math.round((s.counter ? last : avg) * 100));
        });
        columns.push({ field: JSON.stringify(s.field), times, hundredths });
      }
    }
    const summaryOf = (name: string) => {
      const pts = d.store.get(hostKey(name))?.data.query(start, now, stepMs);
      return pts ? statsOf(pts) : null;
    };
    const cpu = summaryOf('cpu_percent');
    const mem = summaryOf('memory_percent');
    const summary = {
      avg_cpu: round(cpu?.average ?? 0, 1),
      max_cpu: round(cpu?.maximum ?? 0, 1),
      min_cpu: round(cpu?.minimum ?? 0, 1),
      avg_memory: round(mem?.average ?? 0, 1),
      max_memory: round(mem?.maximum ?? 0, 1),
      min_memory: round(mem?.minimum ?? 0, 1),
    };
    // the envelope comes from `ok` like every answer's; the rows are written where its placeholder string stands
    const [head, tail] = JSON.stringify(ok({ metrics: ROWS_SLOT, summary })).split(`"${ROWS_SLOT}"`) as [string, string];
    ctx.type = 'application/json';
    ctx.body = historyJson(head, tail, columns);
  });

  router.get('/summary', (ctx) => {
    const period = ctx.query.period ?? '1h';
    if (typeof period !== 'string' || !(period in PERIODS)) {
      throw new ApiError('INVALID_PARAMETER', `period must be one of 1h, 6h, 24h, 7d (got ${JSON.stringify(period)})`, { field: 'period' });
    }
    const wanted = listParam(ctx.query.metrics, 'metrics') ?? ['cpu', 'memory', 'disk', 'network'];
    for (const w of wanted) {
      if (!['cpu', 'memory', 'disk', 'network'].includes(w)) throw new ApiError('INVALID_PARAMETER', `metrics: "${w}" is not one of cpu, memory, disk, network`, { field: 'metrics' });
    }
    const spanMs = PERIODS[period]!;
    const now = d.clock.now();
    const start = now - spanMs;
    // ~360 points per period: fine enough for the trend, and the query picks the tier that covers the span
    const step = Math.max(1000, Math.floor(spanMs / 360));
    const data: Record<string, unknown> = { period };
    const gauge = (name: string) => {
      const s = d.store.get(hostKey(name));
      const points = s ? s.data.query(start, now, step) : [];
      const st = statsOf(points);
      const cur = s?.data.latest()?.v ?? 0;
      return {
        current: round(cur, 1),
        average: round(st?.average ?? 0, 1),
        maximum: round(st?.maximum ?? 0, 1),
        minimum: round(st?.minimum ?? 0, 1),
        trend: trendOf(points, spanMs),
      };
    };
    if (wanted.includes('cpu')) data.cpu = gauge('cpu_percent');
    if (wanted.includes('memory')) data.memory = gauge('memory_percent');
    if (wanted.includes('disk')) data.disk = gauge('disk_usage_percent');
    if (wanted.includes('network')) {
      const through = (name: string) => {
        const s = d.store.get(hostKey(name));
        const pts = s ? s.data.query(start, now, step) : [];
        if (pts.length < 2) return 0;
        const a = pts[0]!;
        const b = pts.at(-1)!;
        return b.last >= a.last && b.t > a.t ? Math.round((b.last - a.last) / ((b.t - a.t) / 1000)) : 0;
      };
      const h = d.latestHost();
      data.network = {
        throughput_upload: through('network_bytes_sent'),
        throughput_download: through('network_bytes_recv'),
        total_upload: h?.network.bytesSent ?? 0,
        total_download: h?.network.bytesRecv ?? 0,
      };
    }
    data.alerts = d.alertCounts(spanMs);
    ctx.body = ok(data);
  });

  router.post('/metrics', d.writeAuth, async (ctx) => {
    const body = await readJson(ctx, d.bodyLimit);
    let sample;
    try {
      sample = validateSample(body);
    } catch (err) {
      if (err instanceof SampleError) throw new ApiError(err.code, err.message, { field: err.field });
      throw err;
    }
    const now = d.clock.now();
    try {
      const id = d.custom.ingest(sample, now);
      ctx.body = ok({ metric_id: id, created_at: isoUtc(now) });
    } catch (err) {
      if (err instanceof SampleError) throw new ApiError(err.code, err.message, { field: err.field });
      if (err instanceof SeriesLimitError) throw new ApiError('SERIES_LIMIT_EXCEEDED', err.message);
      throw err;
    }
  });

  router.post('/metrics/batch', d.writeAuth, async (ctx) => {
    // parsing and validation run on the batch worker; this thread only appends the values
    const batch = await d.batches.parse(await readBody(ctx, d.bodyLimit), d.maxBatch);
    if ('fatal' in batch) throw new ApiError(batch.fatal.code, batch.fatal.message);
    const now = d.clock.now();
    const { routes, count, ids: routeIds, values, indices } = batch;
    const ids: string[] = [];
    const errors: BatchRejection[] = [];
    for (let j = 0; j < count; j++) {
      // a large batch yields to the event loop every INGEST_SLICE samples, so scrapes and other requests are answered
      // between its slices rather than after the whole batch (and the batches of other clients)
      if (j && j % INGEST_SLICE === 0) await new Promise(setImmediate);
      const route = routeIds[j]!;
      const handle = routes.handles[route];
      let id = handle ? d.custom.append(handle, values[j]!, now) : null;
      if (id === null) {
        // first sample of this route, or its series was evicted since: resolve (create) it
        try {
          const resolved = d.custom.resolve(routes.samples[route]!, now);
          routes.handles[route] = resolved;
          id = d.custom.append(resolved, values[j]!, now)!;
        } catch (err) {
          const index = indices[j]!;
          // the series' shape conflicts with another (`tags: …`, `name: …`): named like the worker's errors, by index
          if (err instanceof SampleError) errors.push({ index, code: err.code, field: `metrics[${index}].${err.field}`, message: `metrics[${index}].${err.message}` });
          else if (err instanceof SeriesLimitError) errors.push({ index, code: 'SERIES_LIMIT_EXCEEDED', field: `metrics[${index}]`, message: err.message });
          else throw err;
          continue;
        }
      }
      ids.push(id);
    }
    // samples rejected here and those the worker rejected, by index
    const all = errors.length ? [...batch.errors, ...errors].sort((a, b) => a.index - b.index) : batch.errors;
    ctx.body = ok({ accepted: ids.length, rejected: all.length, metric_ids: ids, errors: all });
  });

  return router;
}
