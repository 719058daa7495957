/**
 * Deterministic findings from a report's data, each with the evidence that triggered it (docs/reports.md). No AI: the
 * same data always gives the same findings, and every number in a finding can be checked against the report.
 */

export interface Recommendation {
  kind: 'sustained_cpu' | 'memory_growth' | 'disk_full' | 'restart_loop' | 'failing_calls' | 'noisy_rule' | 'silent_rule';
  severity: 'info' | 'warning' | 'critical';
  subject: string;
  finding: string;
  evidence: Record<string, number | string | boolean>;
}

export const THRESHOLDS = {
  /** A plugin above this CPU % (of one core) … */
  cpuPercent: 80,
  /** … for at least this share of its samples in the period. */
  cpuShare: 0.5,
  /** Memory growth: a fit at least this good … */
  memoryR2: 0.8,
  /** … growing at least this many MB an hour. */
  memoryMbPerHour: 1,
  /** Disk: full within this many days at the fitted rate. */
  diskDays: 30,
  diskR2: 0.5,
  restarts: 3,
  /** A plugin whose reported calls fail this often (of at least `minCalls`)… */
  callErrorRate: 0.1,
  minCalls: 100,
  /** A rule that fired at least this many times in the period is noisy. */
  noisyCount: 10,
} as const;

/**
 * Least squares of y on x over flat `[x0, y0, …]`, x read as `(x - x0) / xUnit` (so a slope reads per hour or per day):
 * slope, intercept and R² (1 for a perfect line; 0 when y does not vary).
 */
export function linearFit(data: Float64Array, xUnit = 1): { slope: number; intercept: number; r2: number } | null {
  const n = data.length / 2;
  if (n < 3) return null;
  const x0 = data[0]!;
  const x = (i: number) => (data[2 * i]! - x0) / xUnit;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += x(i);
    sy += data[2 * i + 1]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x(i) - mx;
    const dy = data[2 * i + 1]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 0 : (sxy * sxy) / (sxx * syy) };
}

