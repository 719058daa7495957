import t from 'tap';
import { parseAnswer } from '../../../src/store/prometheus-api.js';
import { promFloat, scanMatrix } from '../../../src/store/prom-matrix.js';

/** How Go's strconv.FormatFloat(v, 'f', -1, 64) writes a value (Prometheus' JSON): shortest round trip, no exponent. */
function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const s = String(v);
  if (!/e/i.test(s)) return s;
  // expand the exponent as Go's 'f' format does
  return v.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20, maximumSignificantDigits: 17 } as Intl.NumberFormatOptions);
}

/** A deterministic pseudo-random source, so a failure is the same on every run. */
function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
}

const seconds = (ms: number) => (ms % 1000 ? (ms / 1000).toFixed(3).replace(/0+$/, '') : String(ms / 1000));

function answer(series: Array<{ metric: Record<string, string>; points: Array<[number, string]> }>): string {
  return `{"status":"success","data":{"resultType":"matrix","result":[${series
    .map((s) => `{"metric":${JSON.stringify(s.metric)},"values":[${s.points.map(([ms, v]) => `[${seconds(ms)},"${v}"]`).join(',')}]}`)
    .join(',')}]}}`;
}

t.test('reads what JSON.parse reads, value for value, over many random answers', async (t) => {
  const r = rng(42);
  const specials = ['NaN', '+Inf', '-Inf', '0', '-0', '1e+06', '123456789012345678', '0.1', '-0.000001', '9007199254740993', '1.7976931348623157e+308'];
  let checked = 0;
  for (let round = 0; round < 300; round++) {
    const series = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, k) => ({
      metric: { __name__: `m_${k}`, instance: `host-${k}:9100`, tricky: ['a"b', 'c\\d', '{}', '中文', 'x}y', '\n'][k % 6]! },
      points: Array.from({ length: Math.floor(r() * 40) }, (_, i): [number, string] => {
        const ms = 1_700_000_000_000 + i * 15_000 + Math.floor(r() * 3) * [1, 10, 100, 500][i % 4]!;
        const kind = r();
        const v = kind < 0.1 ? specials[Math.floor(r() * specials.length)]! : kind < 0.5 ? goFloat(Math.round(r() * 1e6) / 100) : goFloat((r() - 0.5) * 10 ** Math.floor(r() * 30 - 10));
        return [ms, v];
      }),
    }));
    const text = answer(series);
    const fast = scanMatrix(Buffer.from(text));
    t.ok(fast, `round ${round} read by the scanner`);
    const slow = parseAnswer(200, text);
    t.equal(fast!.length, slow.length);
    for (let k = 0; k < slow.length; k++) {
      t.same(fast![k]!.metric, slow[k]!.metric);
      t.same([...fast![k]!.times], [...slow[k]!.times]);
      const a = [...fast![k]!.values];
      const b = [...slow[k]!.values];
      if (!a.every((x, i) => Object.is(x, b[i]))) t.fail(`round ${round} series ${k}: values differ`, { a, b });
      checked += a.length;
    }
  }
  t.ok(checked > 10_000, `${checked} values compared`);
});

t.test('the special values, and the times at millisecond precision', async (t) => {
  const text = answer([{ metric: {}, points: [[1_700_000_000_000, 'NaN'], [1_700_000_000_001, '+Inf'], [1_700_000_000_010, '-Inf'], [1_700_000_000_100, '0.1'], [1_700_000_000_500, '-2.5']] }]);
  const [s] = scanMatrix(Buffer.from(text))!;
  t.same([...s!.times], [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_010, 1_700_000_000_100, 1_700_000_000_500]);
  t.same([...s!.values], [NaN, Infinity, -Infinity, 0.1, -2.5]);
  t.same([promFloat('+Inf'), promFloat('-Inf'), promFloat('1.5')], [Infinity, -Infinity, 1.5]);
  t.same(scanMatrix(Buffer.from(answer([]))), [], 'no series');
  const long = Array.from({ length: 10_000 }, (_, i): [number, string] => [1_700_000_000_000 + i * 1000, String(i)]);
  const [l] = scanMatrix(Buffer.from(answer([{ metric: {}, points: long }])))!;
  t.same([l!.times.length, l!.times[9999], l!.values[9999]], [10_000, 1_700_009_999_000, 9999], 'a series longer than the scratch columns');
  t.same(scanMatrix(Buffer.from(answer([{ metric: { a: 'b' }, points: [] }])))!.map((x) => x.times.length), [0], 'a series without points');
});

t.test('anything else is left to JSON.parse: null, never a wrong answer', async (t) => {
  const good = answer([{ metric: { a: 'b' }, points: [[1_700_000_000_000, '1']] }]);
  for (const [why, text] of [
    ['an instant vector', '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"1"]}]}}'],
    ['an error', '{"status":"error","errorType":"bad_data","error":"parse error"}'],
    ['a partial answer (VictoriaMetrics puts isPartial first)', '{"status":"success","isPartial":false,"data":{"resultType":"matrix","result":[]}}'],
    ['native histograms', '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[[1700000000,{"count":"1"}]]}]}}'],
    ['a series with both', '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000000,"1"]],"histograms":[]}]}}'],
    ['spaces', good.replace('"values":[', '"values": [')],
    ['a time finer than a millisecond', good.replace('1700000000', '1700000000.0001')],
    ['a truncated answer', good.slice(0, good.length - 8)],
    ['an escaped value', good.replace('"1"', '"\\u0031"')],
    ['broken labels', good.replace('{"a":"b"}', '{"a":b}')],
    ['junk between series', good.replace(']]}]}}', ']]} ]}}')],
  ] as const)
    t.equal(scanMatrix(Buffer.from(text)), null, why);
});
