import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { statsOf, trendOf } from '../../../src/store/history-stats.js';
import { SeriesStore } from '../../../src/store/series-store.js';
import { seriesBytes, TieredSeries } from '../../../src/store/tiered-series.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1); // minute-aligned

t.test('raw re-bucketing: exact min, max, avg, last; gaps are left out', async (t) => {
  const s = new TieredSeries(100, [{ bucketMs: MIN, capacity: 10 }]);
  // 10 s samples: 1..6 in minute 0, nothing in minute 1, 10 and 20 in minute 2
  [1, 2, 3, 4, 5, 6].forEach((v, i) => s.append(T0 + i * 10_000, v));
  s.append(T0 + 2 * MIN, 10);
  s.append(T0 + 2 * MIN + 30_000, 20);
  const pts = s.query(T0, T0 + 3 * MIN, MIN);
  t.same(pts, [
    { t: T0, avg: 3.5, min: 1, max: 6, last: 6, count: 6 },
    { t: T0 + 2 * MIN, avg: 15, min: 10, max: 20, last: 20, count: 2 },
  ]);
  t.equal(s.append(T0, 99), false, 'time only moves forward');
});

t.test('tiers answer ranges raw no longer covers, with the same maths', async (t) => {
  const s = new TieredSeries(6, [
    { bucketMs: MIN, capacity: 60 },
    { bucketMs: 5 * MIN, capacity: 24 },
  ]);
  // one sample every 10 s for 30 minutes: value = minute index
  for (let i = 0; i < 180; i++) s.append(T0 + i * 10_000, Math.floor(i / 6));
  t.equal(s.size, 6, 'raw keeps the last 6 only');
  const end = T0 + 30 * MIN - 1;
  t.equal(s.sourceFor(T0, end)?.bucketMs, MIN, 'a 30-minute range comes from the 1-minute tier');
  const perMinute = s.query(T0, end, MIN);
  t.equal(perMinute.length, 30);
  t.same(perMinute[7], { t: T0 + 7 * MIN, avg: 7, min: 7, max: 7, last: 7, count: 6 });
  const per5 = s.query(T0, end, 5 * MIN);
  t.same(per5[1], { t: T0 + 5 * MIN, avg: 7, min: 5, max: 9, last: 9, count: 30 }, 're-bucketing 1-minute buckets to 5 minutes');
  t.equal(s.sourceFor(T0 - 10 * 60 * MIN, end)?.bucketMs, 5 * MIN, 'longer than the 1-minute tier: the 5-minute tier');
  const last = s.query(T0 + 1_740_000, end, 10_000); // exactly the 6 raw samples: 1740 s … 1790 s
  t.same(last.map((p) => p.avg), [29, 29, 29, 29, 29, 29], 'recent range: raw');
});

t.test('a ring overwrites its oldest bucket and never returns a stale one', async (t) => {
  const s = new TieredSeries(2, [{ bucketMs: MIN, capacity: 3 }]);
  for (let m = 0; m < 5; m++) s.append(T0 + m * MIN, m);
  const pts = s.query(T0, T0 + 5 * MIN, MIN);
  t.same(pts.map((p) => p.avg), [2, 3, 4], 'minutes 0 and 1 were overwritten by 3 and 4');
});

t.test('bytes per series are what the layout says', async (t) => {
  t.equal(seriesBytes(720, [{ bucketMs: MIN, capacity: 1440 }, { bucketMs: 5 * MIN, capacity: 2016 }]), 720 * 16 + (1440 + 2016) * 48);
  const s = new TieredSeries(720, [{ bucketMs: MIN, capacity: 1440 }, { bucketMs: 5 * MIN, capacity: 2016 }]);
  t.equal(s.snapshot().byteLength, 720 * 16 + (1440 + 2016) * 48, "one buffer of exactly that size");
});

t.test('summary statistics and trend', async (t) => {
  const pts = [0, 1, 2, 3].map((i) => ({ t: T0 + i * MIN, avg: 10 + i * 10, min: 10 + i * 10 - 1, max: 10 + i * 10 + 1, last: 10, count: 2 }));
  t.same(statsOf(pts), { average: 25, maximum: 41, minimum: 9 });
  t.equal(statsOf([]), null);
  t.equal(trendOf(pts, 4 * MIN), 'increasing');
  t.equal(trendOf([...pts].reverse().map((p, i) => ({ ...p, t: T0 + i * MIN })), 4 * MIN), 'decreasing');
  const flat = pts.map((p, i) => ({ ...p, avg: 50 + (i % 2) }));
  t.equal(trendOf(flat, 4 * MIN), 'stable', 'a 1-point wobble is stable');
  t.equal(trendOf(pts.slice(0, 1), MIN), 'stable');
});

