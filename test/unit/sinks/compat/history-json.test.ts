import t from 'tap';
import { historyJson, writeHundredths, type HistoryColumn } from '../../../../src/sinks/compat/history-json.js';
import { isoUtc } from '../../../../src/model/time.js';

const text = (n: number) => {
  const b = Buffer.alloc(64);
  return b.toString('latin1', 0, writeHundredths(b, 0, n));
};

t.test('writeHundredths(n) writes String(n / 100), and null for what is not finite', async (t) => {
  const edges = [0, -0, 1, -1, 5, -5, 10, -10, 99, 100, 101, 110, 1000, 1005, 123456, -123456, 2147483647, -2147483647, 2147483648, -2147483648, 1e12, -1e15, 2 ** 53, 1e300 * 1e8];
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const random = Array.from({ length: 20_000 }, (_, i) => Math.round((rand() - 0.5) * 10 ** (1 + (i % 12))));
  const bad = [...edges, ...random].filter((n) => Number.isFinite(n) && text(n) !== String(n / 100));
  t.same(bad, [], 'no integer is written differently');
  t.equal(text(-0), '0');
  t.equal(text(-5), '-0.05');
  t.equal(text(1230), '12.3');
  t.equal(text(Number.NaN), 'null');
  t.equal(text(Number.POSITIVE_INFINITY), 'null');
});

/** The same answer built the obvious way: row objects, then JSON.stringify. */
function naive(head: string, tail: string, columns: HistoryColumn[]): string {
  const rows = new Map<number, Record<string, unknown>>();
  for (const c of columns) {
    c.times.forEach((time, k) => {
      if (!rows.has(time)) rows.set(time, { timestamp: isoUtc(time) });
      const v = c.hundredths[k]!;
      rows.get(time)![JSON.parse(c.field)] = Number.isFinite(v) ? v / 100 : null;
    });
  }
  return `${head}${JSON.stringify([...rows.keys()].sort((a, b) => a - b).map((k) => rows.get(k)))}${tail}`;
}

t.test('historyJson: the same bytes as JSON.stringify of the rows, merged by time across sparse columns', async (t) => {
  const T = Date.UTC(2026, 11, 1, 12);
  const columns: HistoryColumn[] = [
    { field: JSON.stringify('cpu_percent'), times: [T, T + 1000, T + 2000, T + 3000], hundredths: [1234, 5, -7, 10_000] },
    { field: JSON.stringify('sparse'), times: [T + 1000, T + 3000], hundredths: [Number.NaN, 700] },
    { field: JSON.stringify('lat{city="Zürich",emoji="📈",q="a\\"b"}'), times: [T - 1000, T + 2000], hundredths: [1, 2 ** 40] },
    { field: JSON.stringify('empty'), times: [], hundredths: [] },
  ];
  const head = '{"status":"success","data":{"metrics":';
  const tail = ',"summary":{"avg_cpu":1.5}},"timestamp":"2026-12-01T12:00:00.000Z"}';
  const got = historyJson(head, tail, columns);
  t.equal(got.toString('utf8'), naive(head, tail, columns));
  t.same(JSON.parse(got.toString('utf8')).data.metrics.map((r: { timestamp: string }) => r.timestamp), [-1000, 0, 1000, 2000, 3000].map((d) => isoUtc(T + d)), 'one row per time, in order');
  t.equal(historyJson('{"a":', '}', []).toString(), '{"a":[]}', 'no columns: an empty array');
  t.equal(historyJson('{"a":', '}', [columns[3]!]).toString(), '{"a":[]}', 'only empty columns: an empty array');
});

t.test('random columns: always the naive answer', async (t) => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 200; round++) {
    const columns: HistoryColumn[] = Array.from({ length: 1 + Math.floor(rand() * 5) }, (_, c) => {
      const times = [...new Set(Array.from({ length: Math.floor(rand() * 30) }, () => 1e12 + Math.floor(rand() * 40) * 1000))].sort((a, b) => a - b);
      return { field: JSON.stringify(`c${c}`), times, hundredths: times.map(() => Math.round((rand() - 0.3) * 10 ** Math.floor(rand() * 14))) };
    });
    const got = historyJson('{"m":', '}', columns).toString('utf8');
    if (got !== naive('{"m":', '}', columns)) {
      t.fail(`round ${round} differs: ${got.slice(0, 200)}`);
      return;
    }
  }
  t.pass('200 random answers match');
});

t.test('each answer owns its bytes: the next one does not write over it, and an answer past the kept scratch is whole', async (t) => {
  const T = Date.UTC(2026, 11, 1, 12);
  const col = (name: string, n: number, v: number): HistoryColumn => ({ field: JSON.stringify(name), times: Array.from({ length: n }, (_, i) => T + i * 1000), hundredths: Array.from({ length: n }, (_, i) => v + i) });
  const a = [col('a', 50, 100)];
  const b = [col('b', 60, 99_999)];
  const first = historyJson('{"m":', '}', a);
  const second = historyJson('{"m":', '}', b);
  t.equal(first.toString('utf8'), naive('{"m":', '}', a), 'the first answer is intact after the second was built');
  t.equal(second.toString('utf8'), naive('{"m":', '}', b));
  // 16 columns of an hour at 1 s: a bound of ~6 MB, beyond the 1 MiB scratch kept between answers
  const big = Array.from({ length: 16 }, (_, c) => col(`c${c}`, 3600, c * 1000));
  const third = historyJson('{"m":', '}', big);
  const fourth = historyJson('{"m":', '}', a);
  t.equal(third.toString('utf8'), naive('{"m":', '}', big), 'a large answer is written whole');
  t.equal(fourth.toString('utf8'), first.toString('utf8'), 'and a small one after it is the same as before');
});
