import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { reloadPluginDefinition, type Config } from './config/load.js';
import { PluginCollector } from './collectors/plugin-collector.js';
import { ProcFiles } from './collectors/proc-files.js';
import { Scheduler } from './collectors/scheduler.js';
import { readSystemConstants } from './collectors/system-constants.js';
import { createHttpApp } from './http/app.js';
import { createAdminAuth, resolveAdminToken, type AdminMiddleware } from './http/auth.js';
import { createHealthRouter } from './http/health.js';
import { systemClock, type Clock } from './model/clock.js';
import type { Snapshot } from './model/plugin.js';
import { createPluginMetricsRouter } from './sinks/compat/plugin-metrics.js';
import { createPluginsRouter } from './sinks/compat/plugins.js';
import { Exposition, type PluginStatusView } from './sinks/prometheus/exposition.js';
import { createMetricsRouter } from './sinks/prometheus/routes.js';
import { PluginHistory } from './store/plugin-history.js';
import os from 'node:os';
import { Gauge } from 'prom-client';
import { HostCollector, type HostSample } from './collectors/host/host-collector.js';
import { readSystemInfo, type SystemInfo } from './collectors/host/system-info.js';
import { BatchParser } from './sinks/compat/batch-parser.js';
import { createPerformanceRouter } from './sinks/compat/performance.js';
import { HOST_SERIES, hostKey } from './sinks/compat/host-series.js';
import { CustomFamilies } from './sinks/prometheus/custom-families.js';
import { HostMetrics } from './sinks/prometheus/host-metrics.js';
import { M } from './sinks/prometheus/names.js';
import { WsHub } from './sinks/ws/hub.js';
import { CustomSeries } from './store/custom-series.js';
import { SeriesStore } from './store/series-store.js';
import type { Middleware } from 'koa';
import { findOrphans, isSameProcess, PidFile, readPidFile, reapOrphans } from './supervisor/pid-file.js';
import { Supervisor } from './supervisor/supervisor.js';
import { VERSION } from './version.js';
import { isoUtc } from './model/time.js';
import type Router from '@koa/router';
import { Counter } from 'prom-client';
import { AlertmanagerNotifier, WebhookNotifier } from './alerting/notifiers.js';
import { registryLookup } from './alerting/registry-lookup.js';
import { createAlertRouter } from './alerting/routes.js';
import { AlertService, loadFileRules } from './alerting/service.js';
import { AlertStore } from './alerting/store.js';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { resolveOtlpSettings } from './sinks/otlp/otlp-settings.js';
import type { CustomPoint, OtlpSink } from './sinks/otlp/otlp-sink.js';
import type { PluginSample } from './model/plugin.js';

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
  /** Stops collection and HTTP, then every plugin (each with its stop_timeout). Never throws. */
  stop(): Promise<void>;
}

export class StartupError extends Error {}

function hostPayload(h: HostSample) {
  return {
    cpu: { percent: h.cpu.percent, cores: h.cpu.cores },
    memory: { total: h.memory.total, available: h.memory.available, used: h.memory.used, percent: h.memory.percent },
    disk: { percent: h.filesystems[0]?.percent ?? 0, read_bytes: h.diskReadBytes, write_bytes: h.diskWrittenBytes },
    network: { bytes_sent: h.network.bytesSent, bytes_recv: h.network.bytesRecv, upload_rate: h.network.sendBytesPerSecond, download_rate: h.network.recvBytesPerSecond },
    processes: h.processes,
    connections: h.connections,
    load_average: [h.load.load1, h.load.load5, h.load.load15],
  };
}

function pluginPayload(s: Snapshot['plugins'][number]) {
  return { plugin_id: s.pluginId, pid: s.pid, cpu_percent: s.cpuPercent, memory_mb: s.rssBytes / 1048576, memory_percent: s.memoryPercent, num_threads: s.threads };
}

/**
 * The composition root: load order is storage → orphans → token → supervisor → HTTP → plugins → collection; stop is
 * the reverse. The only place that knows every part.
 */