const r = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export function recommend(d: {
  rows: ReadonlyArray<{ plugin_id: string; status: string; restarts: number; samples: number; calls_total?: number | null; calls_failed?: number | null }>;
  /** Disk usage in percent, flat `[t, v, …]`. */
  disk: Float64Array;
  alerts: ReadonlyArray<{ rule_id: string; title: string }>;
  rules: ReadonlyArray<Record<string, unknown>>;
  spanMs: number;
  /** A plugin's memory in MB by bucket, in time order, flat `[t, v, …]`. */
  pluginSeries: (id: string) => Float64Array;
  /** A plugin's CPU samples in the period: how many, how many above THRESHOLDS.cpuPercent, their mean. */
  cpuStats: (id: string) => { samples: number; above: number; average: number };
}): Recommendation[] {
  const out: Recommendation[] = [];
  const hours = d.spanMs / 3_600_000;
  for (const p of d.rows) {
    if (p.samples >= 10) {
      const cpu = d.cpuStats(p.plugin_id);
      if (cpu.samples && cpu.above / cpu.samples >= THRESHOLDS.cpuShare) {
        out.push({
          kind: 'sustained_cpu',
          severity: 'warning',
          subject: p.plugin_id,
          finding: `Plugin ${p.plugin_id} used more than ${THRESHOLDS.cpuPercent}% of a core in ${Math.round((cpu.above / cpu.samples) * 100)}% of its samples: profile it, or give it more CPU.`,
          evidence: { samples: cpu.samples, above_threshold: cpu.above, share: r(cpu.above / cpu.samples), threshold_percent: THRESHOLDS.cpuPercent, average_percent: r(cpu.average) },
        });
      }
      // hours from the first point, so the slope reads in MB an hour
      const mem = d.pluginSeries(p.plugin_id);
      const fit = linearFit(mem, 3_600_000);
      if (fit && fit.r2 >= THRESHOLDS.memoryR2 && fit.slope >= THRESHOLDS.memoryMbPerHour) {
        out.push({
          kind: 'memory_growth',
          severity: 'warning',
          subject: p.plugin_id,
          finding: `Plugin ${p.plugin_id}'s memory grew steadily by ${r(fit.slope)} MB an hour (R² ${r(fit.r2, 3)}): a leak suspect.`,
          evidence: { slope_mb_per_hour: r(fit.slope), r2: r(fit.r2, 3), points: mem.length / 2, first_mb: r(mem[1]!), last_mb: r(mem.at(-1)!) },
        });
      }
    }
    if (p.calls_total && p.calls_total >= THRESHOLDS.minCalls && (p.calls_failed ?? 0) / p.calls_total >= THRESHOLDS.callErrorRate) {
      const rate = (p.calls_failed ?? 0) / p.calls_total;
      out.push({
        kind: 'failing_calls',
        severity: rate >= 0.5 ? 'critical' : 'warning',
        subject: p.plugin_id,
        finding: `${Math.round(rate * 100)}% of the ${p.calls_total} calls plugin ${p.plugin_id} reported failed: GET /plugin/${p.plugin_id}/service-metrics has the last error.`,
        evidence: { calls: p.calls_total, failed: p.calls_failed ?? 0, error_rate: r(rate, 4), threshold: THRESHOLDS.callErrorRate },
      });
    }
    if (p.restarts >= THRESHOLDS.restarts) {
      out.push({
        kind: 'restart_loop',
        severity: p.status === 'error' ? 'critical' : 'warning',
        subject: p.plugin_id,
        finding: `Plugin ${p.plugin_id} was restarted ${p.restarts} times by its restart policy since perfwatch started${p.status === 'error' ? ' and gave up (status error)' : ''}: read its stderr log.`,
        evidence: { restarts: p.restarts, status: p.status, threshold: THRESHOLDS.restarts },
      });
    }
  }
  const fit = linearFit(d.disk, 86_400_000);
  const last = d.disk.at(-1);
  if (fit && last !== undefined && fit.slope > 0 && fit.r2 >= THRESHOLDS.diskR2) {
    const days = (100 - last) / fit.slope;
    if (days <= THRESHOLDS.diskDays) {
      out.push({
        kind: 'disk_full',
        severity: days <= 7 ? 'critical' : 'warning',
        subject: 'disk',
        finding: `At the rate of this period (${r(fit.slope)} points a day) the disk is full in ${r(days, 1)} days.`,
        evidence: { current_percent: r(last), slope_percent_per_day: r(fit.slope, 3), r2: r(fit.r2, 3), days_to_full: r(days, 1) },
      });
    }
  }
  const fired = new Map<string, { title: string; count: number }>();
  for (const a of d.alerts) {
    const f = fired.get(a.rule_id) ?? { title: a.title, count: 0 };
    f.count++;
    fired.set(a.rule_id, f);
  }
  for (const [rule, f] of fired) {
    if (f.count >= THRESHOLDS.noisyCount) {
      out.push({
        kind: 'noisy_rule',
        severity: 'info',
        subject: rule,
        finding: `Rule ${rule} fired ${f.count} times in the period (${r(f.count / Math.max(hours, 1e-9), 1)} an hour): raise its threshold, add a \`for\` or a cooldown.`,
        evidence: { fired: f.count, per_hour: r(f.count / Math.max(hours, 1e-9), 2), threshold: THRESHOLDS.noisyCount },
      });
    }
  }
  for (const rule of d.rules) {
    if (rule.enabled === true && Number(rule.trigger_count) === 0) {
      out.push({
        kind: 'silent_rule',
        severity: 'info',
        subject: String(rule.id),
        finding: `Rule ${String(rule.id)} has never fired: check that its metric exists and its threshold can be reached.`,
        evidence: { trigger_count: 0, metric: String(rule.metric ?? ''), threshold: Number(rule.threshold ?? 0) },
      });
    }
  }
  return out;
}
