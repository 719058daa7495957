import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/load.js';
import { reloadPluginDefinition } from '../config/load.js';
import type { Clock } from '../model/clock.js';
import type { Component } from '../model/component.js';
import { StartupError } from '../model/errors.js';
import type { PluginStatusView, ServiceSnapshot } from '../model/plugin.js';
import { findOrphans, isSameProcess, PidFile, readPidFile, reapOrphans } from './pid-file.js';
import { PluginCgroups } from './plugin-cgroups.js';
import { Supervisor } from './supervisor.js';


export interface SupervisionOptions {
  config: Config;
  clock: Clock;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Plugin log bytes dropped under backpressure. */
  onLogDrop: (bytes: number) => void;
  /** perfwatch's URL once it listens (`PERFWATCH_URL` in each plugin's environment). */
  agentUrl?: () => string;
  /** What each plugin reported about its calls, for the statuses (store/service-metrics.ts). */
  serviceOf?: (id: string) => ServiceSnapshot | null;
}

/**
 * Everything about plugin processes: the storage lock and orphan policy (`storage` part: refuse a storage path a live
 * perfwatch uses, end what a dead one left, own the pid file), the supervisor, and the `plugins` part that starts every
 * enabled plugin and stops them all (each with its stop_timeout).
 */
export function createSupervision(o: SupervisionOptions): { supervisor: Supervisor; statuses: () => PluginStatusView[]; storage: Component; plugins: Component } {
  const { config } = o;
  const logsDir = path.join(config.storage.path, 'logs');
  const pidFile = new PidFile({ file: path.join(config.storage.path, 'perfwatch.pids.json') });
  const supervisor = new Supervisor({
    definitions: config.plugins,
    logsDir,
    logLimits: { maxBytes: config.plugin_logs.max_bytes, maxFiles: config.plugin_logs.max_files },
    clock: o.clock,
    pidFile,
    loadDefinition: reloadPluginDefinition,
    onLogDrop: o.onLogDrop,
    log: o.log,
    agentUrl: o.agentUrl,
  });
  let ownsPidFile = false;
  let cgroups: PluginCgroups | null = null;
  const storage: Component = {
    name: 'storage',
    async start() {
      // plugin output can hold anything a plugin prints (tokens, user data): the folder is perfwatch's alone
      await mkdir(logsDir, { recursive: true, mode: 0o700 });
      await chmod(logsDir, 0o700);
      // A previous perfwatch on this storage path: refuse if it is alive, else end what it left behind.
      const previous = await readPidFile(pidFile.file);
      if (previous && previous.perfwatch.pid !== process.pid && (await isSameProcess(previous.perfwatch.pid, previous.perfwatch.start_time))) {
        throw new StartupError(`storage.path ${config.storage.path} is in use by another perfwatch (pid ${previous.perfwatch.pid})`);
      }
      if (previous) {
        const orphans = await findOrphans(previous);
        if (orphans.length) {
          o.log('warn', 'stopping plugin processes left by a previous perfwatch', { pids: orphans });
          await reapOrphans(orphans, 5000);
        }
      }
      const detected = await PluginCgroups.detect();
      if ('cgroups' in detected) {
        cgroups = detected.cgroups;
        o.log('info', 'plugins run in their own cgroups', { cgroup: cgroups.root });
        // what left its process group (setsid) is still in the dead perfwatch's plugin cgroups
        if (typeof previous?.cgroup === 'string') {
          const left = await cgroups.reapPrevious(previous.cgroup, 5000);
          if (left.length) o.log('warn', 'stopped processes left in a previous perfwatch\'s plugin cgroups', { pids: left, cgroup: previous.cgroup });
        }
      } else o.log('info', `plugin cgroups unavailable (${detected.reason}); plugins are tracked by process group and process tree`);
      ownsPidFile = true;
      await pidFile.init(cgroups ? { cgroup: cgroups.root } : {});
      await supervisor.init({ cgroups });
    },
    async stop() {
      if (ownsPidFile) await pidFile.remove();
      ownsPidFile = false;
      await cgroups?.remove();
      cgroups = null;
    },
  };
  const plugins: Component = {
    name: 'plugins',
    start: () => supervisor.startAll(),
    stop: () => supervisor.stopAll(),
  };
  const statuses = (): PluginStatusView[] =>
    supervisor.list().map((p) => ({
      id: p.id,
      name: p.definition.name,
      version: p.definition.version,
      state: p.state,
      restarts: p.restarts,
      startedAtMs: p.startedAtMs,
      lastExit: p.lastExit,
      health: p.health.view(),
      service: o.serviceOf?.(p.id) ?? null,
    }));
  return { supervisor, statuses, storage, plugins };
}