export async function startPerfwatch(opts: PerfwatchOptions): Promise<Perfwatch> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? pino({ level: config.log.level, base: { pid: process.pid } });
  const logsDir = path.join(config.storage.path, 'logs');
  await mkdir(logsDir, { recursive: true });

  // A previous perfwatch on this storage path: refuse if it is alive, else end what it left behind.
  const pidFilePath = path.join(config.storage.path, 'perfwatch.pids.json');
  const previous = await readPidFile(pidFilePath);
  if (previous && previous.perfwatch.pid !== process.pid && (await isSameProcess(previous.perfwatch.pid, previous.perfwatch.start_time))) {
    throw new StartupError(`storage.path ${config.storage.path} is in use by another perfwatch (pid ${previous.perfwatch.pid})`);
  }
  if (previous) {
    const orphans = await findOrphans(previous);
    if (orphans.length) {
      logger.warn({ pids: orphans }, 'stopping plugin processes left by a previous perfwatch');
      await reapOrphans(orphans, 5000);
    }
  }
  const pidFile = new PidFile({ file: pidFilePath });
  await pidFile.init();

  const token = await resolveAdminToken({ env, tokenFile: config.auth.admin_token_file, storagePath: config.storage.path });
  logger.info({ source: token.source }, 'admin token loaded');
  const requireAdmin = createAdminAuth(token.token);

  const constants = await readSystemConstants();
  const exposition = new Exposition({ version: VERSION });
  const history = new PluginHistory({ capacity: config.retention.plugin_samples, memTotalBytes: constants.memTotalBytes });
  const log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => logger[level](fields ?? {}, msg);
  const supervisor = new Supervisor({
    definitions: config.plugins,
    logsDir,
    logLimits: { maxBytes: config.plugin_logs.max_bytes, maxFiles: config.plugin_logs.max_files },
    clock,
    pidFile,
    loadDefinition: reloadPluginDefinition,
    onLogDrop: (bytes) => exposition.dropped.inc({ sink: 'plugin_logs', reason: 'backpressure' }, bytes),
    log,
  });
  await supervisor.init();
  supervisor.on('change', (id: string, state: string, from: string) => logger.debug({ plugin_id: id, state, from }, 'plugin state'));

  const procFiles = new ProcFiles();
  const host = config.host.enabled
    ? new HostCollector({
        procFiles,
        clockTicksPerSecond: constants.clockTicksPerSecond,
        pageSize: constants.pageSizeBytes,
        mountpoints: config.host.mountpoints,
        slowIntervalMs: config.host.slow_interval,
        onError: (what, err) => logger.warn({ err: String(err) }, `host collector: ${what} failed`),
      })
    : null;
  await host?.start();
  const store = new SeriesStore({
    rawCapacity: Math.ceil(config.retention.raw / config.collection.interval),
    tiers: [
      { bucketMs: 60_000, capacity: 1440 },
      { bucketMs: 300_000, capacity: config.retention.metrics_retention_days * 288 },
    ],
  });
  const checkpointFile = path.join(config.storage.path, 'history.ckpt');
  const restored = await store.restore(checkpointFile);
  logger.info(restored, 'history checkpoint');
  const hostMetrics = new HostMetrics(exposition.registry, { hostname: os.hostname(), kernel: os.release(), os: os.type(), arch: os.machine?.() ?? os.arch() });
  const custom = new CustomSeries({
    store,
    exporter: new CustomFamilies(exposition.registry),
    maxSeries: config.custom_metrics.max_series,
    ttlMs: config.custom_metrics.ttl,
  });
  // route ids are bounded: enough for every series several times over, and for a whole batch of new ones
  const batches = new BatchParser({ maxRoutes: Math.max(4 * config.custom_metrics.max_series, 2 * config.custom_metrics.max_batch, 1024) });
  const unadopted = custom.adoptRestored();
  if (unadopted.length) logger.warn({ series: unadopted.slice(0, 20), count: unadopted.length }, 'restored custom series conflict with another once exported; their history stays queryable, they leave /metrics until sent again');
  new Gauge({ name: M.customSeries, help: 'Custom series held (live and past their TTL).', registers: [exposition.registry], collect() {
    this.set(custom.count);
  } });
  let latestHost: HostSample | null = null;
  let latestPlugins = new Map<string, PluginSample>();
  let url = ''; // known once the server listens; alerts name it in generatorURL
  const alerts = await createAlerting();
  let systemInfo: { at: number; value: Promise<SystemInfo> } | null = null;
  const getSystemInfo = () => {
    if (!systemInfo || Date.now() - systemInfo.at > config.host.system_refresh) {
      const value = readSystemInfo();
      value.catch(() => (systemInfo = null)); // retried on the next request
      systemInfo = { at: Date.now(), value };
    }
    return systemInfo.value;
  };
  void getSystemInfo().catch((err) => logger.warn({ err: String(err) }, 'system information unavailable'));
  const pluginCollector = new PluginCollector({
    procFiles,
    constants,
    intervalMs: config.collection.interval,
    treeRefreshMs: config.collection.process_tree_refresh,
  });

  let ready = false;
  let waiters: Array<(s: Snapshot) => void> = [];
  const statusViews = (): PluginStatusView[] =>
    supervisor.list().map((p) => ({
      id: p.id,
      name: p.definition.name,
      version: p.definition.version,
      state: p.state,
      restarts: p.restarts,
      startedAtMs: p.startedAtMs,
      lastExit: p.lastExit,
    }));
  async function createAlerting(): Promise<AlertService> {
    const a = config.alerting;
    const fileRules = a.enabled ? await loadFileRules(a) : [];
    const notifications = new Counter({
      name: M.alertNotificationsTotal,
      help: 'Alert notifications by action and result (sent, failed, queue_full, unconfigured).',
      labelNames: ['action', 'result'],
      registers: [exposition.registry],
    });
    notifications.inc({ action: 'log', result: 'sent' }, 0);
    for (const action of ['webhook', 'alertmanager'] as const) {
      if (a[action]) for (const result of ['sent', 'failed']) notifications.inc({ action, result }, 0);
    }
    let secret = env.PERFWATCH_WEBHOOK_SECRET;
    if (!secret && a.webhook?.secret_file) secret = (await readFile(a.webhook.secret_file, 'utf8')).trim();
    const webhook = a.webhook
      ? new WebhookNotifier({
          url: a.webhook.url,
          secret,
          timeoutMs: a.webhook.timeout,
          retries: a.webhook.retries,
          backoffMs: a.webhook.backoff,
          maxQueue: a.webhook.max_queue,
          onResult: (result) => notifications.inc({ action: 'webhook', result }),
          onError: (err, attempt) => logger.warn({ err: String(err), attempt }, 'webhook delivery failed'),
        })
      : undefined;
    const alertmanager = a.alertmanager
      ? new AlertmanagerNotifier({
          url: a.alertmanager.url,
          resendDelayMs: a.alertmanager.resend_delay,
          intervalMs: config.collection.interval,
          timeoutMs: a.alertmanager.timeout,
          onResult: (result, n) => notifications.inc({ action: 'alertmanager', result }, n),
          onError: (err) => logger.warn({ err: String(err) }, 'alertmanager push failed'),
        })
      : undefined;
    const service = new AlertService({
      store: new AlertStore(path.join(config.storage.path, 'perfwatch.db'), { historyLimit: a.history_limit }),
      fileRules,
      intervalMs: config.collection.interval,
      now: () => clock.now(),
      topProcesses: () => host?.topProcesses ?? { byCpu: [], byMemory: [] },
      webhook,
      alertmanager,
      externalLabels: { instance: a.instance ?? os.hostname() },
      externalUrl: () => a.external_url?.replace(/\/$/, '') ?? url,
      log: (level, msg, fields) => logger[level](fields, msg),
      broadcast: (event, payload) => ws.broadcast(event, payload),
      onNotification: (action, result) => notifications.inc({ action, result }),
    });
    new Gauge({ name: M.alertsFiring, help: 'Alerts firing now, by severity.', labelNames: ['severity'], registers: [exposition.registry], collect() {
      for (const [severity, n] of Object.entries(service.firingCount())) this.set({ severity }, n);
    } });
    new Gauge({ name: M.alertRules, help: 'Alert rules loaded, by source and whether they are enabled.', labelNames: ['source', 'enabled'], registers: [exposition.registry], collect() {
      this.reset();
      for (const r of service.rules) this.inc({ source: r.source, enabled: String(r.enabled) });
    } });
    new Gauge({ name: M.alertEvaluationDurationSeconds, help: 'Time the last evaluation of every rule took (including its store writes).', registers: [exposition.registry], collect() {
      this.set(service.lastEvaluationSeconds);
    } });
    return service;
  }

  const otlp = await createOtlp();
  async function createOtlp(): Promise<OtlpSink | null> {
    const settings = resolveOtlpSettings(config.otlp, env);
    if (!settings) return null;
    // loaded only when pushing: the OpenTelemetry SDK, its exporters and gRPC add 4-6 MB of RSS that an agent without
    // OTLP does not need
    const { OtlpSink } = await import('./sinks/otlp/otlp-sink.js');
    const exports = new Counter({ name: M.otlpExportsTotal, help: 'OTLP exports by result; a failed export\'s data points are dropped (perfwatch_samples_dropped_total{sink="otlp"}).', labelNames: ['result'], registers: [exposition.registry] });
    exports.inc({ result: 'success' }, 0);
    exports.inc({ result: 'failed' }, 0);
    logger.info({ url: settings.url, protocol: settings.protocol, interval_ms: settings.intervalMs }, 'OTLP push on');
    const unitOf = (promName: string) => (promName.endsWith('_seconds') ? 's' : promName.endsWith('_bytes') ? 'By' : '1');
    return new OtlpSink(
      {
        ...settings,
        resource: { serviceInstanceId: env.PERFWATCH_INSTANCE_ID ?? `${os.hostname()}-${randomUUID().slice(0, 8)}`, hostName: os.hostname(), version: VERSION },
        onExport: (result, points) => {
          exports.inc({ result });
          if (result === 'failed') exposition.dropped.inc({ sink: 'otlp', reason: 'export_failed' }, points);
        },
        onError: (err) => logger.warn({ err: String(err) }, 'OTLP export failed'),
      },
      {
        host: () => latestHost,
        plugins: () => statusViews().map((status) => ({ status, sample: latestPlugins.get(status.id) })),
        custom: () => {
          const out: CustomPoint[] = [];
          for (const c of custom.exported()) out.push({ name: `perfwatch.custom.${c.sourceName}`, unit: unitOf(c.promName), attributes: c.labels, value: c.value });
          return out;
        },
      },
    );
  }

  const tick = async () => {
    const t0 = performance.now();
    const now = clock.now();
    const plugins = pluginCollector.collect(supervisor.running(), now);
    const t1 = performance.now();
    history.append(plugins);
    if (otlp) latestPlugins = new Map(plugins.map((p) => [p.pluginId, p]));
    let hostSeconds = 0;
    if (host) {
      const h0 = performance.now();
      try {
        const h = await host.collect(now);
        for (const s of HOST_SERIES) {
          const v = s.read(h);
          if (v !== undefined && Number.isFinite(v)) store.append(hostKey(s.name), { name: s.name, unit: s.unit, kind: 'host' }, now, v);
        }
        hostMetrics.update(h);
        announceDeviceChanges(latestHost, h);
        latestHost = h;
      } catch (err) {
        logger.error({ err }, 'host collection failed');
      }
      hostSeconds = (performance.now() - h0) / 1000;
    }
    custom.sweep(now);
    const snapshot: Snapshot = {
      timestampMs: now,
      plugins,
      collectorSeconds: host ? { plugins: (t1 - t0) / 1000, host: hostSeconds } : { plugins: (t1 - t0) / 1000 },
      cycleSeconds: (performance.now() - t0) / 1000,
    };
    exposition.update(snapshot, statusViews(), history.memoryBytes + store.memoryBytes);
    otlp?.refreshCustom();
    if (config.alerting.enabled) {
      try {
        alerts.evaluate(now, await registryLookup(exposition.registry, alerts.evaluator.rules.map((r) => r.target.series)));
      } catch (err) {
        logger.error({ err }, 'alert evaluation failed');
      }
    }
    {
      if (latestHost && latestHost.timestampMs === now) ws.broadcast('metric_update', { metric: { source: 'host', ...hostPayload(latestHost) }, timestamp: isoUtc(now) });
      if (plugins.length) ws.broadcast('metric_update', { metric: { source: 'plugins', plugins: plugins.map(pluginPayload) }, timestamp: isoUtc(now) });
    }
    await exposition.render();
    ready = true;
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve(snapshot);
  };
  const scheduler = new Scheduler({
    intervalMs: config.collection.interval,
    task: tick,
    onError: (err) => logger.error({ err }, 'collection cycle failed'),
  });

  const writeAuth: Middleware = config.auth.open_writes ? (_ctx, next) => next() : requireAdmin;
  const app = createHttpApp({ logger });
  const routers = [
    createPerformanceRouter({
      store,
      custom,
      latestHost: () => latestHost,
      systemInfo: getSystemInfo,
      alertCounts: (periodMs) => alerts.countsSince(periodMs),
      writeAuth,
      clock,
      bodyLimit: config.server.body_limit,
      maxBatch: config.custom_metrics.max_batch,
      batches,
      retentionDays: config.retention.metrics_retention_days,
    }),
    createAlertRouter({ alerts, writeAuth, clock, bodyLimit: config.server.body_limit }),
    createHealthRouter({ isReady: () => ready }),
    createMetricsRouter({ exposition }),
    createPluginsRouter({ supervisor, requireAdmin, clock }),
    createPluginMetricsRouter({ supervisor, history, requireAdmin, clock, logger }),
  ];
  for (const r of routers) app.use(r.routes()).use(r.allowedMethods());

  const server: Server = createServer(app.callback());
  server.keepAliveTimeout = 65_000; // longer than Prometheus' idle keep-alive, so scrapes reuse connections
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const ws = new WsHub(server, {
    path: '/ws/performance',
    maxClients: config.websocket.max_clients,
    maxBufferedBytes: config.websocket.max_buffered_bytes,
    pingIntervalMs: config.websocket.ping_interval,
    onDrop: (reason) => exposition.dropped.inc({ sink: 'websocket', reason }),
  });
  new Gauge({ name: M.websocketClients, help: 'Connected /ws/performance clients.', registers: [exposition.registry], collect() {
    this.set(ws.size);
  } });
  supervisor.on('change', (id: string, state: string, from: string) =>
    ws.broadcast('system_change', { change: { kind: 'plugin_state', plugin_id: id, status: state, previous: from }, timestamp: isoUtc(clock.now()) }),
  );
  function announceDeviceChanges(prev: HostSample | null, cur: HostSample): void {
    if (!prev) return;
    const diff = (kind: string, a: string[], b: string[]) => {
      for (const x of b) if (!a.includes(x)) ws.broadcast('system_change', { change: { kind, name: x, present: true }, timestamp: isoUtc(cur.timestampMs) });
      for (const x of a) if (!b.includes(x)) ws.broadcast('system_change', { change: { kind, name: x, present: false }, timestamp: isoUtc(cur.timestampMs) });
    };
    diff('interface', prev.network.devices.map((d) => d.device), cur.network.devices.map((d) => d.device));
    diff('disk', prev.disks.map((d) => d.device), cur.disks.map((d) => d.device));
  }
  const checkpointTimer = setInterval(() => {
    store.checkpoint(checkpointFile).catch((err) => logger.error({ err }, 'history checkpoint failed'));
  }, config.retention.checkpoint_interval);
  checkpointTimer.unref();

  const addr = server.address() as AddressInfo;
  const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  url = `http://${hostPart}:${addr.port}`;
  logger.info({ url, version: VERSION, config: config.file }, `listening on ${url}`);

  await supervisor.startAll();
  scheduler.start();

  let stopping: Promise<void> | null = null;
  return {
    url,
    adminToken: token.token,
    supervisor,
    history,
    store,
    alerts,
    otlp,
    exposition,
    routers,
    requireAdmin,
    nextTick: () => new Promise((resolve) => waiters.push(resolve)),
    stop: () =>
      (stopping ??= (async () => {
        scheduler.stop();
        host?.stop();
        clearInterval(checkpointTimer);
        await ws.close();
        server.closeIdleConnections?.();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await supervisor.stopAll();
        server.closeAllConnections?.();
        await closed;
        await batches.close();
        procFiles.closeAll();
        await store.checkpoint(checkpointFile).catch((err) => logger.error({ err }, 'history checkpoint failed'));
        await alerts.close();
        await otlp?.stop();
        await pidFile.remove();
        logger.info('stopped');
      })()),
  };
}
