import { z } from 'zod';
import { duration } from '../config/schema.js';
import { NAME_RE, promNameFor } from '../store/custom-metric.js';
import { LEGACY_NAMES, METRIC_CATEGORIES, type MetricCategory } from '../model/legacy-names.js';
import { M } from '../model/metric-names.js';
import { templateProblem } from './template.js';

/**
 * The one alert-rule model. A rule is data validated like config; the in-process evaluator (evaluator.ts) and the
 * Prometheus compiler (promql.ts) both read the normalized `Rule` below, so the two cannot disagree on what a field means.
 */

export const LEVELS = ['info', 'warning', 'error', 'critical'] as const;
export type Level = (typeof LEVELS)[number];
export const ACTIONS = ['log', 'webhook', 'alertmanager'] as const;
export type Action = (typeof ACTIONS)[number];
export const ALERT_TYPES = METRIC_CATEGORIES;
export type AlertType = MetricCategory;

export const OPERATORS = {
  greater_than: '>',
  less_than: '<',
  greater_equal: '>=',
  less_equal: '<=',
  equal: '==',
  not_equal: '!=',
} as const;
export type OperatorName = keyof typeof OPERATORS;
export type OperatorSymbol = (typeof OPERATORS)[OperatorName];
const SYMBOL_TO_NAME = Object.fromEntries(Object.entries(OPERATORS).map(([n, s]) => [s, n])) as Record<OperatorSymbol, OperatorName>;

/**
 * Where a rule's `metric` reads from: an exported series (what /metrics shows and Prometheus scrapes), the factor `k`
 * that turns the exported value into the rule's unit (`cpu_percent` 80 means 80 %, compiled as
 * `perfwatch_host_cpu_usage_ratio * 100 > 80`), fixed label matchers, and the alert `type`.
 */
export interface MetricTarget {
  series: string;
  k: number;
  matchers: Readonly<Record<string, string>>;
  type: AlertType;
  /** The label naming what is affected (`plugin_id`, `mountpoint`), for messages and metadata. */
  subject?: string;
}

/** Every legacy metric name a rule may use, and the exported series it compiles to (docs/alerting.md lists them). */
export const LEGACY_METRICS: ReadonlyMap<string, MetricTarget> = new Map(
  Object.entries(LEGACY_NAMES).flatMap(([name, l]) => (l.exported ? [[name, { ...l.exported, type: l.category }] as const] : [])),
);

/** Exported gauges a rule may name directly (counters need rate(), which rules do not offer yet). */
const EXPORTED_GAUGES = new Map<string, MetricTarget>(
  [...LEGACY_METRICS.values()].map((t) => [t.series, { ...t, k: 1, matchers: {} }]),
);
for (const name of [M.hostCpus, M.hostCpuFrequencyHertz, M.hostMemoryTotalBytes, M.hostMemoryCachedBytes, M.hostSwapFreeBytes, M.hostFilesystemAvailBytes, M.hostLoad5, M.hostLoad15, M.pluginLastExitCode, M.ringBufferMemoryBytes, M.customSeries, M.websocketClients]) {
  if (!EXPORTED_GAUGES.has(name)) EXPORTED_GAUGES.set(name, { series: name, k: 1, matchers: {}, type: name.includes('_plugin_') ? 'plugin' : name.includes('memory') || name.includes('swap') ? 'memory' : name.includes('filesystem') ? 'disk' : 'load' });
}

/**
 * Resolves `metric` (+ `unit` for custom metrics): a legacy name, an exported gauge, an exported custom gauge
 * (`perfwatch_custom_*`, in its base unit), or the name a client posts custom samples under, compiled to the same
 * exported name and base-unit factor `POST metrics` uses (so `response_time` in `ms` reads
 * `perfwatch_custom_response_time_seconds * 1000`).
 */
export function resolveMetric(metric: string, unit?: string): MetricTarget | string {
  const legacy = LEGACY_METRICS.get(metric);
  if (legacy) return unit === undefined ? legacy : `unit applies only to custom metrics; ${metric} is in its own unit`;
  const exported = EXPORTED_GAUGES.get(metric);
  if (exported) return unit === undefined ? exported : `unit applies only to custom metrics; ${metric} is exported in base units`;
  if (metric.startsWith('perfwatch_')) {
    if (metric.startsWith('perfwatch_custom_') && NAME_RE.test(metric)) return { series: metric, k: 1, matchers: {}, type: 'custom' };
    return `${metric} is not an exported gauge rules can read (see docs/alerting.md for the list)`;
  }
  if (!NAME_RE.test(metric) || metric.length > 200) return 'expected a legacy metric name, an exported perfwatch gauge, or a custom metric name [a-zA-Z_][a-zA-Z0-9_]*';
  const { name, factor } = promNameFor(metric, unit ?? '');
  return { series: name, k: factor === 1 ? 1 : 1 / factor, matchers: {}, type: 'custom' };
}