t.test('checkpoint round trip keeps every sample and the gap', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-ckpt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const layout = { rawCapacity: 50, tiers: [{ bucketMs: MIN, capacity: 10 }] };
  const a = new SeriesStore(layout);
  for (let i = 0; i < 20; i++) a.append('host:cpu_percent', { name: 'cpu_percent', unit: '%', kind: 'host' }, T0 + i * 1000, i);
  a.append('custom:x{k="v"}', { name: 'x', unit: 'ms', kind: 'custom', tags: { k: 'v' } }, T0, 7);
  const file = path.join(dir, 'h.ckpt');
  await a.checkpoint(file);
  const b = new SeriesStore(layout);
  t.same(await b.restore(file), { restored: 2 });
  t.same(b.get('host:cpu_percent')!.data.query(T0, T0 + MIN, 1000), a.get('host:cpu_percent')!.data.query(T0, T0 + MIN, 1000));
  t.same(b.get('host:cpu_percent')!.data.query(T0 - 60 * MIN, T0 + MIN, MIN), a.get('host:cpu_percent')!.data.query(T0 - 60 * MIN, T0 + MIN, MIN), 'tier queries too');
  t.equal(b.get('host:cpu_percent')!.data.query(T0 - 60 * MIN, T0 + MIN, MIN).length, 1);
  t.same(b.get('custom:x{k="v"}')!.meta, { name: 'x', unit: 'ms', kind: 'custom', tags: { k: 'v' } });
  b.append('host:cpu_percent', { name: 'cpu_percent', unit: '%', kind: 'host' }, T0 + 5 * MIN, 99);
  const after = b.get('host:cpu_percent')!.data.query(T0, T0 + 6 * MIN, MIN);
  t.same(after.map((p) => p.t), [T0, T0 + 5 * MIN], 'the downtime is a gap, not interpolated');
  const c = new SeriesStore({ rawCapacity: 51, tiers: layout.tiers });
  t.match(await c.restore(file), { skipped: /layout changed/ });
  t.match(await c.restore(path.join(dir, 'none')), { skipped: 'no checkpoint' });
});

t.test('a format-1 checkpoint (field-per-array layout, before the interleaved one) loads with the same history', async (t) => {
  // test/fixtures/history-v1.ckpt was written by commit c8473b3 from exactly these appends
  const layout = { rawCapacity: 50, tiers: [{ bucketMs: MIN, capacity: 10 }, { bucketMs: 5 * MIN, capacity: 3 }] };
  const fresh = new SeriesStore(layout);
  for (let i = 0; i < 80; i++) fresh.append('host:cpu_percent', { name: 'cpu_percent', unit: '%', kind: 'host' }, T0 + i * 10_000, (i * 7) % 13);
  fresh.append('custom:x{k="v"}', { name: 'x', unit: 'ms', kind: 'custom', tags: { k: 'v' } }, T0, 7);
  const old = new SeriesStore(layout);
  t.same(await old.restore(new URL('../../fixtures/history-v1.ckpt', import.meta.url).pathname), { restored: 2 });
  const a = fresh.get('host:cpu_percent')!.data;
  const b = old.get('host:cpu_percent')!.data;
  t.same(b.cursor, a.cursor);
  t.same(b.latest(), a.latest());
  t.equal(b.tiers[0]!.newest, a.tiers[0]!.newest, 'newest bucket recovered from the ids');
  const end = T0 + 80 * 10_000;
  for (const [from, step, what] of [
    [end - 8 * MIN, 10_000, 'raw'],
    [end - 9 * MIN, MIN, '1-minute tier'],
    [end - 14 * MIN, 5 * MIN, '5-minute tier'],
  ] as const) {
    t.same(b.query(from, end, step), a.query(from, end, step), what);
    t.ok(a.query(from, end, step).length > 0, `${what}: not empty`);
  }
  t.equal(a.sourceFor(end - 9 * MIN, end)?.bucketMs, MIN);
  t.equal(a.sourceFor(end - 14 * MIN, end)?.bucketMs, 5 * MIN);
  t.same(old.get('custom:x{k="v"}')!.data.latest(), { t: T0, v: 7 });
  // the newest bucket is open again after the load: a sample in the same minute joins it
  a.append(end + 1000, 100);
  b.append(end + 1000, 100);
  t.same(b.query(end - 9 * MIN, end + 1000, MIN), a.query(end - 9 * MIN, end + 1000, MIN), 'open bucket continued');
  t.equal(a.query(end - MIN, end + 1000, MIN).at(-1)!.max, 100);
  // and written again, it is format 2
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-ckpt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await old.checkpoint(path.join(dir, 'h.ckpt'));
  const again = new SeriesStore(layout);
  t.same(await again.restore(path.join(dir, 'h.ckpt')), { restored: 2 });
  t.same(again.get('host:cpu_percent')!.data.query(T0, end + 1000, MIN), a.query(T0, end + 1000, MIN));
});
