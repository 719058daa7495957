import t from 'tap';
import type { PluginSample } from '../../../src/model/plugin.js';
import { PLUGIN_SAMPLE_BYTES, PluginHistory, viewColumns } from '../../../src/store/plugin-history.js';

const sample = (id: string, ts: number, cpu = ts): PluginSample => ({
  pluginId: id,
  pid: 100,
  timestampMs: ts,
  cpuPercent: cpu,
  cpuUserSeconds: 0,
  cpuSystemSeconds: 0,
  rssBytes: ts * 1000,
  memoryPercent: 1,
  threads: 3,
  processes: 1,
});

t.test('fixed capacity: the oldest sample is overwritten, memory stays flat', async (t) => {
  const h = new PluginHistory({ capacity: 5, memTotalBytes: 1e6 });
  for (let i = 1; i <= 12; i++) h.append([sample('a', i)]);
  t.same(
    h.query('a', { limit: 100 }).map((s) => s.timestampMs),
    [12, 11, 10, 9, 8],
  );
  t.equal(h.latest('a')!.timestampMs, 12);
  t.equal(h.memoryBytes, 5 * PLUGIN_SAMPLE_BYTES);
  h.append([sample('b', 1)]);
  t.equal(h.memoryBytes, 10 * PLUGIN_SAMPLE_BYTES);
});

t.test('range queries are inclusive and newest first', async (t) => {
  const h = new PluginHistory({ capacity: 100, memTotalBytes: 1e6 });
  for (let i = 1; i <= 50; i++) h.append([sample('a', i * 10)]);
  t.same(h.query('a', { limit: 3 }).map((s) => s.timestampMs), [500, 490, 480]);
  t.same(h.query('a', { limit: 100, startMs: 470 }).map((s) => s.timestampMs), [500, 490, 480, 470]);
  t.same(h.query('a', { limit: 2, endMs: 255 }).map((s) => s.timestampMs), [250, 240]);
  t.same(h.query('a', { limit: 100, startMs: 100, endMs: 120 }).map((s) => s.timestampMs), [120, 110, 100]);
  t.same(h.query('a', { limit: 100, startMs: 1000 }), []);
  t.same(h.query('a', { limit: 100, endMs: 5 }), []);
  t.same(h.query('nobody', { limit: 10 }), []);
  t.equal(h.latest('nobody'), null);
});

t.test('values survive the typed arrays', async (t) => {
  const h = new PluginHistory({ capacity: 3, memTotalBytes: 1e12 });
  h.append([{ ...sample('a', 1), cpuPercent: 12.345, rssBytes: 5 * 2 ** 32, threads: 9, pid: 77 }]);
  const s = h.latest('a')!;
  t.ok(Math.abs(s.cpuPercent - 12.345) < 1e-5);
  t.equal(s.rssBytes, 5 * 2 ** 32, 'RSS above 4 GiB is exact (KiB in f32 is exact to 16 GiB)');
  t.equal(s.memoryPercent, (5 * 2 ** 32 / 1e12) * 100, 'memory share derived from RSS and MemTotal');
  t.equal(s.threads, 9);
  h.append([{ ...sample('a', 2), threads: 100_000 }]);
  t.equal(h.latest('a')!.threads, 65535, 'threads saturate rather than wrap');
  t.equal(s.pid, 77);
});

t.test('a view: the same samples as batches, oldest first, in reused typed arrays of at most `batch`, from shared memory', async (t) => {
  const h = new PluginHistory({ capacity: 8, memTotalBytes: 1e6 });
  for (let i = 1; i <= 12; i++) h.append([sample('a', i * 10, i / 2)]); // the ring keeps 50 … 120
  const rows: number[][] = [];
  const sizes: number[] = [];
  const view = h.view('a')!;
  t.ok(view.ts.buffer instanceof SharedArrayBuffer);
  for (const c of viewColumns(view, 60, 110, 4)) {
    sizes.push(c.n);
    for (let i = 0; i < c.n; i++) rows.push([c.ts[i]!, c.cpu[i]!, c.rssKib[i]! * 1024]);
  }
  const objects = [...h.batches('a', 60, 110)].flat().map((s) => [s.timestampMs, s.cpuPercent, s.rssBytes]);
  t.same(rows, objects);
  t.same(rows.map((r) => r[0]), [60, 70, 80, 90, 100, 110]);
  t.same(sizes, [4, 2], 'batches of 4');
  t.equal(h.view('nobody'), null);
  // the ring goes on after the view was taken: 50 and 60 are overwritten by 130 and 140, which are past the range
  h.append([sample('a', 130), sample('a', 140)]);
  t.same([...viewColumns(view, 0, 125)].flatMap((c) => [...c.ts.subarray(0, c.n)]), [70, 80, 90, 100, 110, 120], 'overwritten slots are skipped, not a stop');
});
