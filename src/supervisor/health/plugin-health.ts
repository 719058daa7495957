import type { HealthCheckConfig } from '../../config/schema.js';
import type { Clock } from '../../model/clock.js';
import type { CheckView, HealthView, PluginHealthStatus } from '../../model/plugin.js';
import { probeExec, probeHttp, probeTcp, type ProbeResult } from './probes.js';

export type HeartbeatStatus = 'pass' | 'warn' | 'fail';

export interface PluginHealthOptions {
  clock: Clock;
  /** A liveness check just turned failing: the supervisor restarts the plugin. */
  onLivenessFailure: (check: string, error: string) => void;
  /** Every readiness check passes (or there is none) for the process started last. */
  onReady: () => void;
  /** The plugin's health (or one check's status) changed. */
  onChange: (view: HealthView, previous: PluginHealthStatus, check: CheckView) => void;
  /** Runs one check; defaults to the real probes. Tests of the state machine pass their own. */
  probe?: (c: HealthCheckConfig, ctx: ProbeContext) => Promise<ProbeResult>;
}

export interface ProbeContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The latest heartbeat report, for `heartbeat` checks. */
  heartbeat: { atMs: number; status: HeartbeatStatus; note: string } | null;
  nowMs: number;
  /** When the process being checked started (its checks began). */
  startedAtMs: number;
}

interface CheckState extends CheckView {
  config: HealthCheckConfig;
  timer: NodeJS.Timeout | null;
}

/**
 * The health checks of one plugin, for the life of one process: `begin` at spawn schedules every check after its
 * `initial_delay`, `end` at exit cancels them. Each check runs again `interval` after its previous run started, never
 * two at once; a run that outlives `timeout` is cut by its probe. A check needs `failure_threshold` failures in a row
 * to turn failing and `success_threshold` passes to turn passing (Kubernetes' probe rules).
 *
 * The plugin is `unhealthy` while a liveness or readiness check fails, else `degraded` while a dependency fails, else
 * `unknown` while it has no process, no check, or a check without a verdict yet, else `healthy`.
 */
export class PluginHealth {
  #o: PluginHealthOptions;
  #checks: CheckState[] = [];
  #live = false;
  #generation = 0;
  #heartbeat: ProbeContext['heartbeat'] = null;
  #ctx: { cwd: string; env: NodeJS.ProcessEnv } = { cwd: '.', env: {} };
  #readySignalled = false;
  #startedAtMs = 0;

  constructor(o: PluginHealthOptions) {
    this.#o = o;
  }

  get hasReadiness(): boolean {
    return this.#checks.some((c) => c.config.role === 'readiness');
  }

