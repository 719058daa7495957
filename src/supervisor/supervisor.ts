import { EventEmitter } from 'node:events';
import { access, constants as fsConstants } from 'node:fs/promises';
import type { PluginDefinition } from '../config/load.js';
import type { Clock } from '../model/clock.js';
import type { CheckView, HealthView, PluginHealthStatus, PluginState, RunningPlugin } from '../model/plugin.js';
import { ManagedPlugin, type OpResult } from './managed-plugin.js';
import type { PidFile } from './pid-file.js';
import type { PluginCgroups } from './plugin-cgroups.js';
import { SupervisorError } from './supervisor-error.js';

export interface SupervisorOptions {
  definitions: readonly PluginDefinition[];
  logsDir: string;
  logLimits: { maxBytes: number; maxFiles: number };
  clock: Clock;
  pidFile: PidFile | null;
  loadDefinition: (current: PluginDefinition) => Promise<PluginDefinition>;
  onLogDrop?: (bytes: number) => void;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** perfwatch's own URL, for the plugins' environment (`PERFWATCH_URL`). */
  agentUrl?: () => string;
  /** Give plugins a parent-death signal through setpriv when it is installed (default true). */
  useParentDeathSignal?: boolean;
}

/**
 * Owns every plugin: registry order, lifecycle operations by id, and the list of live processes the collectors read.
 * Emits 'change' (id, state, from), 'restart' (id) and 'health' (id, view, previous status, the check that changed).
 */
export class Supervisor extends EventEmitter {
  #plugins = new Map<string, ManagedPlugin>();
  #opts: SupervisorOptions;
  #closing = false;

  constructor(opts: SupervisorOptions) {
    super();
    this.#opts = opts;
  }

  /** Creates the plugins (nothing is started), in their own cgroups when `cgroups` is given. */
  async init(extra: { cgroups?: PluginCgroups | null } = {}): Promise<void> {
    const setprivPath = this.#opts.useParentDeathSignal === false ? null : await findSetpriv();
    for (const definition of this.#opts.definitions) {
      const p = new ManagedPlugin({
        definition,
        logsDir: this.#opts.logsDir,
        logLimits: this.#opts.logLimits,
        clock: this.#opts.clock,
        setprivPath,
        loadDefinition: this.#opts.loadDefinition,
        onLogDrop: this.#opts.onLogDrop,
        log: this.#opts.log,
        cgroups: extra.cgroups ?? null,
        agentUrl: this.#opts.agentUrl,
      });
      p.on('change', (state: PluginState, from: PluginState) => this.emit('change', p.id, state, from));
      p.on('restart', () => this.emit('restart', p.id));
      p.on('health', (view: HealthView, previous: PluginHealthStatus, check: CheckView) => this.emit('health', p.id, view, previous, check));
      p.on('spawn', (pid: number) => void this.#opts.pidFile?.setPlugin(p.id, pid));
      p.on('change', () => {
        if (!p.hasProcess) void this.#opts.pidFile?.setPlugin(p.id, null);
      });
      this.#plugins.set(definition.id, p);
    }
  }

  list(): ManagedPlugin[] {
    return [...this.#plugins.values()];
  }

  /** Throws SupervisorError PLUGIN_NOT_FOUND for an unknown id. */
  get(id: string): ManagedPlugin {
    const p = this.#plugins.get(id);
    if (!p) throw new SupervisorError('PLUGIN_NOT_FOUND', `plugin "${id}" is not registered`);
    return p;
  }

  has(id: string): boolean {
    return this.#plugins.has(id);
  }

  start(id: string): Promise<OpResult> {
    this.#refuseWhenClosing();
    return this.get(id).start();
  }

  stop(id: string): Promise<OpResult> {
    this.#refuseWhenClosing();
    return this.get(id).stop();
  }

  reload(id: string): Promise<OpResult> {
    this.#refuseWhenClosing();
    return this.get(id).reload();
  }

  /** Starts every enabled autostart plugin, in parallel; a plugin that fails to start is logged and left in error. */
  async startAll(): Promise<void> {
    await Promise.all(
      this.list()
        .filter((p) => p.definition.enabled && p.definition.autostart)
        .map((p) => p.start().catch(() => undefined)),
    );
  }

  /** Stops every plugin in parallel, each with its own stop_timeout. Never throws. */
  async stopAll(): Promise<void> {
    this.#closing = true;
    for (const p of this.list()) p.cancelPendingRestart();
    await Promise.all(this.list().map((p) => p.shutdown()));
  }

  /** Plugins with a live main process, for the collectors. */
  running(): RunningPlugin[] {
    const out: RunningPlugin[] = [];
    for (const p of this.#plugins.values()) {
      if (p.pid !== null && p.startedAtMs !== null) out.push({ id: p.id, pid: p.pid, startedAtMs: p.startedAtMs });
    }
    return out;
  }

  #refuseWhenClosing(): void {
    if (this.#closing) throw new SupervisorError('SHUTTING_DOWN', 'perfwatch is shutting down');
  }
}

async function findSetpriv(): Promise<string | null> {
  for (const p of ['/usr/bin/setpriv', '/bin/setpriv']) {
    try {
      await access(p, fsConstants.X_OK);
      return p;
    } catch {
      /* try the next */
    }
  }
  return null;
}
