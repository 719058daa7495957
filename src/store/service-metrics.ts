import type { Clock } from '../model/clock.js';
import { CALL_BUCKETS, type CallReport, type ServiceSnapshot, type ToolTotals } from '../model/plugin.js';

export { CALL_BUCKETS, type CallReport, type ServiceSnapshot, type ToolTotals };

/**
 * Per-plugin service metrics (seed 003's ServiceMetrics): the calls each plugin reports, by tool, with their outcome and
 * duration. Totals are counters since perfwatch started; a sliding window (per-second slots) gives the recent error
 * ratio, mean duration, rate and p95 that alert rules and `perfwatch top` read. Memory per plugin is fixed by
 * `maxTools` and the window length.
 */

/** The tool name calls are counted under past a plugin's `maxTools`. */
export const OTHER_TOOL = 'other';


interface Slot {
  second: number;
  calls: number;
  failed: number;
  sumSeconds: number;
  buckets: number[];
}

class PluginService {
  tools = new Map<string, ToolTotals>();
  totalCalls = 0;
  failedCalls = 0;
  sumSeconds = 0;
  lastActivityMs: number | null = null;
  lastError: ServiceSnapshot['lastError'] = null;
  consecutiveFailures = 0;
  activeConnections: number | null = null;
  declaredTools: string[] | null = null;
  droppedCalls = 0;
  slots: Slot[];

  constructor(windowSeconds: number) {
    this.slots = Array.from({ length: windowSeconds }, () => ({ second: -1, calls: 0, failed: 0, sumSeconds: 0, buckets: new Array(CALL_BUCKETS.length + 1).fill(0) }));
  }
}

export function bucketIndex(seconds: number): number {
  let i = 0;
  while (i < CALL_BUCKETS.length && seconds > CALL_BUCKETS[i]!) i++;
  return i;
}

export class ServiceMetrics {
  #plugins = new Map<string, PluginService>();
  #maxTools: number;
  #windowSeconds: number;
  #clock: Clock;
  #listeners: Array<(pluginId: string, calls: readonly CallReport[]) => void> = [];

  constructor(o: { maxTools: number; windowMs: number; clock: Clock }) {
    this.#maxTools = o.maxTools;
    this.#windowSeconds = Math.max(1, Math.round(o.windowMs / 1000));
    this.#clock = o.clock;
  }

  /** Called with every accepted batch (the OTLP histogram records each call). */
  onCalls(fn: (pluginId: string, calls: readonly CallReport[]) => void): void {
    this.#listeners.push(fn);
  }

  /** Applies one validated report. Tools past the plugin's cap are counted under `other`. */
  record(pluginId: string, r: { calls: readonly CallReport[]; activeConnections?: number | undefined; tools?: readonly string[] | undefined; droppedCalls?: number | undefined }): void {
    let p = this.#plugins.get(pluginId);
    if (!p) this.#plugins.set(pluginId, (p = new PluginService(this.#windowSeconds)));
    const now = this.#clock.now();
    if (r.activeConnections !== undefined) p.activeConnections = r.activeConnections;
    if (r.tools !== undefined) p.declaredTools = [...new Set(r.tools)];
    if (r.droppedCalls) p.droppedCalls += r.droppedCalls;
    if (!r.calls.length) return;
    const second = Math.floor(now / 1000);
    const slot = p.slots[second % p.slots.length]!;
    if (slot.second !== second) {
      slot.second = second;
      slot.calls = 0;
      slot.failed = 0;
      slot.sumSeconds = 0;
      slot.buckets.fill(0);
    }
    for (const c of r.calls) {
      let t = p.tools.get(c.tool);
      if (!t) {
        const name = p.tools.size >= this.#maxTools ? OTHER_TOOL : c.tool;
        t = p.tools.get(name);
        if (!t) p.tools.set(name, (t = { tool: name, ok: 0, failed: 0, sumSeconds: 0, buckets: new Array(CALL_BUCKETS.length + 1).fill(0) }));
      }
      const s = c.durationMs / 1000;
      const b = bucketIndex(s);
      t.sumSeconds += s;
      t.buckets[b]!++;
      slot.calls++;
      slot.sumSeconds += s;
      slot.buckets[b]!++;
      p.totalCalls++;
      p.sumSeconds += s;
      if (c.ok) {
        t.ok++;
        p.consecutiveFailures = 0;
      } else {
        t.failed++;
        slot.failed++;
        p.failedCalls++;
        p.consecutiveFailures++;
        p.lastError = { message: c.error ?? 'error', tool: c.tool, atMs: now };
      }
    }
    p.lastActivityMs = now;
    for (const fn of this.#listeners) fn(pluginId, r.calls);
  }

  /** What a plugin has reported, or null when it never reported anything. */
  snapshot(pluginId: string): ServiceSnapshot | null {
    const p = this.#plugins.get(pluginId);
    if (!p) return null;
    const nowSecond = Math.floor(this.#clock.now() / 1000);
    let calls = 0;
    let failed = 0;
    let sum = 0;
    const buckets = new Array<number>(CALL_BUCKETS.length + 1).fill(0);
    for (const s of p.slots) {
      // the window is the last `windowSeconds` whole seconds, the current one included
      if (s.second < 0 || nowSecond - s.second >= p.slots.length) continue;
      calls += s.calls;
      failed += s.failed;
      sum += s.sumSeconds;
      for (let i = 0; i < buckets.length; i++) buckets[i]! += s.buckets[i]!;
    }
    return {
      totalCalls: p.totalCalls,
      failedCalls: p.failedCalls,
      sumSeconds: p.sumSeconds,
      lastActivityMs: p.lastActivityMs,
      lastError: p.lastError,
      consecutiveFailures: p.consecutiveFailures,
      activeConnections: p.activeConnections,
      declaredTools: p.declaredTools,
      droppedCalls: p.droppedCalls,
      tools: [...p.tools.values()].map((t) => ({ ...t, buckets: [...t.buckets] })),
      window: {
        seconds: p.slots.length,
        calls,
        failed,
        errorRatio: calls ? failed / calls : null,
        averageSeconds: calls ? sum / calls : null,
        p95Seconds: calls ? quantile(0.95, buckets) : null,
        perSecond: calls / p.slots.length,
      },
    };
  }
}

/**
 * The q-quantile of bucketed durations, interpolated linearly inside its bucket as Prometheus' histogram_quantile does
 * (the lowest bucket from 0; the +Inf bucket answers its lower bound).
 */
export function quantile(q: number, buckets: readonly number[]): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (!total) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i]!;
    if (seen + n >= rank && n > 0) {
      if (i === CALL_BUCKETS.length) return CALL_BUCKETS[CALL_BUCKETS.length - 1]!;
      const lo = i === 0 ? 0 : CALL_BUCKETS[i - 1]!;
      const hi = CALL_BUCKETS[i]!;
      return lo + (hi - lo) * ((rank - seen) / n);
    }
    seen += n;
  }
  return CALL_BUCKETS[CALL_BUCKETS.length - 1]!;
}