const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RULE_NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;
const RULE_ID_RE = /^[a-z][a-z0-9_]{0,63}$/;
const RESERVED_MATCHERS = new Set(['__name__', 'alertname', 'alertstate', 'severity', 'perfwatch_rule']);

const template = z.string().max(1000).superRefine((t, ctx) => {
  const problem = templateProblem(t);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Rule as written in a rules file or sent to `POST /api/v1/performance/alerts/rules`. */
export const ruleInputSchema = z
  .strictObject({
    id: z.string().regex(RULE_ID_RE, { error: 'expected a lower-case slug [a-z][a-z0-9_]{0,63}' }).optional().describe('Stable id (label `perfwatch_rule`). Rules-file rules default to their name in snake case; API rules get `rule_<n>`.'),
    name: z.string().regex(RULE_NAME_RE, { error: 'expected 1-100 characters [A-Za-z0-9_] starting with a letter' }).describe('Unique name; the Prometheus `alertname` is its PascalCase form.'),
    metric: z.string().min(1).max(200).describe('What to watch: a legacy name (`cpu_percent` …), an exported gauge, or a custom metric name.'),
    unit: z.string().min(1).max(32).optional().describe('Only for custom metrics: the unit the samples are posted in (`ms`, `MB`, `%` …); picks the exported name and the factor.'),
    selector: z.record(z.string().regex(LABEL_RE, { error: 'expected a label name' }), z.string().max(256)).optional().describe('Equality label matchers, e.g. `{plugin_id: echo}`; without one a per-plugin rule gives one alert per plugin.'),
    operator: z.enum([...(Object.keys(OPERATORS) as OperatorName[]), ...(Object.values(OPERATORS) as OperatorSymbol[])]).describe('Comparison; names or the symbols `>` `<` `>=` `<=` `==` `!=`.'),
    threshold: z.number().refine(Number.isFinite, { error: 'expected a finite number' }).describe('In the unit of `metric` (percent for `*_percent`).'),
    clear_threshold: z.number().refine(Number.isFinite, { error: 'expected a finite number' }).optional().describe('Hysteresis: once firing, the alert stays firing while the value is still beyond this (same operator). Only for > >= < <=, on the safe side of threshold.'),
    for: duration('0s', { max: 86_400_000 }).describe('How long the condition must hold before the alert fires.'),
    keep_firing_for: duration('0s', { max: 86_400_000 }).describe('How long a firing alert stays firing after the condition clears.'),
    cooldown: duration('0s', { max: 7 * 86_400_000 }).describe('Seconds (or a duration): after a resolve the rule does not fire again for the same series until this long after it last fired; a firing alert is not re-notified within it.'),
    level: z.enum(LEVELS).prefault('warning').describe('Alert level; Prometheus label `severity`.'),
    description: z.string().max(500).optional().describe('Alert title (`summary` annotation); may use {{ $labels.x }}.'),
    message: template.optional().describe('Alert message (`description` annotation); may use {{ $value }} and {{ $labels.x }}.'),
    suggestion: z.string().max(500).optional().describe('Shown as `metadata.suggestion` of the alert.'),
    enabled: z.boolean().prefault(true).describe('Disabled rules are not evaluated and not exported.'),
    actions: z.array(z.enum(ACTIONS)).max(ACTIONS.length).prefault(['log']).describe('Notifications on fire and resolve: log, webhook, alertmanager (the WebSocket events are always sent).'),
  })
  .superRefine((r, ctx) => {
    const target = resolveMetric(r.metric, r.unit);
    if (typeof target === 'string') ctx.addIssue({ code: 'custom', path: ['metric'], message: target });
    if (new Set(r.actions).size !== r.actions.length) ctx.addIssue({ code: 'custom', path: ['actions'], message: 'each action at most once' });
    for (const key of Object.keys(r.selector ?? {})) {
      if (RESERVED_MATCHERS.has(key)) ctx.addIssue({ code: 'custom', path: ['selector', key], message: `${key} is reserved for alert labels` });
    }
    if (Object.keys(r.selector ?? {}).length > 8) ctx.addIssue({ code: 'custom', path: ['selector'], message: 'at most 8 matchers' });
    if (r.description !== undefined && templateProblem(r.description)) ctx.addIssue({ code: 'custom', path: ['description'], message: templateProblem(r.description)! });
    if (r.clear_threshold !== undefined) {
      const op = OPERATORS[r.operator as OperatorName] ?? r.operator;
      if (op === '==' || op === '!=') ctx.addIssue({ code: 'custom', path: ['clear_threshold'], message: 'hysteresis needs an ordering operator (> >= < <=)' });
      else if ((op === '>' || op === '>=') && !(r.clear_threshold < r.threshold)) ctx.addIssue({ code: 'custom', path: ['clear_threshold'], message: `must be below threshold (${r.threshold}) for ${r.operator}` });
      else if ((op === '<' || op === '<=') && !(r.clear_threshold > r.threshold)) ctx.addIssue({ code: 'custom', path: ['clear_threshold'], message: `must be above threshold (${r.threshold}) for ${r.operator}` });
    }
    if (r.cooldown % 1000 !== 0) ctx.addIssue({ code: 'custom', path: ['cooldown'], message: 'whole seconds only' });
  });
export type RuleInput = z.input<typeof ruleInputSchema>;
type ParsedRule = z.output<typeof ruleInputSchema>;

export const rulesFileSchema = z.strictObject({
  rules: z.array(ruleInputSchema).max(1000).prefault([]),
});

/** A validated rule with everything both compilers need resolved. */
export interface Rule {
  id: string;
  name: string;
  /** Prometheus `alertname`: PascalCase of the name. */
  alertname: string;
  source: 'file' | 'api';
  metric: string;
  unit?: string;
  target: MetricTarget;
  /** Fixed matchers of the metric plus the rule's selector. */
  matchers: Readonly<Record<string, string>>;
  operator: OperatorName;
  op: OperatorSymbol;
  threshold: number;
  clearThreshold?: number;
  forMs: number;
  keepFiringForMs: number;
  cooldownMs: number;
  level: Level;
  description: string;
  message: string;
  suggestion: string;
  enabled: boolean;
  actions: Action[];
  createdAtMs: number;
  updatedAtMs: number;
  /** The input as given (normalized), which is what the store keeps and `GET alerts/rules` echoes. */
  input: ParsedRule;
}

export const pascalCase = (name: string) =>
  name
    .split('_')
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
export const snakeCase = (name: string) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/^[^a-z]+/, '');

const SUGGESTIONS: Record<AlertType, string> = {
  cpu: 'Check the processes using the most CPU (metadata.affected_processes).',
  memory: 'Check the processes using the most memory (metadata.affected_processes) and look for leaks.',
  disk: 'Free space on the filesystem or grow it; check logs and data growth.',
  network: 'Check the connection count and the services behind it.',
  load: 'Check for runnable processes and I/O waits.',
  process: 'Check the process tree of the affected plugin.',
  plugin: 'Check the plugin log under <storage.path>/logs and its restart policy.',
  custom: 'Check the service that reports this metric.',
};

/** Normalizes a parsed input into a Rule. `id` is the given one, else the caller's. */
export function toRule(input: ParsedRule, opts: { id: string; source: Rule['source']; createdAtMs: number; updatedAtMs?: number }): Rule {
  const target = resolveMetric(input.metric, input.unit) as MetricTarget;
  const operator = (SYMBOL_TO_NAME[input.operator as OperatorSymbol] ?? input.operator) as OperatorName;
  const op = OPERATORS[operator];
  const subject = target.subject ? ` on {{ $labels.${target.subject} }}` : '';
  return {
    id: opts.id,
    name: input.name,
    alertname: pascalCase(input.name),
    source: opts.source,
    metric: input.metric,
    unit: input.unit,
    target,
    matchers: { ...target.matchers, ...(input.selector ?? {}) },
    operator,
    op,
    threshold: input.threshold,
    clearThreshold: input.clear_threshold,
    forMs: input.for,
    keepFiringForMs: input.keep_firing_for,
    cooldownMs: input.cooldown,
    level: input.level,
    description: input.description ?? `${input.name}${subject}`,
    message: input.message ?? `${input.metric}${subject} is {{ $value }} (threshold ${op} ${input.threshold})`,
    suggestion: input.suggestion ?? SUGGESTIONS[target.type],
    enabled: input.enabled,
    actions: input.actions,
    createdAtMs: opts.createdAtMs,
    updatedAtMs: opts.updatedAtMs ?? opts.createdAtMs,
    input: { ...input, operator },
  };
}

/** `> ` etc. on IEEE doubles, as PromQL compares (NaN compares false, `!=` with NaN true). */
export function compare(v: number, op: OperatorSymbol, t: number): boolean {
  switch (op) {
    case '>':
      return v > t;
    case '<':
      return v < t;
    case '>=':
      return v >= t;
    case '<=':
      return v <= t;
    case '==':
      return v === t;
    case '!=':
      return v !== t;
  }
}
