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
import { isoUtc } from './sinks/compat/performance.js';
import type Router from '@koa/router';

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
  custom.adoptRestored();
  new Gauge({ name: M.customSeries, help: 'Custom series held (live and past their TTL).', registers: [exposition.registry], collect() {
    this.set(custom.count);
  } });
  let latestHost: HostSample | null = null;
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
  const tick = async () => {
    const t0 = performance.now();
    const now = clock.now();
    const plugins = pluginCollector.collect(supervisor.running(), now);
    const t1 = performance.now();
    history.append(plugins);
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
      alertCounts: () => ({ total: 0, critical: 0, warning: 0 }),
      writeAuth,
      clock,
      bodyLimit: config.server.body_limit,
      maxBatch: config.custom_metrics.max_batch,
      retentionDays: config.retention.metrics_retention_days,
    }),
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
  const url = `http://${hostPart}:${addr.port}`;
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
        procFiles.closeAll();
        await store.checkpoint(checkpointFile).catch((err) => logger.error({ err }, 'history checkpoint failed'));
        await pidFile.remove();
        logger.info('stopped');
      })()),
  };
}
