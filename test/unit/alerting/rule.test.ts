import t from 'tap';
import { compare, pascalCase, resolveMetric, ruleInputSchema, snakeCase, toRule } from '../../../src/alerting/rule.js';
import { ruleExpr, toPromRule } from '../../../src/alerting/promql.js';

const base = { name: 'high_cpu_usage', metric: 'cpu_percent', operator: 'greater_than', threshold: 80 };
const rule = (extra: Record<string, unknown> = {}) => toRule(ruleInputSchema.parse({ ...base, ...extra }), { id: 'r1', source: 'api', createdAtMs: 0 });

t.test('the seed body is accepted with its defaults', async (t) => {
  const r = rule({ level: 'warning', description: 'CPU使用率过高', enabled: true, actions: ['log', 'webhook'], cooldown: 300 });
  t.equal(r.op, '>');
  t.equal(r.cooldownMs, 300_000);
  t.equal(r.forMs, 0);
  t.equal(r.alertname, 'HighCpuUsage');
  t.same(r.actions, ['log', 'webhook']);
  t.equal(r.target.series, 'perfwatch_host_cpu_usage_ratio');
  t.equal(r.target.k, 100);
  // the SDK form: symbols
  t.equal(rule({ operator: '>=' }).operator, 'greater_equal');
  t.equal(rule({ operator: '!=' }).op, '!=');
});

t.test('every bad field is named', async (t) => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ name: undefined }, 'name'],
    [{ name: '1abc' }, 'name'],
    [{ name: 'a b' }, 'name'],
    [{ metric: undefined }, 'metric'],
    [{ metric: 'perfwatch_plugin_cpu_seconds_total' }, 'metric'],
    [{ metric: 'no such-thing' }, 'metric'],
    [{ metric: 'cpu_percent', unit: 'ms' }, 'metric'],
    [{ operator: 'bigger' }, 'operator'],
    [{ threshold: 'high' }, 'threshold'],
    [{ threshold: null }, 'threshold'],
    [{ clear_threshold: 90 }, 'clear_threshold'],
    [{ operator: '<', threshold: 10, clear_threshold: 5 }, 'clear_threshold'],
    [{ operator: '==', clear_threshold: 5 }, 'clear_threshold'],
    [{ for: '2 minutes' }, 'for'],
    [{ for: -1 }, 'for'],
    [{ cooldown: '1.5s' }, 'cooldown'],
    [{ cooldown: 'soon' }, 'cooldown'],
    [{ level: 'fatal' }, 'level'],
    [{ actions: ['email'] }, 'actions'],
    [{ actions: ['log', 'log'] }, 'actions'],
    [{ enabled: 'yes' }, 'enabled'],
    [{ message: '{{ $value | humanize }}' }, 'message'],
    [{ description: '{{ .Labels }}' }, 'description'],
    [{ description: 'x'.repeat(501) }, 'description'],
    [{ selector: { severity: 'x' } }, 'selector'],
    [{ selector: { 'bad-label': 'x' } }, 'selector'],
    [{ extra: 1 }, ''],
  ];
  for (const [patch, field] of bad) {
    const body = { ...base, ...patch };
    for (const k of Object.keys(patch)) if (patch[k] === undefined) delete (body as Record<string, unknown>)[k];
    const r = ruleInputSchema.safeParse(body);
    t.notOk(r.success, JSON.stringify(patch));
    if (!r.success && field) t.ok(r.error.issues.some((i) => String(i.path[0]) === field), `${JSON.stringify(patch)} names ${field}: ${JSON.stringify(r.error.issues.map((i) => i.path))}`);
  }
});

t.test('metric resolution', async (t) => {
  t.same(resolveMetric('plugin_memory_mb'), { series: 'perfwatch_plugin_resident_memory_bytes', k: 1 / 1048576, matchers: {}, type: 'memory', subject: 'plugin_id' });
  t.match(resolveMetric('response_time', 'ms'), { series: 'perfwatch_custom_response_time_seconds', k: 1000, type: 'custom' });
  t.match(resolveMetric('queue_length'), { series: 'perfwatch_custom_queue_length', k: 1 });
  t.match(resolveMetric('perfwatch_custom_queue_length'), { series: 'perfwatch_custom_queue_length', k: 1 });
  t.match(resolveMetric('perfwatch_host_load5'), { series: 'perfwatch_host_load5', k: 1 });
  t.match(resolveMetric('connections_established'), { matchers: { state: 'established' } });
  t.equal(pascalCase('plugin_down'), 'PluginDown');
  t.equal(snakeCase('HighCPU'), 'high_cpu');
});

t.test('compare is IEEE like PromQL', async (t) => {
  t.notOk(compare(Number.NaN, '>', 1));
  t.notOk(compare(Number.NaN, '==', Number.NaN));
  t.ok(compare(Number.NaN, '!=', 1));
  t.ok(compare(1, '<=', 1));
});

t.test('PromQL compilation', async (t) => {
  t.equal(ruleExpr(rule()), 'perfwatch_host_cpu_usage_ratio * 100 > 80');
  t.equal(ruleExpr(rule({ metric: 'plugin_up', operator: '==', threshold: 0, selector: { plugin_id: 'a"b' } })), 'perfwatch_plugin_up{plugin_id="a\\"b"} == 0');
  const hyst = ruleExpr(rule({ clear_threshold: 70 }));
  t.match(hyst, /> 80\nor\n\(\n {2}perfwatch_host_cpu_usage_ratio \* 100 > 70\nand ignoring \(alertname, alertstate, severity, perfwatch_rule\)\n {2}ALERTS\{alertname="HighCpuUsage", alertstate="firing", perfwatch_rule="r1"\}/);
  t.match(ruleExpr(rule({ cooldown: 90 })), /max_over_time\(ALERTS\{[^}]+\}\[90s\]\)/);
  const p = toPromRule(rule({ for: '1m', keep_firing_for: '1500ms', level: 'critical' }));
  t.equal(p.for, '60s');
  t.equal(p.keep_firing_for, '1500ms');
  t.same(p.labels, { severity: 'critical', perfwatch_rule: 'r1' });
  t.same(Object.keys(p.annotations), ['summary', 'description']);
});
