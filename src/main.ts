import { hostname } from 'node:os';
import path from 'node:path';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { pino, type Logger } from 'pino';
import { createAlerting } from './alerting/index.js';
import type { AlertService } from './alerting/service.js';
import { createPluginControlRouter } from './api/plugin-control.js';
import { createPluginHealthRouter } from './api/plugin-health.js';
import { createPluginReportRouter } from './api/plugin-report.js';
import { createCollectors } from './collectors/index.js';
import { createConsoleRouter } from './console/index.js';
import { Scheduler } from './collectors/scheduler.js';
import { readSystemConstants } from './collectors/system-constants.js';
import type { Config } from './config/load.js';
import { createHttpApp, type RouteFamily } from './http/app.js';
import { createAdminAuth, createSameOriginWrites, resolveAdminToken, type AdminMiddleware } from './http/auth.js';
import { createHealthRouter } from './http/health.js';
import { HttpServer } from './http/server.js';
import { createIngest } from './ingest/index.js';
import type { AppRequestListener } from './model/app-requests.js';
import { systemClock, type Clock } from './model/clock.js';
import { StartupError } from './model/errors.js';
import type { CheckView, HealthView, PluginHealthStatus, Snapshot } from './model/plugin.js';
import { isoUtc } from './model/time.js';
import { startAll } from './pipeline/lifecycle.js';
import { createProfiling } from './profiling/index.js';
import { createReports } from './reports/index.js';
import { Pipeline } from './pipeline/pipeline.js';
import { createExportRouter } from './sinks/compat/export.js';
import { createPerformanceRouter } from './sinks/compat/performance.js';
import { createPluginMetricsRouter } from './sinks/compat/plugin-metrics.js';
import { createPluginsRouter } from './sinks/compat/plugins.js';
import { createOtlp } from './sinks/otlp/index.js';
import type { OtlpSink } from './sinks/otlp/otlp-sink.js';
import type { Exposition } from './sinks/prometheus/exposition.js';
import { createPrometheus } from './sinks/prometheus/index.js';
import { createWebSocket } from './sinks/ws/index.js';
import { createHistory } from './store/history.js';
import { createHistoryBackend } from './store/history-backend.js';
import type { PluginHistory } from './store/plugin-history.js';
import type { SeriesStore } from './store/series-store.js';
import { ServiceMetrics } from './store/service-metrics.js';
import { createSupervision } from './supervisor/index.js';
import type { Supervisor } from './supervisor/supervisor.js';
import { VERSION } from './version.js';

export { StartupError };

export interface PerfwatchOptions {
  config: Config;
  logger?: Logger;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
}

/** A started perfwatch: its URL and the parts tests and the CLI need. */
export interface Perfwatch {
  url: string;
  adminToken: string;
  supervisor: Supervisor;
  history: PluginHistory;
  exposition: Exposition;
  routers: Router[];
  requireAdmin: AdminMiddleware;
  store: SeriesStore;
  alerts: AlertService;
  /** The OTLP push, when configured. */
  otlp: OtlpSink | null;
  /** Resolves after the next collection tick has been applied to every sink. */
  nextTick(): Promise<Snapshot>;
  /** Stops every part in reverse start order (plugins each with its stop_timeout). Idempotent; never throws. */
  stop(): Promise<void>;
}

/**
 * The composition root: builds each feature from its config slice, lists the parts in start order and the sinks in
 * tick order, and starts them. The only file that knows every part; docs/architecture.md draws the flow.
 */
