import { stringify } from 'yaml';
import { Evaluator, type Lookup, type SeriesSample } from './evaluator.js';
import { promDuration, renderRuleFile, selector } from './promql.js';
import { ruleInputSchema, toRule, type Rule, type RuleInput } from './rule.js';

/**
 * The equivalence generator: synthetic series go through the in-process evaluator, and what it decided becomes a
 * `promtool test rules` file whose `exp_alerts` are the evaluator's firing alerts at every evaluation, over the rule
 * file the Prometheus compiler writes for the same rules. promtool passing proves both compilers agree on these series.
 *
 * Pinned semantics (Prometheus 2.42, as Debian ships it): evaluation at every sample step from t = 0; instant lookback
 * 5m closed ([t-5m, t]); a `stale` marker hides a series at once; a gap (`_`) keeps the last sample visible for 5m.
 * Cases left out on purpose (docs/alerting.md): manual resolution (perfwatch-only), the first two evaluations after a
 * Prometheus restart (no ALERTS series yet), and scrape/evaluation offsets in production (equivalence holds for the
 * same samples at the same timestamps).
 */

export type StepValue = number | null | 'stale';

export interface SyntheticSeries {
  name: string;
  labels: Record<string, string>;
  /** One entry per evaluation step: a value, null for no sample (`_`), or a staleness marker. */
  values: StepValue[];
}

export interface Scenario {
  name: string;
  rules: RuleInput[];
  series: SyntheticSeries[];
}

export const LOOKBACK_MS = 5 * 60_000;

/** The latest visible sample of each series at step `i`, as a Prometheus 2.x instant query sees it. */
export function lookupAt(series: readonly SyntheticSeries[], i: number, intervalMs: number): Lookup {
  const window = Math.floor(LOOKBACK_MS / intervalMs);
  return (name) => {
    const out: SeriesSample[] = [];
    for (const s of series) {
      if (s.name !== name) continue;
      for (let j = i; j >= 0 && j >= i - window; j--) {
        const v = s.values[j];
        if (v === null || v === undefined) continue;
        if (v !== 'stale') out.push({ labels: s.labels, value: v });
        break;
      }
    }
    return out;
  };
}

function seriesValues(values: readonly StepValue[]): string {
  return values.map((v) => (v === null ? '_' : v === 'stale' ? 'stale' : String(v))).join(' ');
}

export interface GeneratedTest {
  rules: Rule[];
  ruleFile: string;
  testFile: string;
  /** Firing alerts the evaluator saw, summed over steps (a scenario that never fires proves little). */
  firingCount: number;
}

/** Runs the scenario through the evaluator and writes the promtool files (rule file name given for `rule_files`). */
export function generateTest(scenario: Scenario, intervalMs: number, ruleFileName: string): GeneratedTest {
  const rules = scenario.rules.map((input) => {
    const parsed = ruleInputSchema.parse(input);
    return toRule(parsed, { id: parsed.id ?? parsed.name.toLowerCase(), source: 'file', createdAtMs: 0 });
  });
  const evaluator = new Evaluator();
  evaluator.setRules(rules);
  const steps = Math.max(...scenario.series.map((s) => s.values.length));
  const checks: Array<Record<string, unknown>> = [];
  let firingCount = 0;
  for (let i = 0; i < steps; i++) {
    const t = i * intervalMs;
    evaluator.evaluate(t, lookupAt(scenario.series, i, intervalMs));
    const firing = [...evaluator.active()].filter((a) => a.state === 'firing');
    firingCount += firing.length;
    for (const rule of rules) {
      checks.push({
        eval_time: promDuration(t),
        alertname: rule.alertname,
        exp_alerts: firing
          .filter((a) => a.rule.id === rule.id)
          .map((a) => ({ exp_labels: a.labels, exp_annotations: a.annotations })),
      });
    }
  }
  const test = {
    rule_files: [ruleFileName],
    evaluation_interval: promDuration(intervalMs),
    tests: [
      {
        name: scenario.name,
        interval: promDuration(intervalMs),
        input_series: scenario.series.map((s) => ({ series: selector(s.name, s.labels), values: seriesValues(s.values) })),
        alert_rule_test: checks,
      },
    ],
  };
  return { rules, ruleFile: renderRuleFile(rules, intervalMs), testFile: stringify(test, { lineWidth: 0 }), firingCount };
}

