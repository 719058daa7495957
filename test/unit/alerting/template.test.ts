import t from 'tap';
import { goFloat, renderTemplate, templateProblem } from '../../../src/alerting/template.js';

t.test('goFloat prints like Go %v (values checked with promtool, docs/alerting.md)', async (t) => {
  const cases: Array<[number, string]> = [
    [1234567, '1.234567e+06'],
    [0.125, '0.125'],
    [0.00001, '1e-05'],
    [1e6, '1e+06'],
    [1e8, '1e+08'],
    [1e21, '1e+21'],
    [0.1 + 0.2, '0.30000000000000004'],
    [123456, '123456'],
    [0.0001, '0.0001'],
    [-2.5, '-2.5'],
    [85.19999999999999, '85.19999999999999'],
    [1.5e-300, '1.5e-300'],
    [0, '0'],
    [-0, '-0'],
    [Number.NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ];
  for (const [v, s] of cases) t.equal(goFloat(v), s, String(v));
});

t.test('templates: only $value and $labels.x', async (t) => {
  t.equal(templateProblem('CPU {{ $value }} on {{$labels.plugin_id}}'), null);
  t.match(templateProblem('{{ $value | humanize }}'), /only/);
  t.match(templateProblem('{{ .Value }}'), /only/);
  t.match(templateProblem('{{ $labels.__name__ }}'), /__name__/);
  t.match(templateProblem('broken }}'), /only/);
  t.equal(renderTemplate('v={{ $value }} p={{ $labels.plugin_id }} m={{ $labels.nope }}', 1234567, { plugin_id: 'echo' }), 'v=1.234567e+06 p=echo m=<no value>');
});
