import t from 'tap';
import { BatchParser, type ParsedOnMain } from '../../../src/ingest/batch-parser.js';

const body = (metrics: unknown[]) => Buffer.from(JSON.stringify({ metrics }));
type Ok = Exclude<ParsedOnMain, { fatal: unknown }>;
function ok(r: ParsedOnMain): Ok {
  if ('fatal' in r) throw new Error(`unexpected fatal: ${r.fatal.message}`);
  return r;
}
/** The name each accepted sample resolves to on the main thread: what the batch route appends to. */
const names = (r: Ok) => Array.from(r.ids.subarray(0, r.count), (id) => r.routes.samples[id]!.name);

t.test('a real worker thread: parsed in order, routes known across batches, started lazily and once', async (t) => {
  const parser = new BatchParser({ maxRoutes: 100 });
  t.teardown(() => parser.close());
  t.equal(parser.running, false, 'no thread before the first batch');
  // several batches in flight at once: replies come back in order, each with its own arrays
  const [a, b, c] = await Promise.all([
    parser.parse(body([{ name: 'x', value: 1 }, { name: 'y', value: 2 }]), 10),
    parser.parse(body([{ name: 'y', value: 3 }, { name: 'z', value: 'bad' }, { name: 'x', value: 4 }]), 10),
    parser.parse(Buffer.from('{"metrics": ['), 10),
  ]);
  t.equal(parser.starts, 1);
  t.equal(parser.running, true);
  t.same(names(ok(a)), ['x', 'y']);
  t.same(names(ok(b)), ['y', 'x'], 'routes described by an earlier reply resolve in a later one');
  t.same([...ok(b).values.subarray(0, 2)], [3, 4]);
  t.same(ok(b).errors.map((e) => [e.index, e.code]), [[1, 'INVALID_METRIC_VALUE']]);
  t.same('fatal' in c && c.fatal.code, 'INVALID_JSON');
  const tooBig = await parser.parse(body([{ name: 'x', value: 1 }, { name: 'x', value: 2 }]), 1);
  t.same('fatal' in tooBig && tooBig.fatal.code, 'BATCH_TOO_LARGE');
});

t.test('after the worker restarts its route ids, batches parsed before and after each resolve to their own names', async (t) => {
  const parser = new BatchParser({ maxRoutes: 3 });
  t.teardown(() => parser.close());
  const before = ok(await parser.parse(body([{ name: 'a', value: 1 }, { name: 'b', value: 2 }]), 10));
  // 2 known + 2 incoming > 3: the worker restarts its ids, so 'c' and 'd' get ids 0 and 1, which meant 'a' and 'b'
  const after = ok(await parser.parse(body([{ name: 'c', value: 3 }, { name: 'd', value: 4 }]), 10));
  t.same(names(after), ['c', 'd']);
  t.same(names(before), ['a', 'b'], 'a batch still being applied keeps the routes it was parsed with');
  t.not(after.routes, before.routes);
});

t.test('close() fails batches in flight; the next batch starts a new thread; an idle thread stops by itself', async (t) => {
  const parser = new BatchParser({ maxRoutes: 100, idleMs: 300 });
  t.teardown(() => parser.close());
  ok(await parser.parse(body([{ name: 'x', value: 1 }]), 10));
  const big = body(Array.from({ length: 50_000 }, (_, i) => ({ name: `n${i % 10}`, value: i })));
  const failed = t.rejects(parser.parse(big, 100_000), /closed/);
  await parser.close();
  await failed;
  t.equal(parser.running, false);
  const again = ok(await parser.parse(body([{ name: 'x', value: 5 }]), 10));
  t.equal(parser.starts, 2);
  t.same(names(again), ['x'], 'a new thread describes its routes again');
  await new Promise((r) => setTimeout(r, 700));
  t.equal(parser.running, false, 'stopped after idleMs without a batch');
  ok(await parser.parse(body([{ name: 'x', value: 6 }]), 10));
  t.equal(parser.starts, 3);
});
