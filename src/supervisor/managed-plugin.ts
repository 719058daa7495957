import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { access, constants as fsConstants, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { PluginDefinition } from '../config/load.js';
import type { Clock } from '../model/clock.js';
import type { PluginState } from '../model/plugin.js';
import { parseProcStat } from '../proc/proc-stat.js';
import { groupExists, isAlive, signalGroup, signalPid } from '../proc/signals.js';
import { PluginHealth } from './health/plugin-health.js';
import { descendantsOf, type PluginCgroups } from './plugin-cgroups.js';
import { RotatingLog } from './rotating-log.js';
import { SupervisorError } from './supervisor-error.js';

export interface ExitRecord {
  code: number | null;
  signal: NodeJS.Signals | null;
  atMs: number;
}

export interface ManagedPluginOptions {
  definition: PluginDefinition;
  logsDir: string;
  logLimits: { maxBytes: number; maxFiles: number };
  clock: Clock;
  /** `setpriv` binary used to give each plugin a parent-death signal, or null to spawn the command directly. */
  setprivPath: string | null;
  /** Re-reads this plugin's definition from its source (reload). */
  loadDefinition: (current: PluginDefinition) => Promise<PluginDefinition>;
  onLogDrop?: (bytes: number) => void;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Per-plugin cgroups when the host allows them (null: process groups and a tree walk at stop). */
  cgroups?: PluginCgroups | null;
  /** perfwatch's own URL, passed to the plugin as `PERFWATCH_URL` (heartbeats go there). */
  agentUrl?: () => string;
}

export interface OpResult {
  state: PluginState;
  pid: number | null;
}

/**
 * One supervised plugin: its child process, state machine and restart policy.
 *
 * States: stopped → starting → running → stopping → stopped; a crash goes to `starting` (waiting out the backoff, no
 * pid) and back to running, or to `error` once `max_restarts` is spent within `restart_window`. A readiness health
 * check holds a new process in `starting` until it passes; a failing liveness check ends the process, and the restart
 * policy takes over as for a crash. Operations (start,
 * stop, reload) run one at a time per plugin through a promise chain; the second of two concurrent starts therefore
 * sees the first's process and is refused. Emits 'change' on every state change and 'restart' for each restart by
 * policy, 'health' (view, previous, check) when its health changes.
 */
export class ManagedPlugin extends EventEmitter {
  definition: PluginDefinition;
  state: PluginState = 'stopped';
  pid: number | null = null;
  startedAtMs: number | null = null;
  /** Restarts done by the restart policy since perfwatch started. */
  restarts = 0;
  lastExit: ExitRecord | null = null;
  /** Sent to the plugin as `PERFWATCH_PLUGIN_TOKEN`: it authenticates the plugin's own reports (heartbeats). */
  readonly token = randomBytes(24).toString('base64url');
  readonly health: PluginHealth;

  #opts: ManagedPluginOptions;
  #child: ChildProcess | null = null;
  #exited: Promise<void> | null = null;
  /** Resolves once the last spawned process has settled: counted as running after start_grace, or exited. */
  #settled: Promise<void> = Promise.resolve();
  #stopRequested = false;
  #restartTimer: NodeJS.Timeout | null = null;
  #graceTimer: NodeJS.Timeout | null = null;
  /** Times of restarts by policy, within the window. */
  #restartTimes: number[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #logs: { out: RotatingLog; err: RotatingLog } | null = null;
  /** For the process spawned last: start_grace is over / its readiness checks pass. Both make it `running`. */
  #graceOver = false;
  /** The process spawned last was ended by its liveness check: its exit is a failure whatever its code. */
  #livenessKilled = false;
  #ready = false;
  #settle: () => void = () => {};

  constructor(opts: ManagedPluginOptions) {
    super();
    this.#opts = opts;
    this.definition = opts.definition;
    this.health = new PluginHealth({
      clock: opts.clock,
      onReady: () => {
        this.#ready = true;
        this.#maybeRunning();
      },
      onLivenessFailure: (check, error) => this.#livenessFailed(check, error),
      onChange: (view, previous, check) => this.emit('health', view, previous, check),
    });
  }

  get id(): string {
    return this.definition.id;
  }

  /** True while a child process exists (starting, running or stopping). */
  get hasProcess(): boolean {
    return this.#child !== null;
  }

  /** Starts the plugin. Throws SupervisorError: PLUGIN_DISABLED, PLUGIN_ALREADY_RUNNING, PLUGIN_START_FAILED. */
  start(): Promise<OpResult> {
    return this.#serial(async () => {
      this.#startChecks();
      this.#restartTimes = []; // a start by hand gives the policy a fresh budget
      await this.#spawn();
      return { state: this.state, pid: this.pid };
    });
  }

  /** Stops the plugin and resolves once its process group is gone. Throws PLUGIN_NOT_RUNNING. */
  stop(): Promise<OpResult> {
    return this.#serial(async () => {
      if (!this.#child) {
        if (this.#restartTimer) {
          this.#cancelRestart();
          this.#setState('stopped');
          return { state: this.state, pid: null };
        }
        throw new SupervisorError('PLUGIN_NOT_RUNNING', `plugin "${this.id}" is not running (status ${this.state})`);
      }
      await this.#stopProcess();
      return { state: this.state, pid: null };
    });
  }

  /**
   * Stop, re-read the definition from its source, start, and wait until the new process counts as running.
   * The new definition is validated before anything is stopped: a bad file changes nothing.
   */
  reload(): Promise<OpResult> {
    return this.#serial(async () => {
      let next: PluginDefinition;
      try {
        next = await this.#opts.loadDefinition(this.definition);
      } catch (err) {
        throw new SupervisorError('PLUGIN_CONFIG_INVALID', `plugin "${this.id}" cannot be reloaded: ${(err as Error).message}`);
      }
      if (this.#child) await this.#stopProcess();
      else this.#cancelRestart();
      this.definition = next;
      if (!next.enabled) {
        this.#setState('stopped');
        return { state: this.state, pid: null };
      }
      this.#restartTimes = [];
      await this.#spawn();
      await this.#waitUntilSettled();
      if (this.state === 'starting' && this.#child) {
        throw new SupervisorError('PLUGIN_START_FAILED', `plugin "${this.id}" started (pid ${this.pid}) but its readiness checks did not pass within ${readinessBudget(this.definition) / 1000} s; it stays starting until they do`);
      }
      if (this.state !== 'running') {
        const e = this.lastExit;
        throw new SupervisorError(
          'PLUGIN_START_FAILED',
          `plugin "${this.id}" exited during start (${e?.signal ? `signal ${e.signal}` : `exit code ${e?.code}`})`,
        );
      }
      return { state: this.state, pid: this.pid };
    });
  }

  /** Stops without the operation lock's refusals: used at shutdown. Never throws. */
  async shutdown(): Promise<void> {
    await this.#serial(async () => {
      this.#cancelRestart();
      if (this.#child) await this.#stopProcess();
      await this.#closeLogs();
    }).catch((err) => this.#opts.log?.('error', 'plugin shutdown failed', { plugin_id: this.id, err: String(err) }));
  }

  /** Forgets a pending restart; called at shutdown before stopping. */
  cancelPendingRestart(): void {
    this.#cancelRestart();
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  #startChecks(): void {
    if (!this.definition.enabled) throw new SupervisorError('PLUGIN_DISABLED', `plugin "${this.id}" is disabled in its configuration`);
    if (this.#child) throw new SupervisorError('PLUGIN_ALREADY_RUNNING', `plugin "${this.id}" is already running (pid ${this.pid})`);
  }

  async #spawn(): Promise<void> {
    this.#cancelRestart();
    const def = this.definition;
    const agentUrl = this.#opts.agentUrl?.() ?? '';
    const env: NodeJS.ProcessEnv = { ...process.env, ...def.env, PERFWATCH_PLUGIN_ID: def.id, PERFWATCH_PLUGIN_TOKEN: this.token, ...(agentUrl ? { PERFWATCH_URL: agentUrl } : {}) };
    const resolved = await resolveCommand(def.command, def.cwd, env.PATH ?? '');
    if (!resolved) return this.#failStart(`command "${def.command}" not found or not executable (cwd ${def.cwd})`);
    if (!(await isDirectory(def.cwd))) return this.#failStart(`working directory ${def.cwd} does not exist`);

    this.#logs ??= {
      out: this.#newLog('stdout'),
      err: this.#newLog('stderr'),
    };
    const setpriv = this.#opts.setprivPath;
    const file = setpriv ?? resolved;
    const args = setpriv ? ['--pdeathsig', 'TERM', '--', resolved, ...def.args] : def.args;
    this.#stopRequested = false;
    this.#setState('starting');
    const child = spawn(file, args, { cwd: def.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const spawned = await new Promise<Error | null>((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (err) => resolve(err));
    });
    if (spawned || child.pid === undefined) return this.#failStart(`cannot spawn "${def.command}": ${spawned?.message ?? 'no pid'}`);

    const logs = this.#logs;
    child.stdout!.on('data', (b: Buffer) => logs.out.write(b));
    child.stderr!.on('data', (b: Buffer) => logs.err.write(b));
    child.on('error', () => undefined); // kill() errors on an exited child are not interesting
    this.#child = child;
    this.pid = child.pid;
    this.startedAtMs = this.#opts.clock.now();
    this.#settled = new Promise<void>((resolve) => (this.#settle = resolve));
    const settle = this.#settle;
    this.#exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.#onExit(child, code, signal);
        settle();
        resolve();
      }),
    );
    this.#graceOver = false;
    this.#ready = false;
    this.#livenessKilled = false;
    this.health.begin(def.health_checks, { cwd: def.cwd, env });
    // an operation waiting for this process (reload) waits for readiness too, but not past the readiness checks' budget
    const budget = readinessBudget(def);
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = null;
      this.#graceOver = true;
      this.#maybeRunning();
      if (budget > 0 && this.state === 'starting' && this.#child === child) this.#graceTimer = setTimeout(settle, budget);
      else settle();
    }, def.start_grace);
    // as soon as the exit is watched: what the plugin forks from now on (detached or not) stays in its cgroup
    await this.#opts.cgroups?.join(def.id, child.pid);
    this.emit('spawn', child.pid);
    this.#opts.log?.('info', 'plugin started', { plugin_id: def.id, plugin_pid: child.pid });
  }

  /** Grace over and ready: the process counts as running. */
  #maybeRunning(): void {
    if (!this.#child || !this.#graceOver || !this.#ready || this.state !== 'starting') return;
    this.#setState('running');
    this.#settle();
  }

  /** A liveness check turned failing: end the process; its exit goes through the restart policy like a crash. */
  #livenessFailed(check: string, error: string): void {
    const child = this.#child;
    if (!child || this.#stopRequested) return;
    this.#opts.log?.('warn', 'liveness check failing; ending the plugin for its restart policy', { plugin_id: this.id, check, error });
    this.#livenessKilled = true;
    const pgid = child.pid!;
    signalGroup(pgid, 'SIGTERM');
    const kill = setTimeout(() => signalGroup(pgid, 'SIGKILL'), this.definition.stop_timeout);
    child.once('exit', () => clearTimeout(kill));
  }

  #failStart(message: string): never {
    this.lastExit = { code: null, signal: null, atMs: this.#opts.clock.now() };
    this.#setState('error');
    this.#opts.log?.('error', 'plugin failed to start', { plugin_id: this.id, reason: message });
    throw new SupervisorError('PLUGIN_START_FAILED', message);
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    const now = this.#opts.clock.now();
    this.lastExit = { code, signal, atMs: now };
    this.#child = null;
    this.pid = null;
    this.startedAtMs = null;
    this.health.end();
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = null;
    const pgid = child.pid!;
    if (this.#stopRequested) return; // #stopProcess finishes the job
    this.#opts.log?.('warn', 'plugin exited', { plugin_id: this.id, code, signal });
    // Children left in the group would be orphans: end them as a stop would.
    void this.#killGroup(pgid, this.definition.stop_timeout);
    this.#applyRestartPolicy(code, signal, now);
  }

  #applyRestartPolicy(code: number | null, signal: NodeJS.Signals | null, now: number): void {
    const def = this.definition;
    const failed = signal !== null || code !== 0 || this.#livenessKilled;
    const wantsRestart = def.restart === 'always' || (def.restart === 'on-failure' && failed);
    if (!wantsRestart) {
      this.#setState(failed ? 'error' : 'stopped');
      return;
    }
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < def.restart_window);
    if (this.#restartTimes.length >= def.max_restarts) {
      this.#opts.log?.('error', 'plugin exceeded max_restarts; staying in error until started by hand', {
        plugin_id: this.id,
        max_restarts: def.max_restarts,
      });
      this.#setState('error');
      return;
    }
    const delay = Math.min(def.backoff_max, def.backoff_initial * 2 ** this.#restartTimes.length);
    this.#restartTimes.push(now + delay);
    this.#setState('starting');
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      void this.#serial(async () => {
        if (this.#child || this.state !== 'starting') return; // stopped or started by hand meanwhile
        this.restarts++;
        this.emit('restart');
        await this.#spawn();
      }).catch(() => {
        /* #failStart already logged and set error */
      });
    }, delay);
  }

  async #stopProcess(): Promise<void> {
    const child = this.#child!;
    const pgid = child.pid!;
    this.#stopRequested = true;
    this.health.end(); // a plugin being stopped is not failing its checks
    this.#setState('stopping');
    const deadline = this.#opts.clock.now() + this.definition.stop_timeout;
    // processes that left the group (setsid): from the cgroup, or else from the tree while the plugin still holds it
    const detached = await this.#outsideGroup(pgid, this.#opts.cgroups ? await this.#opts.cgroups.pids(this.id) : await descendantsOf(pgid));
    signalGroup(pgid, 'SIGTERM');
    for (const pid of detached) signalPid(pid, 'SIGTERM');
    const killTimer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), this.definition.stop_timeout);
    await this.#exited;
    clearTimeout(killTimer);
    await this.#killGroup(pgid, Math.max(0, deadline - this.#opts.clock.now()), false, detached);
    this.#setState('stopped');
    this.#opts.log?.('info', 'plugin stopped', { plugin_id: this.id, code: this.lastExit?.code, signal: this.lastExit?.signal });
  }

  /**
   * Waits for the process group, and what else belongs to the plugin (its cgroup, or the `detached` pids found at
   * stop), to be empty: SIGTERM first (unless already sent), SIGKILL at the deadline.
   */
  async #killGroup(pgid: number, timeoutMs: number, sendTerm = true, detached: number[] = []): Promise<void> {
    const cg = this.#opts.cgroups;
    const others = async () => (cg ? cg.pids(this.id) : detached.filter(isAlive));
    const left = async () => groupExists(pgid) || (await others()).length > 0;
    if (!(await left())) return;
    if (sendTerm) {
      signalGroup(pgid, 'SIGTERM');
      for (const pid of await this.#outsideGroup(pgid, await others())) signalPid(pid, 'SIGTERM');
    }
    const until = Date.now() + timeoutMs;
    while ((await left()) && Date.now() < until) await sleep(25);
    if (!(await left())) return;
    signalGroup(pgid, 'SIGKILL');
    if (cg) await cg.killAll(this.id);
    else for (const pid of detached) signalPid(pid, 'SIGKILL');
    const hard = Date.now() + 1000;
    while ((await left()) && Date.now() < hard) await sleep(25);
  }

  /** The pids not in process group `pgid` (they get their own signal; the group's members get the group's). */
  async #outsideGroup(pgid: number, pids: number[]): Promise<number[]> {
    const out: number[] = [];
    for (const pid of pids) {
      const st = await readFile(`/proc/${pid}/stat`, 'latin1').then(parseProcStat, () => null);
      if (st && st.pgrp !== pgid) out.push(pid);
    }
    return out;
  }

  /**
   * Waits for the process just spawned to count as running or to exit. Not for a state change: a process that exits
   * within start_grace under a restart policy goes from `starting` to `starting` (awaiting its restart), which emits
   * nothing, and the restart itself waits for the lock this operation holds.
   */
  #waitUntilSettled(): Promise<void> {
    return this.#settled;
  }

  #cancelRestart(): void {
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
  }

  #setState(state: PluginState): void {
    if (this.state === state) return;
    const from = this.state;
    this.state = state;
    this.emit('change', state, from);
  }

  #newLog(stream: 'stdout' | 'stderr'): RotatingLog {
    return new RotatingLog({
      file: path.join(this.#opts.logsDir, `${this.id}.${stream}.log`),
      maxBytes: this.#opts.logLimits.maxBytes,
      maxFiles: this.#opts.logLimits.maxFiles,
      onDrop: this.#opts.onLogDrop,
    });
  }

  async #closeLogs(): Promise<void> {
    const logs = this.#logs;
    this.#logs = null;
    await Promise.all([logs?.out.close(), logs?.err.close()]);
  }
}

/** How long after start_grace a reload waits for readiness: the longest readiness check's initial delay plus failure_threshold runs. */
function readinessBudget(def: PluginDefinition): number {
  let ms = 0;
  for (const c of def.health_checks) if (c.role === 'readiness') ms = Math.max(ms, c.initial_delay + c.failure_threshold * c.interval + c.timeout);
  return ms;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function isExecutableFile(p: string): Promise<boolean> {
  try {
    await access(p, fsConstants.X_OK);
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Resolves a command as execvp would: a path (relative to cwd) when it has a slash, else the first match on PATH. */
export async function resolveCommand(command: string, cwd: string, pathEnv: string): Promise<string | null> {
  if (command.includes('/')) {
    const p = path.resolve(cwd, command);
    return (await isExecutableFile(p)) ? p : null;
  }
  for (const dir of pathEnv.split(':')) {
    const p = path.resolve(cwd, dir || '.', command);
    if (await isExecutableFile(p)) return p;
  }
  return null;
}