export async function startPerfwatch(opts: PerfwatchOptions): Promise<Perfwatch> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? pino({ level: config.log.level, base: { pid: process.pid } });
  const log = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => logger[level](fields, msg);

  const token = await resolveAdminToken({ env, tokenFile: config.auth.admin_token_file, storagePath: config.storage.path });
  logger.info({ source: token.source }, 'admin token loaded');
  const requireAdmin = createAdminAuth(token.token);
  const writeAuth: Middleware = config.auth.open_writes ? createSameOriginWrites(requireAdmin) : requireAdmin;
  const constants = await readSystemConstants();

  const history = createHistory({
    rawCapacity: Math.ceil(config.retention.raw / config.collection.interval),
    pluginSamples: config.retention.plugin_samples,
    retentionDays: config.retention.metrics_retention_days,
    memTotalBytes: constants.memTotalBytes,
    checkpointFile: path.join(config.storage.path, 'history.ckpt'),
    checkpointIntervalMs: config.retention.checkpoint_interval,
    log,
  });
  const prometheus = createPrometheus({ version: VERSION, ringBytes: () => history.memoryBytes });
  const { registry, exposition } = prometheus;
  const services = new ServiceMetrics({ maxTools: config.service_metrics.max_tools, windowMs: config.service_metrics.window, clock });
  const supervision = createSupervision({ config, clock, log, agentUrl: () => http?.url ?? '', serviceOf: (id) => services.snapshot(id), onLogDrop: (bytes) => exposition.dropped.inc({ sink: 'plugin_logs', reason: 'backpressure' }, bytes) });
  const { supervisor } = supervision;
  let http: HttpServer | null = null;
  const historyBackend = createHistoryBackend({
    backend: config.history.backend,
    prometheus: config.history.prometheus,
    local: history.reader,
    retentionDays: config.retention.metrics_retention_days,
    hostname: hostname(),
    port: () => (http ? Number(new URL(http.url).port) : config.server.port),
    collectionIntervalMs: config.collection.interval,
    mountpoint: config.host.mountpoints[0] ?? '/',
    registry,
    env,
    log,
  });
  const collectors = createCollectors({ config, constants, clock, log });
  const ingest = createIngest({ config: config.custom_metrics, bodyLimit: config.server.body_limit, store: history.store, exporter: prometheus.customFamilies, registry, clock, writeAuth, log });
  const ws = createWebSocket({ config: config.websocket, server: () => http!.server, registry, onDrop: (reason) => exposition.dropped.inc({ sink: 'websocket', reason }) });
  const alerting = await createAlerting({ config, env, registry, clock, writeAuth, topProcesses: collectors.topProcesses, url: () => http?.url ?? '', broadcast: ws.broadcast, log });
  // request profiling hands its accepted requests to the OTLP push (made first, so it subscribes here)
  const appRequestListeners: AppRequestListener[] = [];
  const otlp = createOtlp({ config: config.otlp, env, version: VERSION, registry, onDropped: (n) => exposition.dropped.inc({ sink: 'otlp', reason: 'export_failed' }, n), custom: ingest.custom, onCalls: (fn) => services.onCalls(fn), onAppRequests: (fn) => appRequestListeners.push(fn), log });
  supervisor.on('change', (id: string, state: string, from: string) => {
    logger.debug({ plugin_id: id, state, from }, 'plugin state');
    ws.broadcast('system_change', { change: { kind: 'plugin_state', plugin_id: id, status: state, previous: from }, timestamp: isoUtc(clock.now()) });
  });
  supervisor.on('health', (id: string, view: HealthView, previous: PluginHealthStatus, check: CheckView) => {
    if (view.status !== previous) logger.info({ plugin_id: id, health: view.status, previous, check: check.name, error: check.last?.error }, 'plugin health');
    ws.broadcast('system_change', {
      change: { kind: 'plugin_health', plugin_id: id, health: view.status, previous, check: { name: check.name, role: check.role, status: check.status, error: check.last?.error ?? null } },
      timestamp: isoUtc(clock.now()),
    });
  });

  const pipeline = new Pipeline({
    clock,
    running: () => supervisor.running(),
    statuses: supervision.statuses,
    plugins: collectors.plugins,
    host: collectors.host,
    record: (s) => {
      history.record(s);
      ingest.custom.sweep(s.timestampMs);
    },
    // tick order: the alert sink reads the registry the prometheus sink filled; the exposition renders last
    sinks: [prometheus.sinks.update, ...(otlp ? [otlp.sink] : []), alerting.sink, ws.sink, prometheus.sinks.render],
    onError: (where, err) => logger.error({ err }, `${where} failed`),
  });
  const scheduler = new Scheduler({ intervalMs: config.collection.interval, clock, task: async () => void (await pipeline.tick()), onError: (err) => logger.error({ err }, 'collection cycle failed') });

  // every kept alert (alerting.history_limit bounds them) raised within the range, oldest first
  const alertsBetween = (startMs: number, endMs: number) =>
    alerting.service
      .listAlerts({ includeResolved: true, limit: config.alerting.history_limit })
      .alerts.filter((a) => {
        const t = Date.parse(String(a.created_at));
        return t >= startMs && t <= endMs;
      })
      .reverse();
  const profiling = createProfiling({ config, registry, clock, requireAdmin, log, env, onRequests: (project, requests, cpu) => appRequestListeners.forEach((fn) => fn(project, requests, cpu)) });
  const reports = createReports({
    config,
    env,
    clock,
    writeAuth,
    requireAdmin,
    log,
    channel: (name) => alerting.channel(name),
    publicUrl: () => config.alerting.external_url ?? http?.url ?? '',
    sources: {
      history: history.reader,
      pluginRing: (id) => history.plugins.view(id),
      plugins: () =>
        supervisor.list().map((p) => {
          const sv = services.snapshot(p.id);
          return { id: p.id, name: p.definition.name, state: p.state, restarts: p.restarts, health: p.health.status(), calls: sv ? { total: sv.totalCalls, failed: sv.failedCalls, avgSeconds: sv.totalCalls ? sv.sumSeconds / sv.totalCalls : 0 } : null };
        }),
      alerts: alertsBetween,
      rules: () => alerting.service.listRules(),
      hostname: hostname(),
    },
  });

  const families: RouteFamily[] = [
    { router: createPerformanceRouter({ history: historyBackend.readers, latestHost: () => pipeline.latest?.host ?? null, systemInfo: collectors.systemInfo, alertCounts: (ms) => alerting.service.countsSince(ms), clock }), envelope: 'performance', owns: /^\/api\/v1\// },
    { router: ingest.router, envelope: 'performance' },
    {
      router: createExportRouter({
        supervisor,
        history: history.plugins,
        alertsBetween,
        requireAdmin,
        clock,
      }),
      envelope: 'performance',
    },
    { router: alerting.router, envelope: 'performance' },
    { router: reports.router, envelope: 'performance' },
    { router: profiling.router, envelope: 'performance' },
    { router: profiling.analysisRouter, envelope: 'performance' },
    { router: createHealthRouter({ isReady: () => pipeline.latest !== null }), envelope: 'plain' },
    { router: prometheus.router, envelope: 'plain' },
    { router: createPluginsRouter({ supervisor, clock }), envelope: 'plugin', owns: /^\/plugins?(\/|$)/ },
    { router: createPluginControlRouter({ supervisor, requireAdmin, logsDir: path.join(config.storage.path, 'logs') }), envelope: 'plugin' },
    { router: createPluginHealthRouter({ supervisor, requireAdmin, clock }), envelope: 'plugin' },
    { router: createPluginReportRouter({ supervisor, services, requireAdmin, clock, maxBatch: config.service_metrics.max_batch, bodyLimit: config.server.body_limit }), envelope: 'plugin' },
    { router: createPluginMetricsRouter({ supervisor, history: history.plugins, readers: historyBackend.readers, requireAdmin, clock, logger }), envelope: 'plugin' },
    // the web console, built into dist/ui beside src/ and dist/ alike (docs/console.md)
    ...(config.server.console ? [{ router: createConsoleRouter({ dir: path.resolve(import.meta.dirname, '..', 'dist', 'ui') }), envelope: 'plain' as const }] : []),
  ];
  http = new HttpServer({ app: createHttpApp({ logger, clock, families }), host: config.server.host, port: config.server.port });

  // start order; stop is the reverse: the scheduler's last tick ends before anything it writes to is closed
  const stop = await startAll(
    [supervision.storage, alerting.component, history.component, reports.component, profiling.component, ingest.component, collectors.component, http, reports.schedules, historyBackend.component, ws.component, supervision.plugins, ...(otlp ? [otlp.component] : []), scheduler],
    log,
  );
  let stopped: Promise<void> | null = null;
  logger.info({ url: http.url, version: VERSION, config: config.file }, `listening on ${http.url}`);

  return {
    url: http.url,
    adminToken: token.token,
    supervisor,
    history: history.plugins,
    store: history.store,
    alerts: alerting.service,
    otlp: otlp?.exporter ?? null,
    exposition,
    routers: families.map((f) => f.router),
    requireAdmin,
    nextTick: () => pipeline.nextTick(),
    stop: () => (stopped ??= stop().then(() => logger.info('stopped'))),
  };
}
