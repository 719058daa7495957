import type { HostSample } from './host.js';

/** Lifecycle states of a supervised plugin, as the plugin-management document names them. */
export const PLUGIN_STATES = ['stopped', 'starting', 'running', 'stopping', 'error'] as const;
export type PluginState = (typeof PLUGIN_STATES)[number];

/** A plugin's health from its checks (docs/health.md). */
export const PLUGIN_HEALTH = ['healthy', 'unhealthy', 'degraded', 'unknown'] as const;
export type PluginHealthStatus = (typeof PLUGIN_HEALTH)[number];
export type CheckStatus = 'unknown' | 'passing' | 'failing';

/** One health check as the API, /metrics and the WebSocket show it. */
export interface CheckView {
  name: string;
  type: 'http' | 'tcp' | 'exec' | 'heartbeat';
  role: 'liveness' | 'readiness' | 'dependency';
  status: CheckStatus;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  runs: number;
  failures: number;
  /** The last run: when it ended (epoch ms), whether it passed, why not, how long it took. */
  last: { atMs: number; ok: boolean; error: string | null; durationMs: number } | null;
}

export interface HealthView {
  status: PluginHealthStatus;
  checks: CheckView[];
}

/** Duration buckets in seconds: OpenTelemetry's advised boundaries for request durations (semantic-conventions #318). */
export const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] as const;
/** One call a plugin reported (POST /plugin/{id}/report). */
export interface CallReport {
  tool: string;
  durationMs: number;
  ok: boolean;
  error?: string | undefined;
}

export interface ToolTotals {
  tool: string;
  ok: number;
  failed: number;
  sumSeconds: number;
  /** Calls per bucket of CALL_BUCKETS (not cumulative), plus one slot for +Inf. */
  buckets: number[];
}

/** One plugin's service metrics at one instant, as sinks and the API read them. */
export interface ServiceSnapshot {
  totalCalls: number;
  failedCalls: number;
  sumSeconds: number;
  lastActivityMs: number | null;
  lastError: { message: string; tool: string; atMs: number } | null;
  consecutiveFailures: number;
  activeConnections: number | null;
  declaredTools: readonly string[] | null;
  /** Calls the plugin said it dropped before reporting them (its own queue was full), since perfwatch started. */
  droppedCalls: number;
  tools: ToolTotals[];
  /** Over the last `windowMs`: null fields when no call ended in it. */
  window: { seconds: number; calls: number; failed: number; errorRatio: number | null; averageSeconds: number | null; p95Seconds: number | null; perSecond: number };
}

/** One measurement of a plugin's whole process tree, taken once per collection tick and read by every sink. */
export interface PluginSample {
  pluginId: string;
  /** Main pid of the plugin (the process perfwatch spawned). */
  pid: number;
  /** Epoch milliseconds with sub-millisecond precision. */
  timestampMs: number;
  /** 100 = one core fully busy, summed over the tree. */
  cpuPercent: number;
  /** Cumulative CPU seconds of the tree, including reaped children; never decreases for the plugin's lifetime in perfwatch. */
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  rssBytes: number;
  /** Share of host RAM, 0–100. */
  memoryPercent: number;
  threads: number;
  processes: number;
}

/** A plugin process the supervisor reports as alive, with the time it was spawned. */
export interface RunningPlugin {
  id: string;
  pid: number;
  startedAtMs: number;
}

/** What sinks know of each registered plugin besides its samples. */
export interface PluginStatusView {
  id: string;
  name: string;
  version: string;
  state: PluginState;
  restarts: number;
  startedAtMs: number | null;
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | null;
  health: HealthView;
  /** What the plugin reported about its calls (docs/service-metrics.md); null before its first report. */
  service: ServiceSnapshot | null;
}

/**
 * Everything one collection tick produced: the only thing sinks read. Built by the pipeline (pipeline/pipeline.ts),
 * frozen before the first sink sees it.
 */
export interface Snapshot {
  timestampMs: number;
  /** The latest host sample: this tick's, or an earlier one when this tick's failed (`host.timestampMs` tells); null when the host collector is off or has not succeeded yet. */
  host: HostSample | null;
  plugins: readonly PluginSample[];
  /** Every registered plugin, running or not, at the time of the tick. */
  statuses: readonly PluginStatusView[];
  /** Wall time each collector took, in seconds, by collector name. */
  collectorSeconds: Readonly<Record<string, number>>;
  /** Collection plus the store's appends, in seconds. */
  cycleSeconds: number;
}