  /** A new process: fresh check states from the plugin's current definition (a reload may have changed them). */
  begin(checks: readonly HealthCheckConfig[], ctx: { cwd: string; env: NodeJS.ProcessEnv }): void {
    this.end();
    this.#live = true;
    this.#ctx = ctx;
    this.#heartbeat = null;
    this.#readySignalled = false;
    this.#startedAtMs = this.#o.clock.now();
    const generation = ++this.#generation;
    // run and failure totals are counters: they go on across processes for a check of the same name
    const before = new Map(this.#checks.map((c) => [c.name, c]));
    this.#checks = checks.map((config) => ({ ...emptyView(config), runs: before.get(config.name)?.runs ?? 0, failures: before.get(config.name)?.failures ?? 0, config, timer: null }));
    for (const c of this.#checks) c.timer = setTimeout(() => void this.#run(c, generation), c.config.initial_delay);
    this.#maybeReady();
  }

  /** The process is gone: nothing runs until the next `begin`; the last results stay readable. */
  end(): void {
    this.#live = false;
    this.#generation++;
    for (const c of this.#checks) {
      if (c.timer) clearTimeout(c.timer);
      c.timer = null;
    }
  }

  /** A heartbeat report from the plugin (Consul's TTL check: pass, warn or fail with a note). */
  heartbeat(status: HeartbeatStatus, note: string): void {
    this.#heartbeat = { atMs: this.#o.clock.now(), status, note };
  }

  get lastHeartbeat(): ProbeContext['heartbeat'] {
    return this.#heartbeat;
  }

  view(): HealthView {
    return { status: this.status(), checks: this.#checks.map(toView) };
  }

  status(): PluginHealthStatus {
    if (!this.#live || !this.#checks.length) return 'unknown';
    if (this.#checks.some((c) => c.status === 'failing' && c.config.role !== 'dependency')) return 'unhealthy';
    if (this.#checks.some((c) => c.status === 'failing')) return 'degraded';
    if (this.#checks.some((c) => c.status === 'unknown')) return 'unknown';
    return 'healthy';
  }

  async #run(c: CheckState, generation: number): Promise<void> {
    c.timer = null;
    const started = this.#o.clock.now();
    let result: ProbeResult;
    try {
      result = await (this.#o.probe ?? runProbe)(c.config, { ...this.#ctx, heartbeat: this.#heartbeat, nowMs: started, startedAtMs: this.#startedAtMs });
    } catch (err) {
      result = { ok: false, error: (err as Error).message, durationMs: this.#o.clock.now() - started };
    }
    if (generation !== this.#generation) return; // the process it probed is gone
    if (!result.pending) this.#record(c, result);
    const next = Math.max(0, started + c.config.interval - this.#o.clock.now());
    c.timer = setTimeout(() => void this.#run(c, generation), next);
  }

  #record(c: CheckState, r: ProbeResult): void {
    const before = this.status();
    const was = c.status;
    c.runs++;
    c.last = { atMs: this.#o.clock.now(), ok: r.ok, error: r.error, durationMs: r.durationMs };
    if (r.ok) {
      c.consecutiveSuccesses++;
      c.consecutiveFailures = 0;
      if (c.status !== 'passing' && c.consecutiveSuccesses >= c.config.success_threshold) c.status = 'passing';
    } else {
      c.failures++;
      c.consecutiveFailures++;
      c.consecutiveSuccesses = 0;
      if (c.status !== 'failing' && c.consecutiveFailures >= c.config.failure_threshold) c.status = 'failing';
    }
    if (c.status !== was || this.status() !== before) this.#o.onChange(this.view(), before, toView(c));
    if (c.status === 'failing' && was !== 'failing' && c.config.role === 'liveness') this.#o.onLivenessFailure(c.name, r.error ?? 'failed');
    this.#maybeReady();
  }

  #maybeReady(): void {
    if (this.#readySignalled || !this.#live) return;
    if (this.#checks.every((c) => c.config.role !== 'readiness' || c.status === 'passing')) {
      this.#readySignalled = true;
      this.#o.onReady();
    }
  }
}

function emptyView(config: HealthCheckConfig): CheckView {
  return { name: config.name, type: config.type, role: config.role, status: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0, runs: 0, failures: 0, last: null };
}

function toView(c: CheckState): CheckView {
  const { config: _config, timer: _timer, ...view } = c;
  return { ...view, last: c.last ? { ...c.last } : null };
}

/** The real probes, by check type. */
export function runProbe(c: HealthCheckConfig, ctx: ProbeContext): Promise<ProbeResult> {
  switch (c.type) {
    case 'http':
      return probeHttp(c.url!, { timeoutMs: c.timeout, expectStatus: c.expect_status, expectBody: c.expect_body });
    case 'tcp':
      return probeTcp(c.address!, { timeoutMs: c.timeout });
    case 'exec':
      return probeExec(c.command!, { timeoutMs: c.timeout, cwd: ctx.cwd, env: ctx.env });
    case 'heartbeat':
      return Promise.resolve(heartbeatResult(ctx, c.ttl!));
  }
}

/**
 * A heartbeat check passes while the latest report is `pass` or `warn` and younger than `ttl`. The first one is due
 * `ttl` after the process started: until then the check has no verdict (a slow start is not a failure, and not a pass).
 */
function heartbeatResult(ctx: ProbeContext, ttlMs: number): ProbeResult {
  const hb = ctx.heartbeat;
  if (!hb && ctx.nowMs - ctx.startedAtMs <= ttlMs) return { ok: false, error: null, durationMs: 0, pending: true };
  if (!hb) return { ok: false, error: `no heartbeat within ${ttlMs} ms of the start`, durationMs: 0 };
  if (hb.status === 'fail') return { ok: false, error: `the plugin reported fail${hb.note ? `: ${hb.note}` : ''}`, durationMs: 0 };
  const age = ctx.nowMs - hb.atMs;
  if (age > ttlMs) return { ok: false, error: `last heartbeat ${(age / 1000).toFixed(1)} s ago (ttl ${ttlMs} ms)`, durationMs: 0 };
  return { ok: true, error: null, durationMs: 0 };
}
