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
import { findOrphans, isSameProcess, PidFile, readPidFile, reapOrphans } from './supervisor/pid-file.js';
import { Supervisor } from './supervisor/supervisor.js';
import { VERSION } from './version.js';
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
  /** Resolves after the next collection tick has been applied to every sink. */
  nextTick(): Promise<Snapshot>;
  /** Stops collection and HTTP, then every plugin (each with its stop_timeout). Never throws. */
  stop(): Promise<void>;
}

export class StartupError extends Error {}

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
    const snapshot: Snapshot = {
      timestampMs: now,
      plugins,
      collectorSeconds: { plugins: (t1 - t0) / 1000 },
      cycleSeconds: (performance.now() - t0) / 1000,
    };
    exposition.update(snapshot, statusViews(), history.memoryBytes);
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

  const app = createHttpApp({ logger });
  const routers = [
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
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  logger.info({ url, version: VERSION, config: config.file }, `listening on ${url}`);

  await supervisor.startAll();
  scheduler.start();

  let stopping: Promise<void> | null = null;
  return {
    url,
    adminToken: token.token,
    supervisor,
    history,
    exposition,
    routers,
    requireAdmin,
    nextTick: () => new Promise((resolve) => waiters.push(resolve)),
    stop: () =>
      (stopping ??= (async () => {
        scheduler.stop();
        server.closeIdleConnections?.();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await supervisor.stopAll();
        server.closeAllConnections?.();
        await closed;
        procFiles.closeAll();
        await pidFile.remove();
        logger.info('stopped');
      })()),
  };
}
