import { Registry } from 'prom-client';
import t from 'tap';
import { CustomFamilies } from '../../../src/sinks/prometheus/custom-families.js';
import { validateSample } from '../../../src/store/custom-metric.js';
import { CustomSeries } from '../../../src/store/custom-series.js';
import { SeriesStore } from '../../../src/store/series-store.js';

const T0 = Date.UTC(2026, 0, 1);

function setup(maxSeries = 10, ttlMs = 60_000) {
  const registry = new Registry();
  const store = new SeriesStore({ rawCapacity: 100, tiers: [{ bucketMs: 60_000, capacity: 10 }] });
  const custom = new CustomSeries({ store, exporter: new CustomFamilies(registry), maxSeries, ttlMs });
  const ingest = (body: string, now: number) => custom.ingest(validateSample(JSON.parse(body)), now);
  return { registry, store, custom, ingest };
}

t.test('one series whatever the tag order; each order finds it again', async (t) => {
  const { store, custom, ingest, registry } = setup();
  ingest('{"name":"lat","value":1,"unit":"ms","tags":{"a":"1","b":"2"}}', T0);
  ingest('{"name":"lat","value":2,"unit":"ms","tags":{"b":"2","a":"1"}}', T0 + 1000);
  ingest('{"name":"lat","value":3,"unit":"ms","tags":{"a":"1","b":"2"}}', T0 + 2000);
  ingest('{"name":"lat","value":4,"unit":"ms","tags":{"b":"2","a":"1"}}', T0 + 3000);
  t.equal(custom.count, 1);
  t.equal(store.count('custom'), 1);
  const s = store.get('custom:lat{a="1",b="2"}')!;
  t.same(s.data.query(T0, T0 + 5000, 1000).map((p) => p.last), [1, 2, 3, 4], 'every sample in the one series, in order');
  t.equal(s.updatedMs, T0 + 3000);
  custom.sweep(T0 + 3000);
  t.match(await registry.metrics(), /perfwatch_custom_lat_seconds\{a="1",b="2"\} 0\.004\n/);
});

t.test('a sub-set of tags, a super-set and no tags are other series, not prefixes of one', async (t) => {
  const { store, ingest } = setup();
  ingest('{"name":"q","value":1,"tags":{"a":"1"}}', T0);
  t.throws(() => ingest('{"name":"q","value":2,"tags":{"a":"1","b":"2"}}', T0), /same tag keys \(a\)/, 'other tag keys for the same family are refused before any sweep exported the first (Prometheus families have one label set)');
  ingest('{"name":"r","value":2}', T0);
  ingest('{"name":"r2","value":3,"tags":{"a":"1"}}', T0);
  t.same([...store.entries()].map(([k]) => k).sort(), ['custom:q{a="1"}', 'custom:r', 'custom:r2{a="1"}']);
  t.equal(store.get('custom:q{a="1"}')!.data.latest()!.v, 1, 'the refused sample changed nothing');
});

t.test('evicted series leave the lookup: the same tags start a fresh series, never a stale one', async (t) => {
  const { store, custom, ingest } = setup(2, 1000);
  ingest('{"name":"a","value":1,"tags":{"id":"x"}}', T0);
  ingest('{"name":"a","value":2,"tags":{"id":"y"}}', T0);
  t.throws(() => ingest('{"name":"a","value":3,"tags":{"id":"z"}}', T0 + 500), { code: 'SERIES_LIMIT_EXCEEDED' }, 'at the cap, none past its TTL');
  ingest('{"name":"a","value":4,"tags":{"id":"z"}}', T0 + 1500);
  t.equal(custom.count, 2);
  t.notOk(store.has('custom:a{id="x"}'), 'the oldest stale one was evicted');
  // x comes back: a new series (its old history went with it), which evicts y
  ingest('{"name":"a","value":5,"tags":{"id":"x"}}', T0 + 3000);
  t.same(store.get('custom:a{id="x"}')!.data.query(T0, T0 + 4000, 1000).map((p) => p.last), [5]);
  // 1000 distinct ids through a 2-series cap, then the census of everything still reachable
  for (let i = 0; i < 1000; i++) ingest(`{"name":"a","value":${i},"tags":{"id":"churn${i}"}}`, T0 + 5000 + i * 2000);
  t.equal(custom.count, 2);
  t.equal(store.count(), 2);
  // a series evicted long ago, sent again, is created anew rather than found through a stale trie node
  ingest('{"name":"a","value":7,"tags":{"id":"churn0"}}', T0 + 5000 + 1000 * 2000 + 5000);
  t.same(store.get('custom:a{id="churn0"}')!.data.query(T0, T0 + 1e10, 1e9).map((p) => p.count), [1]);
});
