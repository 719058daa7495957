import type { Channel, ChannelEvent } from './channels.js';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, issuesToProblems } from '../config/load.js';
import { ApiError } from '../http/api-error.js';
import { isoUtc } from '../model/time.js';
import type { TopProcesses } from '../model/host.js';
import { Evaluator, type AlertInstance, type Lookup, type Transition } from './evaluator.js';
import { AlertmanagerNotifier, WebhookNotifier, type DropReason, type WebhookBody } from './notifiers.js';
import { pascalCase, ruleInputSchema, rulesFileSchema, snakeCase, toRule, type Level, type Rule } from './rule.js';
import { AlertStore, type AlertRecord } from './store.js';

export const DEFAULT_RULES_FILE = fileURLToPath(new URL('../../rules/default-rules.yaml', import.meta.url));

/** Reads and validates a rules file; ConfigError lists every bad field as `<file>: rules[2].threshold: …`. */
export async function loadRulesFile(file: string): Promise<Rule[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read rules file: ${(err as Error).message}`]);
  }
  const doc = parseDocument(text);
  if (doc.errors.length) throw new ConfigError(doc.errors.map((e) => `${file}: ${e.message}`));
  const parsed = rulesFileSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) throw new ConfigError(issuesToProblems(parsed.error.issues).map((p) => `${file}: ${p}`));
  return parsed.data.rules.map((r) => toRule(r, { id: r.id ?? snakeCase(r.name), source: 'file', createdAtMs: 0 }));
}

/** The file rules of a config: the shipped defaults (if on) and `rules_file`, with ids and names unique across both. */
export async function loadFileRules(alerting: { default_rules: boolean; rules_file?: string }): Promise<Rule[]> {
  const rules = [...(alerting.default_rules ? await loadRulesFile(DEFAULT_RULES_FILE) : []), ...(alerting.rules_file ? await loadRulesFile(alerting.rules_file) : [])];
  const problems: string[] = [];
  const ids = new Set<string>();
  const names = new Set<string>();
  const alertnames = new Map<string, string>();
  for (const r of rules) {
    if (ids.has(r.id)) problems.push(`rule id "${r.id}" is defined twice (default rules and rules_file share ids; set alerting.default_rules: false to replace them)`);
    if (names.has(r.name)) problems.push(`rule name "${r.name}" is defined twice`);
    else if (alertnames.has(r.alertname)) problems.push(`rule name "${r.name}" and "${alertnames.get(r.alertname)}" are both the Prometheus alert ${r.alertname}`);
    ids.add(r.id);
    names.add(r.name);
    alertnames.set(r.alertname, r.name);
  }
  if (problems.length) throw new ConfigError(problems);
  return rules;
}

/** API rules from the store; ones that no longer validate (after an upgrade) are reported and skipped. */
export function storedRules(store: AlertStore, onInvalid: (id: string, problem: string) => void): Rule[] {
  const out: Rule[] = [];
  for (const s of store.listRules()) {
    let body: unknown;
    try {
      body = JSON.parse(s.body);
    } catch {
      onInvalid(s.id, 'its stored body is not valid JSON (damaged on disk)');
      continue;
    }
    const parsed = ruleInputSchema.safeParse(body);
    if (!parsed.success) {
      onInvalid(s.id, issuesToProblems(parsed.error.issues).join('; '));
      continue;
    }
    out.push(toRule(parsed.data, { id: s.id, source: 'api', createdAtMs: s.createdAtMs, updatedAtMs: s.updatedAtMs }));
  }
  return out;
}

export type NotificationResult = 'sent' | DropReason | 'unconfigured';

export interface AlertServiceOptions {
  store: AlertStore;
  fileRules: Rule[];
  intervalMs: number;
  now: () => number;
  topProcesses: () => TopProcesses;
  webhook?: WebhookNotifier;
  alertmanager?: AlertmanagerNotifier;
  /** Email and chat channels (channels.ts): every transition is offered to each; each routes it itself. */
  channels?: readonly Channel[];
  /** Extra labels on alerts pushed to Alertmanager (`instance`). */
  externalLabels: Record<string, string>;
  externalUrl: () => string;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;
  broadcast: (event: 'alert_triggered' | 'alert_resolved', payload: Record<string, unknown>) => void;
  onNotification: (action: string, result: NotificationResult) => void;
}

const iso = (ms: number | null) => (ms === null ? null : isoUtc(ms));

/** The legacy alert object of `GET /api/v1/performance/alerts` (seed 001), plus `rule_id`, `labels`, `resolved_by`. */
export function alertJson(a: AlertRecord): Record<string, unknown> {
  return {
    id: a.id,
    type: a.type,
    level: a.level,
    title: a.title,
    message: a.message,
    value: Number.isFinite(a.value) ? a.value : null,
    threshold: a.threshold,
    status: a.status,
    created_at: iso(a.createdAtMs),
    updated_at: iso(a.updatedAtMs),
    resolved_at: iso(a.resolvedAtMs),
    resolved_by: a.resolvedBy,
    resolution: a.resolution,
    rule_id: a.ruleId,
    labels: a.labels,
    metadata: a.metadata,
  };
}

/**
 * Alerting in one place: the rules (file + API), the evaluator run each cycle, the alert records in SQLite, and the
 * notifications (log, webhook, Alertmanager, WebSocket). The HTTP routes (routes.ts) and the CLI go through it.
 */
export class AlertService {
  readonly evaluator = new Evaluator();
  #o: AlertServiceOptions;
  #fileRules: Rule[];
  #apiRules: Rule[];
  /** `<rule id>\0<instance key>` → alert record seq, for the active alerts. */
  #records = new Map<string, number>();
  lastEvaluationSeconds = 0;

  constructor(o: AlertServiceOptions) {
    this.#o = o;
    this.#fileRules = o.fileRules;
    this.#apiRules = storedRules(o.store, (id, problem) => o.log('error', 'stored alert rule no longer valid; skipped', { rule_id: id, problem }));
    this.#applyRules();
    this.#restoreActive();
  }

  get rules(): Rule[] {
    return [...this.#fileRules, ...this.#apiRules];
  }

  /** Hands the rules to the evaluator; open alerts of rules now gone or disabled are resolved. */
  #applyRules(reason = 'rule removed or disabled'): void {
    this.evaluator.setRules(this.rules);
    const live = new Set(this.evaluator.rules.map((r) => r.id));
    const now = this.#o.now();
    for (const [key, seq] of this.#records) {
      const ruleId = key.slice(0, key.indexOf('\0'));
      if (live.has(ruleId)) continue;
      this.#records.delete(key);
      this.#o.store.resolveAlert(seq, now, 'perfwatch', reason);
      this.#o.alertmanager?.resolved(key, now);
    }
  }

  /** Active alerts from before a restart go back into the evaluator as firing (or are resolved if their rule is gone). */
  #restoreActive(): void {
    const byId = new Map(this.rules.map((r) => [r.id, r]));
    const now = this.#o.now();
    this.#o.store.transaction(() => {
      for (const a of this.#o.store.active()) {
        const rule = byId.get(a.ruleId);
        if (!rule || !rule.enabled) {
          this.#o.store.resolveAlert(a.seq, now, 'perfwatch', 'rule removed or disabled');
          continue;
        }
        this.evaluator.restoreFiring(rule, a.labels, a.activeAtMs, a.createdAtMs, a.value);
        this.#records.set(`${a.ruleId}\0${a.fingerprint}`, a.seq);
      }
    });
  }

  /** One evaluation at `t` over the latest samples; writes, broadcasts and notifies what changed. */
  evaluate(t: number, lookup: Lookup): Transition[] {
    const t0 = performance.now();
    const transitions = this.evaluator.evaluate(t, lookup);
    const records = transitions.length ? this.#o.store.transaction(() => this.#record(transitions, t)) : [];
    transitions.forEach((tr, i) => this.#announce(tr, records[i] ?? null));
    this.#o.alertmanager?.sync(t);
    this.lastEvaluationSeconds = (performance.now() - t0) / 1000;
    return transitions;
  }

  /** Writes the transitions; returns the alert record of each (undefined when there is none). */
  #record(transitions: Transition[], t: number): Array<AlertRecord | undefined> {
    const records: Array<AlertRecord | undefined> = [];
    for (const tr of transitions) {
      const inst = tr.instance;
      const key = `${inst.rule.id}\0${inst.key}`;
      if (tr.kind === 'firing') {
        const rec = this.#o.store.insertAlert({
          ruleId: inst.rule.id,
          fingerprint: inst.key,
          type: inst.rule.target.type,
          level: inst.rule.level,
          title: inst.annotations.summary,
          message: inst.annotations.description,
          value: inst.value,
          threshold: inst.rule.threshold,
          labels: inst.labels,
          metadata: { affected_processes: this.#affected(inst), suggestion: inst.rule.suggestion, rule_name: inst.rule.name },
          createdAtMs: t,
          activeAtMs: inst.activeAtMs,
        });
        this.#records.set(key, rec.seq);
        records.push(rec);
      } else {
        const seq = this.#records.get(key);
        if (seq === undefined) {
          records.push(undefined);
          continue;
        }
        this.#records.delete(key);
        this.#o.store.touchAlert(seq, inst.value, inst.annotations.description, t);
        this.#o.store.resolveAlert(seq, t, null, null);
        records.push(this.#o.store.get(seq) ?? undefined);
      }
    }
    this.#o.store.prune();
    return records;
  }

  #affected(inst: AlertInstance): string[] {
    const top = this.#o.topProcesses();
    if (inst.labels.plugin_id) return [inst.labels.plugin_id];
    const list = inst.rule.target.type === 'memory' ? top.byMemory : top.byCpu;
    return [...new Set(list.map((p) => p.name))];
  }

  #announce(tr: Transition, rec: AlertRecord | null): void {
    const inst = tr.instance;
    const alert = rec ? this.#withLive(rec) : null;
    this.#o.broadcast(tr.kind === 'firing' ? 'alert_triggered' : 'alert_resolved', { alert, timestamp: iso(this.#o.now()) });
    const status = tr.kind === 'firing' ? 'firing' : 'resolved';
    for (const action of inst.rule.actions) {
      if (action === 'log') {
        this.#o.log(tr.kind === 'firing' ? 'warn' : 'info', `alert ${status}: ${inst.annotations.summary}`, { alert_id: alert?.id, rule_id: inst.rule.id, severity: inst.rule.level, labels: inst.labels, value: inst.value, manual: tr.manual ?? false });
        this.#o.onNotification('log', 'sent');
      } else if (action === 'webhook') {
        if (!this.#o.webhook) {
          this.#o.onNotification('webhook', 'unconfigured');
          continue;
        }
        const body: WebhookBody = { version: '1', status, alert: alert ?? {}, labels: { alertname: inst.rule.alertname, ...inst.labels }, annotations: { ...inst.annotations }, sent_at: iso(Date.now())! };
        this.#o.webhook.notify(body);
      } else if (action === 'alertmanager') {
        if (!this.#o.alertmanager) {
          this.#o.onNotification('alertmanager', 'unconfigured');
          continue;
        }
        const key = `${inst.rule.id}\0${inst.key}`;
        if (tr.kind === 'firing') {
          this.#o.alertmanager.firing(key, {
            labels: { alertname: inst.rule.alertname, ...this.#o.externalLabels, ...inst.labels },
            annotations: { ...inst.annotations },
            startsAt: iso(inst.firedAtMs)!,
            generatorURL: `${this.#o.externalUrl()}/api/v1/performance/alerts?rule_id=${encodeURIComponent(inst.rule.id)}`,
          });
        } else {
          this.#o.alertmanager.resolved(key, inst.resolvedAtMs ?? this.#o.now());
        }
      }
    }
    if (this.#o.channels?.length) {
      const event: ChannelEvent = {
        status,
        ruleId: inst.rule.id,
        ruleName: inst.rule.name,
        level: inst.rule.level,
        title: String(alert?.title ?? inst.annotations.summary ?? inst.rule.name),
        message: String(inst.annotations.description ?? alert?.message ?? ''),
        value: Number.isFinite(inst.value) ? inst.value : null,
        threshold: typeof alert?.threshold === 'number' ? alert.threshold : null,
        labels: { ...inst.labels },
        alertId: typeof alert?.id === 'string' ? alert.id : null,
        atMs: this.#o.now(),
        host: this.#o.externalLabels.instance ?? '',
      };
      for (const c of this.#o.channels) c.offer(event);
    }
  }

  /** The stored record with the live value of a still-firing instance. */
  #withLive(rec: AlertRecord): Record<string, unknown> {
    const json = alertJson(rec);
    if (rec.status === 'active') {
      const inst = this.evaluator.instance(rec.ruleId, rec.fingerprint);
      if (inst && inst.state === 'firing') {
        json.value = Number.isFinite(inst.value) ? inst.value : null;
        json.message = inst.annotations.description;
      }
    }
    return json;
  }

  // ---- queries and commands behind the HTTP routes ----

  listAlerts(q: { level?: Level; type?: string; includeResolved: boolean; limit: number; ruleId?: string }) {
    const rows = this.#o.store.query(q);
    const c = this.#o.store.counts({ level: q.level, type: q.type });
    return {
      alerts: rows.map((r) => this.#withLive(r)),
      summary: { total: c.total, active: c.active, resolved: c.resolved, by_level: c.byLevel },
    };
  }

  /** Alerts raised within the last `periodMs`, for `GET summary`. */
  countsSince(periodMs: number) {
    return this.#o.store.countsSince(this.#o.now() - periodMs);
  }

  resolve(alertId: string, by: string | null, resolution: string | null): { resolved: true; resolved_at: string } {
    const m = /^alert_(\d{1,12})$/.exec(alertId);
    const rec = m ? this.#o.store.get(Number(m[1])) : null;
    if (!rec) throw new ApiError('ALERT_NOT_FOUND', `no alert with id ${JSON.stringify(alertId)}`, { field: 'alert_id' });
    if (rec.status !== 'active') throw new ApiError('ALERT_ALREADY_RESOLVED', `${alertId} was resolved at ${iso(rec.resolvedAtMs)}`);
    const now = this.#o.now();
    const tr = this.evaluator.resolveManually(rec.ruleId, rec.fingerprint, now);
    this.#o.store.transaction(() => {
      this.#o.store.resolveAlert(rec.seq, now, by, resolution);
    });
    this.#records.delete(`${rec.ruleId}\0${rec.fingerprint}`);
    if (tr) this.#announce(tr, this.#o.store.get(rec.seq));
    return { resolved: true, resolved_at: iso(now)! };
  }

  ruleJson(r: Rule, stats = this.#o.store.ruleStats()): Record<string, unknown> {
    const s = stats.get(r.id);
    return {
      id: r.id,
      name: r.name,
      metric: r.metric,
      ...(r.unit !== undefined ? { unit: r.unit } : {}),
      ...(r.input.selector ? { selector: r.input.selector } : {}),
      operator: r.operator,
      threshold: r.threshold,
      ...(r.clearThreshold !== undefined ? { clear_threshold: r.clearThreshold } : {}),
      for: r.forMs / 1000,
      keep_firing_for: r.keepFiringForMs / 1000,
      cooldown: r.cooldownMs / 1000,
      level: r.level,
      type: r.target.type,
      description: r.description,
      message: r.message,
      enabled: r.enabled,
      actions: r.actions,
      source: r.source,
      series: r.target.series,
      created_at: iso(r.createdAtMs),
      updated_at: iso(r.updatedAtMs),
      trigger_count: s?.triggerCount ?? 0,
      last_triggered: iso(s?.lastTriggeredMs ?? null),
    };
  }

  listRules(): Record<string, unknown>[] {
    const stats = this.#o.store.ruleStats();
    return this.rules.map((r) => this.ruleJson(r, stats));
  }

  #parse(body: unknown, code: 'RULE_CREATION_FAILED' | 'RULE_UPDATE_FAILED'): z.output<typeof ruleInputSchema> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(code, 'expected a JSON object describing the rule');
    if ('id' in body) throw new ApiError(code, 'id: assigned by perfwatch; leave it out', { field: 'id' });
    const parsed = ruleInputSchema.safeParse(body);
    if (!parsed.success) {
      const problems = issuesToProblems(parsed.error.issues);
      throw new ApiError(code, problems.join('; '), { field: problems[0]?.split(':')[0] });
    }
    return parsed.data;
  }

  #checkUnique(name: string, exceptId?: string, code: 'RULE_CREATION_FAILED' | 'RULE_UPDATE_FAILED' = 'RULE_CREATION_FAILED'): void {
    const clash = this.rules.find((r) => r.name === name && r.id !== exceptId);
    if (clash) throw new ApiError(code, `name: a rule named ${JSON.stringify(name)} exists (${clash.id})`, { field: 'name' });
    // two names with one PascalCase form (HighCpuUsage, high_cpu_usage) would be one alert in Prometheus
    const alertname = pascalCase(name);
    const same = this.rules.find((r) => r.alertname === alertname && r.id !== exceptId);
    if (same) throw new ApiError(code, `name: ${JSON.stringify(name)} and rule ${same.id} (${JSON.stringify(same.name)}) would both be the Prometheus alert ${alertname}; choose another name`, { field: 'name' });
  }

  createRule(body: unknown): { rule_id: string; created_at: string } {
    const input = this.#parse(body, 'RULE_CREATION_FAILED');
    this.#checkUnique(input.name);
    const now = this.#o.now();
    const id = this.#o.store.insertRule(() => JSON.stringify(input), now);
    this.#apiRules.push(toRule(input, { id, source: 'api', createdAtMs: now }));
    this.#applyRules();
    return { rule_id: id, created_at: iso(now)! };
  }

  #rule(id: string): Rule {
    const rule = this.rules.find((r) => r.id === id);
    if (!rule) throw new ApiError('RULE_NOT_FOUND', `no alert rule with id ${JSON.stringify(id)}`, { field: 'rule_id' });
    return rule;
  }

  #apiRule(id: string): Rule {
    const rule = this.#rule(id);
    if (rule.source !== 'api') throw new ApiError('RULE_READ_ONLY', `${id} comes from a rules file; change it there (or turn alerting.default_rules off)`, { field: 'rule_id' });
    return rule;
  }

  getRule(id: string): Record<string, unknown> {
    return this.ruleJson(this.#rule(id));
  }

  updateRule(id: string, body: unknown): Record<string, unknown> {
    const old = this.#apiRule(id);
    const input = this.#parse(body, 'RULE_UPDATE_FAILED');
    this.#checkUnique(input.name, id, 'RULE_UPDATE_FAILED');
    const now = this.#o.now();
    this.#o.store.updateRule(id, JSON.stringify(input), now);
    const rule = toRule(input, { id, source: 'api', createdAtMs: old.createdAtMs, updatedAtMs: now });
    this.#apiRules = this.#apiRules.map((r) => (r.id === id ? rule : r));
    this.#applyRules();
    return this.ruleJson(rule);
  }

  deleteRule(id: string): void {
    this.#apiRule(id);
    this.#o.store.deleteRule(id);
    this.#apiRules = this.#apiRules.filter((r) => r.id !== id);
    this.#applyRules('rule deleted');
  }

  firingCount(): Record<Level, number> {
    const out = { info: 0, warning: 0, error: 0, critical: 0 };
    for (const a of this.evaluator.active()) if (a.state === 'firing') out[a.rule.level]++;
    return out;
  }

  /** Stops the notifiers (a push in flight is awaited) and closes the store. */
  async close(): Promise<void> {
    this.#o.webhook?.stop();
    for (const c of this.#o.channels ?? []) c.stop();
    await this.#o.alertmanager?.settle();
    this.#o.store.close();
  }
}
