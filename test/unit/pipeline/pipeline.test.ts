import t from 'tap';
import type { HostSample } from '../../../src/model/host.js';
import type { PluginSample, Snapshot } from '../../../src/model/plugin.js';
import { Pipeline, type Sink } from '../../../src/pipeline/pipeline.js';

const fakeClock = (start: number) => {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};
const sample = (id: string, t: number): PluginSample => ({ pluginId: id, pid: 1, timestampMs: t, cpuPercent: 1, cpuUserSeconds: 0, cpuSystemSeconds: 0, rssBytes: 1, memoryPercent: 0, threads: 1, processes: 1 });

t.test('a tick runs collectors, then the store, then the sinks in order, all on one frozen snapshot at the clock\'s time', async (t) => {
  const clock = fakeClock(1_000_000);
  const order: string[] = [];
  const seen: Snapshot[] = [];
  const sink = (name: string, after?: string[]): Sink => ({ name, after, onTick: async (s) => void (order.push(name), seen.push(s)) });
  const p = new Pipeline({
    clock,
    running: () => [{ id: 'a', pid: 1, startedAtMs: 0 }],
    statuses: () => [{ id: 'a', name: 'a', version: '1', state: 'running', restarts: 0, startedAtMs: 0, lastExit: null, health: { status: 'unknown', checks: [] }, service: null }],
    plugins: { collect: (running, now) => (order.push('plugins'), running.map((r) => sample(r.id, now))) },
    host: { collect: async (now) => (order.push('host'), { timestampMs: now } as HostSample) },
    record: () => void order.push('store'),
    sinks: [sink('prometheus'), sink('alerting', ['prometheus']), sink('exposition', ['prometheus'])],
    onError: (where, err) => t.fail(`${where}: ${String(err)}`),
  });
  const next = p.nextTick();
  const s = await p.tick();
  t.same(order, ['plugins', 'host', 'store', 'prometheus', 'alerting', 'exposition']);
  t.equal(s.timestampMs, 1_000_000);
  t.equal(s.host?.timestampMs, 1_000_000);
  t.equal(s.plugins[0]?.timestampMs, 1_000_000);
  t.equal(s.statuses.length, 1);
  t.ok(Object.isFrozen(s), 'sinks cannot change what the next sink reads');
  t.ok(seen.every((x) => x === s), 'every sink got the same snapshot');
  t.equal(await next, s, 'nextTick resolves with it');
  t.equal(p.latest, s);
});

t.test('a failed host collection keeps the last host sample; a throwing sink does not stop the others', async (t) => {
  const clock = fakeClock(5000);
  let fail = false;
  const errors: string[] = [];
  const got: string[] = [];
  const p = new Pipeline({
    clock,
    running: () => [],
    statuses: () => [],
    plugins: { collect: () => [] },
    host: { collect: async (now) => {
      if (fail) throw new Error('boom');
      return { timestampMs: now } as HostSample;
    } },
    record: () => {},
    sinks: [{ name: 'bad', onTick: () => { throw new Error('sink broke'); } }, { name: 'good', onTick: () => void got.push('good') }],
    onError: (where) => void errors.push(where),
  });
  await p.tick();
  clock.advance(1000);
  fail = true;
  const s = await p.tick();
  t.equal(s.host?.timestampMs, 5000, 'the previous host sample, marked by its own time');
  t.equal(s.timestampMs, 6000);
  t.same(errors, ['sink bad', 'host collector', 'sink bad']);
  t.same(got, ['good', 'good']);
});

t.test('a sink that reads another must come after it', async (t) => {
  t.throws(
    () => new Pipeline({ clock: fakeClock(0), running: () => [], statuses: () => [], plugins: { collect: () => [] }, host: null, record: () => {}, sinks: [{ name: 'alerting', after: ['prometheus'], onTick() {} }, { name: 'prometheus', onTick() {} }], onError() {} }),
    /sink alerting reads prometheus, which must come before it/,
  );
});
