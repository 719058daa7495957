import t from 'tap';
import type { Component } from '../../../src/model/component.js';
import { startAll } from '../../../src/pipeline/lifecycle.js';
import { Scheduler } from '../../../src/collectors/scheduler.js';

const part = (name: string, log: string[], fail = false): Component => ({
  name,
  start: async () => {
    log.push(`start ${name}`);
    if (fail) throw new Error(`${name} failed`);
  },
  stop: async () => void log.push(`stop ${name}`),
});

t.test('startAll starts in order and stops in reverse, once', async (t) => {
  const log: string[] = [];
  const stop = await startAll([part('a', log), part('b', log), part('c', log)], () => {});
  await Promise.all([stop(), stop()]);
  await stop();
  t.same(log, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
});

t.test('a part that fails to start: what started is stopped in reverse (the failed part too), the error goes on', async (t) => {
  const log: string[] = [];
  await t.rejects(startAll([part('a', log), part('b', log, true), part('c', log)], () => {}), /b failed/);
  t.same(log, ['start a', 'start b', 'stop b', 'stop a'], 'c never started');
});

t.test('a stop that throws is logged and the rest still stop', async (t) => {
  const log: string[] = [];
  const logged: string[] = [];
  const bad: Component = { name: 'bad', stop: () => { throw new Error('nope'); } };
  const stop = await startAll([part('a', log), bad, part('c', log)], (_level, msg) => void logged.push(msg));
  await stop();
  t.same(log, ['start a', 'start c', 'stop c', 'stop a']);
  t.same(logged, ['stopping bad failed']);
});

t.test('Scheduler.stop waits for the tick in flight and no tick starts after it', async (t) => {
  let running = 0;
  let finished = 0;
  let release!: () => void;
  const s = new Scheduler({
    intervalMs: 10,
    clock: { now: () => Date.now() },
    task: async () => {
      running++;
      await new Promise<void>((r) => (release = r));
      finished++;
    },
    onError: () => {},
  });
  s.start();
  await new Promise((r) => setTimeout(r, 5));
  t.equal(running, 1);
  let stopped = false;
  const stopping = s.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 30));
  t.equal(stopped, false, 'stop waits for the running tick');
  release();
  await stopping;
  t.equal(finished, 1);
  await new Promise((r) => setTimeout(r, 30));
  t.equal(running, 1, 'no tick after stop');
  await s.stop(); // idempotent
});
