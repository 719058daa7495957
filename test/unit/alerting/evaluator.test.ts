import t from 'tap';
import { Evaluator, type SeriesSample } from '../../../src/alerting/evaluator.js';
import { ruleInputSchema, toRule, type RuleInput } from '../../../src/alerting/rule.js';

const S = 1000;
function setup(input: Partial<RuleInput>) {
  const rule = toRule(ruleInputSchema.parse({ name: 'r', metric: 'cpu_percent', operator: '>', threshold: 80, ...input }), { id: 'r', source: 'api', createdAtMs: 0 });
  const ev = new Evaluator();
  ev.setRules([rule]);
  let samples: SeriesSample[] = [];
  const step = (t: number, values: SeriesSample[] | number) => {
    samples = typeof values === 'number' ? [{ labels: {}, value: values / 100 }] : values;
    return ev.evaluate(t * S, () => samples).map((x) => `${x.kind}${x.instance.labels.plugin_id ? `:${x.instance.labels.plugin_id}` : ''}`);
  };
  const firing = () => [...ev.active()].filter((a) => a.state === 'firing').length;
  return { ev, step, firing };
}

t.test('for: pending until t - activeAt >= for, then firing; a pending alert that clears is forgotten', async (t) => {
  const { step, firing, ev } = setup({ for: '3s' });
  t.same(step(0, 90), []);
  t.equal([...ev.active()][0]!.state, 'pending');
  t.same(step(1, 90), []);
  t.same(step(2, 50), []);
  t.equal([...ev.active()].length, 0);
  t.same(step(3, 90), []);
  t.same(step(5, 90), []);
  t.same(step(6, 90), ['firing']);
  t.equal(firing(), 1);
  t.same(step(7, 50), ['resolved']);
  t.equal(firing(), 0);
});

t.test('value and annotations follow the latest sample', async (t) => {
  const { step, ev } = setup({ message: 'at {{ $value }}' });
  step(0, 90);
  step(1, 95);
  const a = [...ev.active()][0]!;
  t.equal(a.value, 95);
  t.equal(a.annotations.description, 'at 95');
  t.same(a.labels, { severity: 'warning', perfwatch_rule: 'r' });
});

t.test('hysteresis holds only while firing', async (t) => {
  const { step } = setup({ clear_threshold: 70, for: '1s' });
  t.same(step(0, 75), [], 'below threshold: nothing');
  t.same(step(1, 85), []);
  t.same(step(2, 75), [], 'pending + between clear and threshold: pending is dropped');
  t.same(step(3, 85), []);
  t.same(step(4, 85), ['firing']);
  t.same(step(5, 75), [], 'firing + above clear: stays firing');
  t.same(step(6, 71), []);
  t.same(step(7, 70), ['resolved'], 'not beyond clear (70 > 70 is false): resolved');
});

t.test('cooldown: no re-fire until lastFiring + cooldown (inclusive), a firing alert is unaffected', async (t) => {
  const { step } = setup({ cooldown: 3 });
  t.same(step(0, 90), ['firing']);
  t.same(step(1, 90), []);
  t.same(step(2, 50), ['resolved']); // last firing evaluation: t=1
  t.same(step(3, 90), []);
  t.same(step(4, 90), [], 't = lastFiring + cooldown is still suppressed');
  t.same(step(5, 90), ['firing']);
});

t.test('keep_firing_for holds a firing alert after the condition clears', async (t) => {
  const { step } = setup({ keep_firing_for: '2s' });
  t.same(step(0, 90), ['firing']);
  t.same(step(1, 50), []);
  t.same(step(2, 90), [], 'condition back: counter resets');
  t.same(step(3, 50), []);
  t.same(step(4, 50), []);
  t.same(step(5, 50), ['resolved']);
});

t.test('per-plugin label sets: one alert per plugin; a series that disappears resolves its alert', async (t) => {
  const { step, firing } = setup({ metric: 'plugin_up', operator: '==', threshold: 0 });
  const up = (a: number, b: number) => [
    { labels: { plugin_id: 'a' }, value: a },
    { labels: { plugin_id: 'b' }, value: b },
  ];
  t.same(step(0, up(1, 1)), []);
  t.same(step(1, up(0, 1)), ['firing:a'], 'plugin a stops: plugin down fires');
  t.same(step(2, up(0, 0)), ['firing:b']);
  t.equal(firing(), 2);
  t.same(step(3, up(1, 0)), ['resolved:a'], 'plugin a restarted: cleared');
  t.same(step(4, [{ labels: { plugin_id: 'a' }, value: 1 }]), ['resolved:b'], 'plugin b unregistered: its series is gone');
});

t.test('selector narrows to matching series', async (t) => {
  const { step } = setup({ metric: 'plugin_cpu_percent', selector: { plugin_id: 'b' } });
  t.same(step(0, [{ labels: { plugin_id: 'a' }, value: 0.9 }, { labels: { plugin_id: 'b' }, value: 0.9 }]), ['firing:b']);
});

t.test('manual resolve: quiet while the condition holds, fires again after it cleared once', async (t) => {
  const { step, ev } = setup({});
  t.same(step(0, 90), ['firing']);
  const inst = [...ev.active()][0]!;
  t.equal(ev.resolveManually('r', inst.key, 1500)?.kind, 'resolved');
  t.equal(ev.resolveManually('r', inst.key, 1500), null, 'twice: nothing to resolve');
  t.same(step(2, 90), []);
  t.same(step(3, 95), []);
  t.same(step(4, 50), []);
  t.same(step(5, 90), ['firing']);
});

t.test('NaN never fires; disabled rules are not evaluated; restored instances resolve when clear', async (t) => {
  const { step } = setup({});
  t.same(step(0, Number.NaN), []);
  const off = setup({ enabled: false });
  t.same(off.step(0, 99), []);
  const r = setup({});
  r.ev.restoreFiring(r.ev.rules[0]!, { severity: 'warning', perfwatch_rule: 'r' }, 0, 0, 90);
  t.same(r.step(1, 90), [], 'restored and still true: no new firing');
  t.same(r.step(2, 10), ['resolved']);
});
