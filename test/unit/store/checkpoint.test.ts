import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SeriesStore } from '../../../src/store/series-store.js';

const T0 = Date.UTC(2026, 0, 1);
const layout = { rawCapacity: 50, tiers: [{ bucketMs: 60_000, capacity: 10 }] };
const host = { name: 'cpu_percent', unit: '%', kind: 'host' as const };

function filled(n = 20): SeriesStore {
  const s = new SeriesStore(layout);
  for (let i = 0; i < n; i++) s.append('host:cpu_percent', host, T0 + i * 1000, i);
  s.append('custom:x', { name: 'x', unit: 'ms', kind: 'custom', tags: { k: 'v' } }, T0, 7);
  return s;
}

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-ckpt3-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'history.ckpt');
}

t.test('format 3 starts with its name, version and checksum, and round-trips', async (t) => {
  const file = tmp(t);
  await filled().checkpoint(file);
  t.match(readFileSync(file).subarray(0, 100).toString('latin1'), /^perfwatch-history 3 [0-9a-f]{64} \d{12}\n/);
  const b = new SeriesStore(layout);
  t.same(await b.restore(file), { restored: 2 });
  t.equal(b.get('host:cpu_percent')!.data.latest()!.v, 19);
});

t.test('one flipped byte anywhere after the first line is refused, and the store stays empty', async (t) => {
  const file = tmp(t);
  await filled().checkpoint(file);
  const good = readFileSync(file);
  const firstLine = good.indexOf(10) + 1;
  for (const at of [firstLine + 3, Math.floor(good.length / 2), good.length - 5]) {
    const bad = Buffer.from(good);
    bad[at] = bad[at]! ^ 0x5a;
    writeFileSync(file, bad);
    const s = new SeriesStore(layout);
    t.same(await s.restore(file), { skipped: 'checksum mismatch (torn write or damaged file)' }, `byte ${at}`);
    t.equal(s.count(), 0, 'nothing restored');
  }
});

t.test('random bytes, a truncated file and a format from the future are refused with a reason', async (t) => {
  const file = tmp(t);
  writeFileSync(file, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
  t.match(await new SeriesStore(layout).restore(file), { skipped: /unreadable checkpoint header|not one this perfwatch reads/ });
  await filled().checkpoint(file);
  writeFileSync(file, readFileSync(file).subarray(0, 2000));
  t.match(await new SeriesStore(layout).restore(file), { skipped: /checksum mismatch/ }, 'a torn write');
  writeFileSync(file, 'perfwatch-history 9 abc 000000000001\n{');
  t.same(await new SeriesStore(layout).restore(file), { skipped: 'checkpoint format 9 is not one this perfwatch reads (1, 2, 3)' });
});

t.test('a legacy (format 2, no checksum) header with garbage cursors or names is refused before anything loads', async (t) => {
  const file = tmp(t);
  const per = new SeriesStore(layout).bytesPerSeries;
  const v2 = (series: unknown[]) => Buffer.concat([Buffer.from(`${JSON.stringify({ version: 2, layout, series })}\n`), Buffer.alloc(per * series.length)]);
  const ok = { key: 'host:cpu_percent', meta: host, updatedMs: T0, cursor: { head: 0, size: 1 } };
  writeFileSync(file, v2([ok]));
  t.same(await new SeriesStore(layout).restore(file), { restored: 1 }, 'a sane legacy file still loads (upgrades keep history)');
  const cases: Array<[string, unknown, RegExp]> = [
    ['head past the ring', { ...ok, cursor: { head: 50, size: 1 } }, /cursor is outside the raw ring/],
    ['negative size', { ...ok, cursor: { head: 0, size: -1 } }, /cursor is outside/],
    ['fractional head', { ...ok, cursor: { head: 0.5, size: 1 } }, /cursor is outside/],
    ['a name that is not a string', { ...ok, meta: { ...host, name: 12 } }, /meta is not a series description/],
    ['an unknown kind', { ...ok, meta: { ...host, kind: 'other' } }, /meta is not a series description/],
    ['tags that are not strings', { ...ok, meta: { ...host, tags: { a: 1 } } }, /tags is not a string map/],
    ['no key', { ...ok, key: 5 }, /key is missing/],
    ['updatedMs NaN', { ...ok, updatedMs: 'soon' }, /updatedMs is not a time/],
  ];
  for (const [what, entry, reason] of cases) {
    writeFileSync(file, v2([entry]));
    const s = new SeriesStore(layout);
    t.match(await s.restore(file), { skipped: reason }, what);
    t.equal(s.count(), 0, `${what}: nothing restored`);
  }
  writeFileSync(file, v2([ok, ok]));
  t.match(await new SeriesStore(layout).restore(file), { skipped: /repeated/ }, 'a repeated key');
});

t.test('appends while a checkpoint is being written leave a file that verifies', async (t) => {
  const file = tmp(t);
  const s = new SeriesStore(layout);
  for (let k = 0; k < 200; k++) s.append(`custom:s${k}`, { name: `s${k}`, unit: '', kind: 'custom' }, T0, k);
  let i = 1;
  const writing = s.checkpoint(file);
  const timer = setInterval(() => {
    for (let k = 0; k < 200; k++) s.append(`custom:s${k}`, { name: `s${k}`, unit: '', kind: 'custom' }, T0 + i * 1000, k + i);
    i++;
  }, 0);
  await writing;
  clearInterval(timer);
  t.ok(i > 1, `appends ran during the write (${i - 1} rounds)`);
  t.same(await new SeriesStore(layout).restore(file), { restored: 200 });
});
