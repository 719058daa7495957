import Router from '@koa/router';
import { ApiError } from '../../http/api-error.js';
import { successEnvelope } from '../../http/envelope.js';
import { intParam, listParam, oneOf, textParam } from '../../http/params.js';
import type { Clock } from '../../model/clock.js';
import type { HostSample, SystemInfo } from '../../model/host.js';
import { HOST_SERIES_BY_NAME } from '../../model/legacy-names.js';
import { isoUtc } from '../../model/time.js';
import { round } from '../../model/units.js';
import type { CounterSummary, HistoryReader, HistoryReaders } from '../../store/history-reader.js';
import { historyJson, type HistoryColumn } from './history-json.js';

export interface PerformanceDeps {
  history: HistoryReaders;
  latestHost: () => HostSample | null;
  systemInfo: () => Promise<SystemInfo>;
  /** Alerts raised within the period, for `summary`: total and per level. */
  alertCounts: (periodMs: number) => { total: number; critical: number; warning: number };
  clock: Clock;
}

const DEFAULT_HISTORY = ['cpu_percent', 'memory_percent', 'disk_usage_percent', 'network_bytes_sent', 'network_bytes_recv'];
const DAY = 86_400_000;
/** Summary (and export) periods; summaries longer than the local rings hold need history.backend: prometheus. */
export const PERIODS: ReadonlyMap<string, number> = new Map([['1h', 3_600_000], ['6h', 21_600_000], ['24h', DAY], ['7d', 7 * DAY], ['30d', 30 * DAY], ['90d', 90 * DAY]]);
/** Response header naming who answered a history read: local, prometheus or local-fallback (docs/fleet.md). */
export const SOURCE_HEADER = 'X-Perfwatch-History-Source';

/** The reader of one request: `host=` asks for another agent's history (through the backend). */
export function readerFor(history: HistoryReaders, query: Record<string, unknown>): HistoryReader {
  return history.forRequest(textParam(query.host, 'host', 256));
}
const SUMMARY_METRICS = ['cpu', 'memory', 'disk', 'network'] as const;
/** Placeholder for pre-serialized history rows inside an envelope (summary holds only numbers: it cannot occur). */
const ROWS_SLOT = '@@perfwatch-rows@@';
/**
 * Most values one history answer may hold (series × buckets): ~5 MB of JSON and ~50 ms of work. Reads are open, so
 * without a cap one request over many tagged series could hold the event loop for seconds and allocate hundreds of MB.
 */
export const MAX_HISTORY_VALUES = 200_000;

/** The read half of the performance API, as shared/seeds/001 fixes it: open to every client. */
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
      uptime: Math.floor(h ? d.clock.now() / 1000 - h.bootTimeSeconds : 0),
      load_average: h ? [h.load.load1, h.load.load5, h.load.load15] : [0, 0, 0],
    });
  });

  router.get('/history', async (ctx) => {
    const reader = readerFor(d.history, ctx.query);
    const minutes = intParam(ctx.query.minutes, 'minutes', 60, 1, Math.floor(d.history.maxRangeMs / 60_000));
    const interval = intParam(ctx.query.interval, 'interval', 60, 1, 86_400);
    const names = listParam(ctx.query.metrics, 'metrics') ?? DEFAULT_HISTORY;
    const now = d.clock.now();
    const start = now - minutes * 60_000;
    const stepMs = interval * 1000;
    const buckets = Math.ceil((minutes * 60) / interval) + 1;
    const tooMany = (series: number) =>
      new ApiError('INVALID_PARAMETER', `the answer would hold more than ${MAX_HISTORY_VALUES} values (${series}+ series × ${buckets} buckets): ask for fewer metrics, fewer minutes or a longer interval`, { field: 'metrics' });
    if (names.length * buckets > MAX_HISTORY_VALUES) throw tooMany(names.length);
    const [found, stats] = await Promise.all([
      reader.range(names, start, now, stepMs),
      reader.summarize({ gauges: ['cpu_percent', 'memory_percent'], counters: [], trend: false }, start, now, stepMs),
    ]);
    // one column per series, one row per time bucket; the JSON is written as bytes (history-json.ts): point objects
    // per bucket, row objects and strings per value were most of the request
    const columns: HistoryColumn[] = [];
    names.forEach((name, i) => {
      const series = found[i]!;
      if (!series.length && !reader.has(name)) throw new ApiError('METRIC_NOT_FOUND', `no metric named "${name.slice(0, 200)}" (host metrics: ${[...HOST_SERIES_BY_NAME.keys()].join(', ')}; or a custom metric's name)`, { field: 'metrics' });
      for (const s of series) columns.push({ field: JSON.stringify(s.name), times: s.times, hundredths: s.hundredths });
    });
    if (columns.length * buckets > MAX_HISTORY_VALUES) throw tooMany(columns.length);
    const [cpu, mem] = stats.gauges;
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
    ctx.set(SOURCE_HEADER, reader.source);
    ctx.type = 'application/json';
    ctx.body = historyJson(head, tail, columns);
  });

  router.get('/summary', async (ctx) => {
    const reader = readerFor(d.history, ctx.query);
    const periods = [...PERIODS].filter(([, ms]) => ms <= d.history.maxRangeMs).map(([p]) => p);
    if (typeof ctx.query.period === 'string' && PERIODS.has(ctx.query.period) && !periods.includes(ctx.query.period)) {
      throw new ApiError('INVALID_PARAMETER', `period ${ctx.query.period} is longer than this perfwatch keeps (${periods.join(', ')}); longer periods need history.backend: prometheus`, { field: 'period' });
    }
    const period = oneOf(ctx.query.period, 'period', periods) ?? '1h';
    const wanted = listParam(ctx.query.metrics, 'metrics') ?? SUMMARY_METRICS;
    for (const w of wanted) {
      if (!(SUMMARY_METRICS as readonly string[]).includes(w)) throw new ApiError('INVALID_PARAMETER', `metrics: "${w.slice(0, 40)}" is not one of ${SUMMARY_METRICS.join(', ')}`, { field: 'metrics' });
    }
    const spanMs = PERIODS.get(period)!;
    const now = d.clock.now();
    const start = now - spanMs;
    // ~360 points per period: fine enough for the trend, and the query picks the tier that covers the span
    const step = Math.max(1000, Math.floor(spanMs / 360));
    const gaugeNames = ([['cpu', 'cpu_percent'], ['memory', 'memory_percent'], ['disk', 'disk_usage_percent']] as const).filter(([m]) => wanted.includes(m));
    const network = wanted.includes('network');
    const { gauges, counters } = await reader.summarize({ gauges: gaugeNames.map(([, n]) => n), counters: network ? ['network_bytes_sent', 'network_bytes_recv'] : [], trend: true }, start, now, step);
    const data: Record<string, unknown> = { period };
    gaugeNames.forEach(([m], i) => {
      const g = gauges[i];
      data[m] = {
        current: round(g?.current ?? 0, 1),
        average: round(g?.average ?? 0, 1),
        maximum: round(g?.maximum ?? 0, 1),
        minimum: round(g?.minimum ?? 0, 1),
        trend: g?.trend ?? 'stable',
      };
    });
    if (network) {
      const [up, down] = counters as [CounterSummary, CounterSummary];
      data.network = { throughput_upload: up.throughput, throughput_download: down.throughput, total_upload: up.total, total_download: down.total };
    }
    data.alerts = d.alertCounts(spanMs);
    ctx.set(SOURCE_HEADER, reader.source);
    ctx.body = ok(data);
  });

  return router;
}
