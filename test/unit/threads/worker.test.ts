import t from 'tap';
import { liveWorkers, runWorker, serve, setWorkerIdleMs, workerModule } from '../../../src/threads/worker.js';

const ENTRY = workerModule('test-worker', new URL('../../fixtures/x.ts', import.meta.url).href);
type Answer = { threadId: number; out: Float64Array };
const job = (op: string, values: number[] = [1, 2]) => {
  const data = Float64Array.from(values);
  return runWorker<Answer>(ENTRY, { op, data }, [data.buffer as ArrayBuffer]);
};

t.test('one thread serves job after job, and jobs at once, each answered by its own id', async (t) => {
  setWorkerIdleMs(60_000);
  const a = await job('double', [1, 2, 3]);
  t.same([...a.out], [2, 4, 6]);
  const b = await job('double');
  t.equal(b.threadId, a.threadId, 'the second job ran on the same thread');
  const [slow, fast] = await Promise.all([job('slow', [5]), job('double', [7])]);
  t.same([[...slow.out], [...fast.out]], [[10], [14]], 'each job got its own answer');
  t.equal(liveWorkers().length, 1);
});

t.test('a job that throws fails alone; a worker that dies fails its jobs and the next job starts a new one', async (t) => {
  setWorkerIdleMs(60_000);
  const before = (await job('double')).threadId;
  await t.rejects(job('fail'), /asked to fail/);
  t.equal((await job('double')).threadId, before, 'the thread lived through a failed job');
  const pending = job('slow');
  await t.rejects(job('die'), /the worker thread exited \(3\)/);
  await t.rejects(pending, /exited/, 'a job on the dead thread is failed, not left hanging');
  const after = (await job('double')).threadId;
  t.not(after, before, 'a new thread');
});

t.test('an idle worker ends after the idle time, and a job after that starts another', async (t) => {
  setWorkerIdleMs(50);
  const first = (await job('double')).threadId;
  t.equal(liveWorkers().length, 1);
  const w = liveWorkers()[0]!;
  const hold = setInterval(() => {}, 1000); // the parked thread and its timer hold the process no longer: this test does
  await new Promise((r) => w.once('exit', r));
  clearInterval(hold);
  t.equal(liveWorkers().length, 0, 'ended when idle');
  t.not((await job('double')).threadId, first);
  setWorkerIdleMs(5000);
});

t.test('serve() belongs in a worker thread', async (t) => {
  t.throws(() => serve(() => [null, []]), /runs in a worker thread/);
});

t.test('a worker started with idle runs SCHED_IDLE (a report build); without, at normal priority (a query)', async (t) => {
  const idle = new URL(`${ENTRY.href}?idle`);
  const policyOf = (entry: URL, opts: { idle?: boolean }) => runWorker<number>(entry, { op: 'policy', data: new Float64Array(0) }, [], opts);
  t.equal(await policyOf(ENTRY, {}), 0, 'SCHED_OTHER');
  t.equal(await policyOf(idle, { idle: true }), 5, 'SCHED_IDLE (chrt, util-linux)');
});
