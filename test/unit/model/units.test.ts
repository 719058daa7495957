import t from 'tap';
import { formatHundredths, round } from '../../../src/model/units.js';

t.test('formatHundredths(n) is String(n / 100) for every integer n', async (t) => {
  const edges = [0, -0, 1, -1, 5, -5, 10, -10, 99, 100, 101, 110, 1000, 1005, 123456, -123456, 2147483647, -2147483647, 2147483648, -2147483648, 1e12, -1e15, 2 ** 53];
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const random = Array.from({ length: 20_000 }, (_, i) => Math.round((rand() - 0.5) * 10 ** (1 + (i % 12))));
  const bad = [...edges, ...random].filter((n) => formatHundredths(n) !== String(n / 100));
  t.same(bad, [], 'no integer formats differently');
  t.equal(formatHundredths(-0), '0');
  t.equal(formatHundredths(-5), '-0.05');
  t.equal(formatHundredths(1230), '12.3');
  t.equal(formatHundredths(1e17), '1000000000000000');
});

t.test('with round: the same text as the rounded value', async (t) => {
  for (const v of [0.004, 0.005, 1.005, 50.125, 99.999, -3.14159, 12345.678, 1e-9]) {
    t.equal(formatHundredths(Math.round(v * 100)), String(round(v, 2)), String(v));
  }
});