/** Deterministic PRNG (mulberry32) so generated scenarios are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TARGET = { instance: 'host:9470', job: 'perfwatch' };
const rep = (v: StepValue, n: number): StepValue[] => Array.from({ length: n }, () => v);
const ramp = (from: number, step: number, n: number): StepValue[] => Array.from({ length: n }, (_, i) => Math.round((from + i * step) * 1e6) / 1e6);

/** A random walk around `center`, with gaps and (optionally) staleness markers. */
function walk(seed: number, n: number, center: number, spread: number, opts: { gaps?: number; stale?: number } = {}): StepValue[] {
  const rnd = prng(seed);
  const out: StepValue[] = [];
  let v = center;
  for (let i = 0; i < n; i++) {
    v = Math.min(center + spread, Math.max(center - spread, v + (rnd() - 0.5) * spread * 0.6));
    const r = rnd();
    if (opts.stale && r < opts.stale) out.push('stale');
    else if (opts.gaps && r < (opts.stale ?? 0) + opts.gaps) out.push(null);
    else out.push(Math.round(v * 1e4) / 1e4);
  }
  return out;
}

/** The scenarios CI proves: steps, ramps, flapping around the threshold (with and without hysteresis/cooldown), gaps. */
export function scenarios(): Scenario[] {
  const cpu = (values: StepValue[]) => ({ name: 'perfwatch_host_cpu_usage_ratio', labels: { ...TARGET }, values });
  return [
    {
      name: 'step with for',
      rules: [{ name: 'high_cpu', metric: 'cpu_percent', operator: 'greater_than', threshold: 80, for: '30s', level: 'warning', description: 'CPU usage high' }],
      series: [cpu([...rep(0.5, 4), ...rep(0.9, 8), ...rep(0.5, 4), ...rep(0.85, 2), 0.5, ...rep(0.95, 6)])],
    },
    {
      name: 'ramp up and down, operators',
      rules: [
        { name: 'memory_ge', metric: 'memory_percent', operator: '>=', threshold: 85, level: 'critical', message: 'memory at {{ $value }}%' },
        { name: 'memory_le', metric: 'memory_percent', operator: 'less_equal', threshold: 82, level: 'info' },
        { name: 'memory_eq', metric: 'memory_used', operator: 'equal', threshold: 1234567, level: 'info', message: 'used {{ $value }} bytes' },
        { name: 'memory_ne', metric: 'memory_used', operator: '!=', threshold: 1234567, level: 'info' },
      ],
      series: [
        { name: 'perfwatch_host_memory_usage_ratio', labels: { ...TARGET }, values: [...ramp(0.8, 0.01, 12), ...ramp(0.9, -0.01, 12)] },
        { name: 'perfwatch_host_memory_used_bytes', labels: { ...TARGET }, values: [1234567, 1234567, 0.00001, 1234567, 1e21, 1234567] },
      ],
    },
    {
      name: 'flapping with hysteresis and keep_firing_for',
      rules: [
        { name: 'disk_full', metric: 'disk_percent', operator: '>', threshold: 90, clear_threshold: 80, for: '15s', level: 'critical', description: 'Disk {{ $labels.mountpoint }} almost full' },
        { name: 'disk_full_plain', metric: 'disk_percent', operator: '>', threshold: 90, level: 'warning' },
        { name: 'disk_full_kff', metric: 'disk_percent', operator: '>', threshold: 90, keep_firing_for: '30s', level: 'warning' },
      ],
      series: [
        { name: 'perfwatch_host_filesystem_usage_ratio', labels: { ...TARGET, mountpoint: '/' }, values: [0.89, 0.91, 0.92, 0.91, 0.89, 0.85, 0.81, 0.79, 0.91, 0.89, 0.92, 0.92, 0.78, 0.95, 0.85, 0.75, 0.7] },
        { name: 'perfwatch_host_filesystem_usage_ratio', labels: { ...TARGET, mountpoint: '/data' }, values: [0.95, 0.95, 0.5, 0.95, 0.5, 0.95, 0.95, 0.95, 0.79, 0.95] },
      ],
    },
    {
      name: 'flapping with cooldown',
      rules: [
        { name: 'cpu_cooldown', metric: 'cpu_percent', operator: '>', threshold: 80, cooldown: 60, level: 'warning' },
        { name: 'cpu_cooldown_hyst', metric: 'cpu_percent', operator: '>', threshold: 80, clear_threshold: 70, cooldown: '45s', for: '15s', level: 'error' },
      ],
      series: [cpu([0.9, 0.5, 0.9, 0.9, 0.9, 0.5, 0.9, 0.75, 0.9, 0.9, 0.6, 0.9, 0.5, 0.5, 0.5, 0.5, 0.9, 0.9, 0.75, 0.65, 0.9, 0.9, 0.9])],
    },
    {
      name: 'per-plugin label sets, gaps and staleness',
      rules: [
        { name: 'plugin_down', metric: 'plugin_up', operator: 'equal', threshold: 0, for: '30s', level: 'critical', description: 'Plugin {{ $labels.plugin_id }} is not running' },
        { name: 'plugin_cpu_high', metric: 'plugin_cpu_percent', operator: '>', threshold: 50, level: 'warning' },
        { name: 'echo_cpu_high', metric: 'plugin_cpu_percent', selector: { plugin_id: 'echo' }, operator: '>', threshold: 50, level: 'warning' },
      ],
      series: [
        { name: 'perfwatch_plugin_up', labels: { ...TARGET, plugin_id: 'echo' }, values: [1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1] },
        { name: 'perfwatch_plugin_up', labels: { ...TARGET, plugin_id: 'cache' }, values: [0, 0, 0, 0, 'stale', ...rep(null, 5), 0, 0, 0, 0] },
        { name: 'perfwatch_plugin_cpu_usage_ratio', labels: { ...TARGET, plugin_id: 'echo' }, values: [0.6, 0.6, null, null, null, 0.6, 'stale', 0.7, 0.4, 0.7, ...rep(null, 22), 0.7, 0.7] },
        { name: 'perfwatch_plugin_cpu_usage_ratio', labels: { ...TARGET, plugin_id: 'cache' }, values: [0.2, 0.8, 0.8, 'stale', null, 0.8] },
      ],
    },
    {
      // the metrics of the shipped rules plugin_unhealthy, high_error_rate and slow_response, with their thresholds and
      // timings; a window without calls removes the ratio and the mean from /metrics: a staleness marker here
      name: 'plugin health and service metrics',
      rules: [
        { name: 'plugin_unhealthy', metric: 'plugin_unhealthy', operator: 'equal', threshold: 1, for: '30s', cooldown: 300, level: 'error', description: 'Plugin {{ $labels.plugin_id }} is unhealthy' },
        { name: 'high_error_rate', metric: 'plugin_error_rate', operator: 'greater_than', threshold: 0.1, for: '1m', cooldown: 300, level: 'warning', message: '{{ $value }} of the calls of plugin {{ $labels.plugin_id }} failed' },
        { name: 'slow_response', metric: 'plugin_avg_response_time', operator: 'greater_than', threshold: 5, for: '1m', cooldown: 300, level: 'warning' },
      ],
      series: [
        { name: 'perfwatch_plugin_health', labels: { ...TARGET, plugin_id: 'web', status: 'unhealthy' }, values: [0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, ...rep(1, 30), 0] },
        { name: 'perfwatch_plugin_health', labels: { ...TARGET, plugin_id: 'db', status: 'unhealthy' }, values: rep(0, 20) },
        { name: 'perfwatch_plugin_call_error_ratio', labels: { ...TARGET, plugin_id: 'web' }, values: [0.05, ...rep(0.2, 6), 0.1, ...rep(0.25, 8), 'stale', ...rep(null, 3), ...rep(0.5, 30), 0] },
        { name: 'perfwatch_plugin_call_error_ratio', labels: { ...TARGET, plugin_id: 'db' }, values: [0.11, 0.11, 0.11, 0.11, 0.11, 0.11, 0.09] },
        { name: 'perfwatch_plugin_call_average_duration_seconds', labels: { ...TARGET, plugin_id: 'web' }, values: [1, ...rep(6, 8), 4, ...rep(5.5, 6), 'stale'] },
      ],
    },
    {
      name: 'custom metric in ms',
      rules: [{ name: 'slow_response', metric: 'response_time', unit: 'ms', operator: '>', threshold: 500, for: '15s', level: 'warning', message: 'response time {{ $value }} ms on {{ $labels.service }}' }],
      series: [{ name: 'perfwatch_custom_response_time_seconds', labels: { ...TARGET, service: 'api' }, values: [0.3, 0.6, 0.7, 0.501, 0.5, 0.6, 0.6, 0.6, 0.1] }],
    },
    {
      name: 'random walks',
      rules: [
        { name: 'walk_plain', metric: 'cpu_percent', operator: '>', threshold: 80, level: 'warning' },
        { name: 'walk_for', metric: 'cpu_percent', operator: '>=', threshold: 80, for: '45s', level: 'warning' },
        { name: 'walk_hyst', metric: 'cpu_percent', operator: '>', threshold: 82, clear_threshold: 76, level: 'error' },
        { name: 'walk_cool', metric: 'cpu_percent', operator: '>', threshold: 80, cooldown: 90, for: '15s', level: 'critical' },
        { name: 'walk_all', metric: 'cpu_percent', operator: '>', threshold: 81, clear_threshold: 78, cooldown: 60, for: '30s', keep_firing_for: '15s', level: 'critical' },
        { name: 'walk_low', metric: 'memory_percent', operator: '<', threshold: 20, clear_threshold: 25, cooldown: 30, level: 'warning' },
      ],
      series: [
        cpu(walk(7, 160, 0.8, 0.08, { gaps: 0.1, stale: 0.03 })),
        { name: 'perfwatch_host_memory_usage_ratio', labels: { ...TARGET }, values: walk(11, 160, 0.2, 0.1, { gaps: 0.05 }) },
      ],
    },
  ];
}
