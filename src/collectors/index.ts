import type { Config } from '../config/load.js';
import type { Clock } from '../model/clock.js';
import type { Component } from '../model/component.js';
import type { SystemInfo, TopProcesses } from '../model/host.js';
import { ProcFiles } from '../proc/proc-files.js';
import { HostCollector } from './host/host-collector.js';
import { readSystemInfo } from './host/system-info.js';
import { PluginCollector } from './plugin-collector.js';
import type { SystemConstants } from './system-constants.js';

export interface CollectorsOptions {
  config: Config;
  constants: SystemConstants;
  clock: Clock;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * The collectors: plugin process trees and the host, over one set of cached /proc fds, plus the static system facts
 * (systeminformation forks tools: read at most once per `host.system_refresh`, on demand). The part starts the host
 * collector's slow cadence and, on stop, ends it and closes every fd.
 */
export function createCollectors(o: CollectorsOptions) {
  const { config } = o;
  const procFiles = new ProcFiles();
  const host = config.host.enabled
    ? new HostCollector({
        procFiles,
        clockTicksPerSecond: o.constants.clockTicksPerSecond,
        pageSize: o.constants.pageSizeBytes,
        mountpoints: config.host.mountpoints,
        slowIntervalMs: config.host.slow_interval,
        onError: (what, err) => o.log('warn', `host collector: ${what} failed`, { err: String(err) }),
      })
    : null;
  const plugins = new PluginCollector({ procFiles, constants: o.constants, intervalMs: config.collection.interval, treeRefreshMs: config.collection.process_tree_refresh });
  let systemInfo: { at: number; value: Promise<SystemInfo> } | null = null;
  const getSystemInfo = (): Promise<SystemInfo> => {
    const now = o.clock.now();
    if (!systemInfo || now - systemInfo.at > config.host.system_refresh) {
      const value = readSystemInfo();
      value.catch(() => (systemInfo = null)); // retried on the next request
      systemInfo = { at: now, value };
    }
    return systemInfo.value;
  };
  const component: Component = {
    name: 'collectors',
    async start() {
      await host?.start();
      void getSystemInfo().catch((err) => o.log('warn', 'system information unavailable', { err: String(err) }));
    },
    stop() {
      host?.stop();
      procFiles.closeAll();
    },
  };
  const topProcesses = (): TopProcesses => host?.topProcesses ?? { byCpu: [], byMemory: [] };
  return { host, plugins, systemInfo: getSystemInfo, topProcesses, component };
}
