import t from 'tap';
import { parseBatch, RouteTable, type ParsedBatch } from '../../../src/ingest/batch-parse.js';

const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
type Ok = Exclude<ParsedBatch, { fatal: unknown }>;
function ok(r: ParsedBatch): Ok {
  if ('fatal' in r) throw new Error(`unexpected fatal: ${r.fatal.message}`);
  return r;
}

t.test('whole-body errors are fatal and leave the route table as it was', async (t) => {
  const table = new RouteTable(100);
  ok(parseBatch(body({ metrics: [{ name: 'kept', value: 1 }] }), 10, table));
  const cases: Array<[string, string, RegExp]> = [
    ['', 'INVALID_JSON', /empty/],
    ['   ', 'INVALID_JSON', /empty/],
    ['{"metrics": [', 'INVALID_JSON', /not valid JSON/],
    ['[1, 2]', 'INVALID_JSON', /expected \{"metrics"/],
    ['null', 'INVALID_JSON', /expected \{"metrics"/],
    ['{"metrics": 5}', 'INVALID_JSON', /expected \{"metrics"/],
    ['{"metrics": [], "extra": 1}', 'INVALID_JSON', /only the field "metrics"/],
    [JSON.stringify({ metrics: Array.from({ length: 11 }, (_, i) => ({ name: `n${i}`, value: i })) }), 'BATCH_TOO_LARGE', /at most 10 samples.*got 11/],
  ];
  for (const [text, code, message] of cases) {
    const r = parseBatch(body(text), 10, table);
    t.ok('fatal' in r, `${text.slice(0, 30) || '(empty)'} is fatal`);
    if ('fatal' in r) {
      t.equal(r.fatal.code, code);
      t.match(r.fatal.message, message);
    }
  }
  t.equal(table.size, 1, 'no route was added by a rejected body');
  t.equal(ok(parseBatch(body({ metrics: [{ name: 'kept', value: 2 }] }), 10, table)).ids[0], 0, 'the earlier route still has its id');
});

t.test('a UTF-8 BOM is not part of the JSON', async (t) => {
  const r = ok(parseBatch(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body({ metrics: [{ name: 'bom', value: 3 }] })]), 10, new RouteTable(10)));
  t.equal(r.count, 1);
  t.equal(r.values[0], 3);
});

t.test('bad samples are rejected by index; the good ones come back as route ids, values and indices', async (t) => {
  const table = new RouteTable(100);
  const r = ok(
    parseBatch(
      body({
        metrics: [
          { name: 'a', value: 1, tags: { k: 'x' } },
          { name: 'a', value: 'nope' },
          { name: 'b', value: 2 },
          { name: 'a', value: 3, tags: { k: 'x' } },
          { name: 'bad-name', value: 4 },
          { name: 'a', value: 5, tags: { k: 'y' } },
        ],
      }),
      10,
      table,
    ),
  );
  t.equal(r.reset, false);
  t.equal(r.count, 4);
  t.same([...r.ids.subarray(0, r.count)], [0, 1, 0, 2], 'the same shape gets the same id');
  t.same([...r.values.subarray(0, r.count)], [1, 2, 3, 5]);
  t.same([...r.indices.subarray(0, r.count)], [0, 2, 3, 5], 'each accepted sample keeps its index in the batch');
  t.same(r.errors.map((e) => [e.index, e.code, e.field]), [
    [1, 'INVALID_METRIC_VALUE', 'metrics[1].value'],
    [4, 'INVALID_METRIC', 'metrics[4].name'],
  ]);
  t.same(
    r.routes.map(([id, s]) => [id, s.name, s.tags]),
    [
      [0, 'a', { k: 'x' }],
      [1, 'b', {}],
      [2, 'a', { k: 'y' }],
    ],
    'each new route is described once, the first time it is seen',
  );
});

t.test('routes: unit, category and tag order tell shapes apart; a later batch describes only what is new', async (t) => {
  const table = new RouteTable(100);
  const first = ok(
    parseBatch(
      body({
        metrics: [
          { name: 'm', value: 1, unit: 'ms' },
          { name: 'm', value: 1, unit: 's' },
          { name: 'm', value: 1, unit: 'ms', category: 'perf' },
          { name: 'm', value: 1, tags: { a: '1', b: '2' } },
          { name: 'm', value: 1, tags: { b: '2', a: '1' } },
          { name: 'm', value: 1, tags: { a: '12' } },
          { name: 'm', value: 1, tags: { a1: '2' } },
        ],
      }),
      10,
      table,
    ),
  );
  t.same([...first.ids], [0, 1, 2, 3, 4, 5, 6], 'seven shapes, seven ids');
  const second = ok(parseBatch(body({ metrics: [{ name: 'm', value: 9, tags: { b: '2', a: '1' } }, { name: 'n', value: 8 }] }), 10, table));
  t.same([...second.ids], [4, 7]);
  t.same(second.routes.map(([id]) => id), [7], 'only the new route is described');
});

t.test('when a batch could pass maxRoutes the table restarts first, says so, and describes every route again', async (t) => {
  const table = new RouteTable(4);
  const batch = (names: string[]) => ok(parseBatch(body({ metrics: names.map((name, i) => ({ name, value: i })) }), 10, table));
  const a = batch(['a', 'b']);
  t.equal(a.reset, false);
  t.same([...a.ids], [0, 1]);
  const b = batch(['b', 'a']);
  t.equal(b.reset, false, '2 routes + 2 incoming fit in 4');
  t.same([...b.ids], [1, 0]);
  t.same(b.routes, [], 'nothing new to describe');
  const c = batch(['c', 'd', 'e']);
  t.equal(c.reset, true, '2 routes + 3 incoming could pass 4: restarted before parsing');
  t.same([...c.ids], [0, 1, 2]);
  t.same(c.routes.map(([id, s]) => [id, s.name]), [[0, 'c'], [1, 'd'], [2, 'e']]);
  t.equal(table.size, 3);
  const d = batch(['a']);
  t.equal(d.reset, false);
  t.same(d.routes.map(([id, s]) => [id, s.name]), [[3, 'a']], 'a route from before the restart is new again');
});
