import { compare, type Rule } from './rule.js';
import { renderTemplate } from './template.js';

/** One series as a rule reads it: labels without `__name__`, and its latest value. */
export interface SeriesSample {
  labels: Readonly<Record<string, string>>;
  value: number;
}
/** The latest sample of every series of an exported name at the evaluation time. */
export type Lookup = (series: string) => readonly SeriesSample[];

export type AlertState = 'pending' | 'firing';

/** One alert instance: a rule and one label set, as in Prometheus. */
export interface AlertInstance {
  rule: Rule;
  /** Series labels plus `severity` and `perfwatch_rule` (Prometheus adds `alertname` too). */
  labels: Record<string, string>;
  key: string;
  state: AlertState | 'inactive';
  value: number;
  activeAtMs: number;
  firedAtMs: number | null;
  resolvedAtMs: number | null;
  /** First evaluation at which the condition was false while firing (for keep_firing_for). */
  keepSinceMs: number | null;
  /** Last evaluation at which the instance was firing (for cooldown). */
  lastFiringMs: number | null;
  /** Resolved by hand while the condition held: ignored until the condition has been false once. */
  manuallyResolved: boolean;
  annotations: { summary: string; description: string };
}

export type Transition = { kind: 'firing' | 'resolved'; instance: AlertInstance; manual?: boolean };

/** Label set → stable key (sorted), the identity of an alert instance. */
export function labelKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

function matches(labels: Readonly<Record<string, string>>, matchers: Readonly<Record<string, string>>): boolean {
  for (const k in matchers) if ((labels[k] ?? '') !== matchers[k]) return false;
  return true;
}

/**
 * The in-process rule evaluator: Prometheus 2.42's alerting state machine (rules/alerting.go), run once per
 * collection cycle over the latest samples, so that it decides exactly what the compiled rules (promql.ts) decide on
 * the same samples at the same timestamps (proven by generated `promtool test rules` files):
 * - pending when the condition first holds (`activeAt`), firing at the first evaluation with `t - activeAt >= for`;
 *   a pending alert whose condition drops is forgotten;
 * - a firing alert whose condition drops resolves at once, or after `keep_firing_for` counted from the first miss;
 * - hysteresis: while firing (as of the previous evaluation), the condition also holds while the value is beyond
 *   `clear_threshold`; it never applies while pending;
 * - cooldown: after a resolve, the condition counts as false while `t <= lastFiring + cooldown` (2.x's closed range);
 * - a series that disappears makes its alert's condition false (Prometheus sees a staleness marker).
 * Manual resolution is perfwatch-only: the instance stays quiet until its condition has been false once.
 */
export class Evaluator {
  #rules: Rule[] = [];
  /** rule id → instance key → instance (inactive ones are kept while they still matter for cooldown). */
  #instances = new Map<string, Map<string, AlertInstance>>();

  setRules(rules: readonly Rule[]): void {
    this.#rules = rules.filter((r) => r.enabled);
    const ids = new Set(this.#rules.map((r) => r.id));
    for (const id of this.#instances.keys()) if (!ids.has(id)) this.#instances.delete(id);
    // a changed rule keeps its instances but reads its new definition
    for (const r of this.#rules) for (const inst of this.#instances.get(r.id)?.values() ?? []) inst.rule = r;
  }

  get rules(): readonly Rule[] {
    return this.#rules;
  }

  /** Instances currently pending or firing. */
  *active(): Iterable<AlertInstance> {
    for (const m of this.#instances.values()) for (const i of m.values()) if (i.state !== 'inactive') yield i;
  }

  instance(ruleId: string, key: string): AlertInstance | undefined {
    return this.#instances.get(ruleId)?.get(key);
  }

  /** Puts back a firing instance remembered across a restart (as Prometheus restores `for` state). */
  restoreFiring(rule: Rule, labels: Record<string, string>, activeAtMs: number, firedAtMs: number, value: number): void {
    const inst = this.#newInstance(rule, labels, labelKey(labels), value, activeAtMs);
    inst.state = 'firing';
    inst.firedAtMs = firedAtMs;
    inst.lastFiringMs = firedAtMs;
    this.#map(rule.id).set(inst.key, inst);
  }

  /** Resolves by hand; returns the transition, or null when the instance is not firing. */
  resolveManually(ruleId: string, key: string, atMs: number): Transition | null {
    const inst = this.instance(ruleId, key);
    if (!inst || inst.state !== 'firing') return null;
    inst.state = 'inactive';
    inst.resolvedAtMs = atMs;
    inst.keepSinceMs = null;
    inst.manuallyResolved = true;
    return { kind: 'resolved', instance: inst, manual: true };
  }

  /** One evaluation of every enabled rule at `t`; returns what fired and what resolved. */
  evaluate(t: number, lookup: Lookup): Transition[] {
    const out: Transition[] = [];
    for (const rule of this.#rules) this.#evaluateRule(rule, t, lookup, out);
    return out;
  }

  #map(ruleId: string): Map<string, AlertInstance> {
    let m = this.#instances.get(ruleId);
    if (!m) this.#instances.set(ruleId, (m = new Map()));
    return m;
  }

  #newInstance(rule: Rule, labels: Record<string, string>, key: string, value: number, t: number): AlertInstance {
    return {
      rule,
      labels,
      key,
      state: 'pending',
      value,
      activeAtMs: t,
      firedAtMs: null,
      resolvedAtMs: null,
      keepSinceMs: null,
      lastFiringMs: null,
      manuallyResolved: false,
      annotations: { summary: '', description: '' },
    };
  }

  #evaluateRule(rule: Rule, t: number, lookup: Lookup, out: Transition[]): void {
    const instances = this.#map(rule.id);
    const seen = new Set<string>();
    const { op, threshold, clearThreshold, cooldownMs } = rule;
    const k = rule.target.k;
    for (const s of lookup(rule.target.series)) {
      if (!matches(s.labels, rule.matchers)) continue;
      const labels: Record<string, string> = { ...s.labels, severity: rule.level, perfwatch_rule: rule.id };
      const key = labelKey(labels);
      const inst = instances.get(key);
      const wasFiring = inst?.state === 'firing';
      const v = k === 1 ? s.value : s.value * k;
      let cond = compare(v, op, threshold) || (wasFiring && clearThreshold !== undefined && compare(v, op, clearThreshold));
      if (cond && !wasFiring && cooldownMs > 0 && inst?.lastFiringMs != null && t - inst.lastFiringMs <= cooldownMs) cond = false;
      if (inst?.manuallyResolved) {
        if (!cond) inst.manuallyResolved = false;
        continue;
      }
      if (!cond) continue;
      seen.add(key);
      if (inst && inst.state !== 'inactive') {
        inst.value = v;
        inst.keepSinceMs = null;
        this.#annotate(inst, s.labels);
        continue;
      }
      const fresh = this.#newInstance(rule, labels, key, v, t);
      fresh.lastFiringMs = inst?.lastFiringMs ?? null;
      this.#annotate(fresh, s.labels);
      instances.set(key, fresh);
    }
    for (const inst of instances.values()) {
      if (!seen.has(inst.key)) {
        if (inst.state === 'pending') {
          instances.delete(inst.key);
          continue;
        }
        if (inst.state === 'firing') {
          inst.keepSinceMs ??= t;
          if (rule.keepFiringForMs > 0 && t - inst.keepSinceMs < rule.keepFiringForMs) {
            inst.lastFiringMs = t;
            continue;
          }
          inst.state = 'inactive';
          inst.resolvedAtMs = t;
          inst.keepSinceMs = null;
          out.push({ kind: 'resolved', instance: inst });
        }
        // inactive: kept while it can still suppress (cooldown) or is waiting to clear after a manual resolve
        if (!inst.manuallyResolved && (inst.lastFiringMs === null || t - inst.lastFiringMs > cooldownMs)) instances.delete(inst.key);
        continue;
      }
      if (inst.state === 'pending' && t - inst.activeAtMs >= rule.forMs) {
        inst.state = 'firing';
        inst.firedAtMs = t;
        out.push({ kind: 'firing', instance: inst });
      }
      if (inst.state === 'firing') inst.lastFiringMs = t;
    }
  }

  /** `$labels` is the series' labels, as in Prometheus (not the rule's `severity`/`perfwatch_rule`). */
  #annotate(inst: AlertInstance, seriesLabels: Readonly<Record<string, string>>): void {
    inst.annotations = {
      summary: renderTemplate(inst.rule.description, inst.value, seriesLabels),
      description: renderTemplate(inst.rule.message, inst.value, seriesLabels),
    };
  }
}
