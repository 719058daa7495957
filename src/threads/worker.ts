import { parentPort, Worker } from 'node:worker_threads';

/**
 * Worker threads for work that would hold the event loop (report builds, profiling queries), one per module, kept
 * across jobs. The module calls `serve`; the main thread calls `runWorker`.
 */

/**
 * How a worker starts (plain JavaScript, run with `eval`). With `idle` (report builds) the thread, and any Chromium it
 * starts (a child inherits its thread's policy), run SCHED_IDLE, so on a busy machine a report waits for idle CPU
 * instead of taking it from the event loop that answers /metrics (best effort: without chrt, util-linux, it runs at
 * normal priority). Then it imports its module: from dist/ as it is; a `.ts` one from src/ through the loader the
 * thread inherited (tap's), or else after registering tsx, whose hooks a worker does not inherit from
 * `node --import tsx` (the bench).
 */
function startCode(entry: URL, idle: boolean): string {
  const url = JSON.stringify(entry.href);
  const prelude = `
try {
  const tid = require('node:fs').readlinkSync('/proc/thread-self').split('/').pop();
  require('node:child_process').execFileSync('chrt', ['--idle', '-p', '0', tid], { stdio: 'ignore' });
} catch {}`;
  return `${idle ? prelude : ''}
import(${url}).catch((err) => {
  if (err.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  return import('tsx/esm/api').then((m) => (m.register(), import(${url} + '?tsx')));
});
`;
}

/**
 * In a worker module: answers each job posted by `runWorker`. `handle(job)` returns (or resolves to)
 * `[answer, transfer]`; a throw answers with its message for that job only.
 */
export function serve<J>(handle: (job: J) => Promise<[unknown, ArrayBuffer[]]> | [unknown, ArrayBuffer[]]): void {
  const port = parentPort;
  if (!port) throw new Error('serve() runs in a worker thread');
  port.on('message', async ({ id, job }: { id: number; job: J }) => {
    try {
      const [answer, transfer] = await handle(job);
      port.postMessage({ id, answer }, transfer);
    } catch (err) {
      port.postMessage({ id, error: String((err as Error)?.message ?? err) });
    }
  });
}

/** A worker module's URL beside the caller's: `.ts` under src/, `.js` in dist/. */
export function workerModule(name: string, from: string): URL {
  return new URL(`./${name}${from.endsWith('.ts') ? '.ts' : '.js'}`, from);
}

interface Slot {
  key: string;
  worker: Worker;
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  idle: NodeJS.Timeout | null;
}

/**
 * Workers live across jobs, one per module, and end after `IDLE_MS` (5 s) without a
 * job. A thread per job cost the event loop 3–7 ms at each start, and 5–14 ms with the `chrt` fork of the prelude, in
 * a 300 MB process (bench/README.md, "Reports"): ten CSVs in a row paid it ten times. Not longer: after a PDF the build
 * worker holds ECharts and playwright-core, about 100 MB, which an idle agent should give back.
 */
const slots = new Map<string, Slot>();
let nextId = 0;
let IDLE_MS = 5000;

/** For tests: how long an idle worker lives. */
export function setWorkerIdleMs(ms: number): void {
  IDLE_MS = ms;
}

/** The worker threads alive now (tests). */
export function liveWorkers(): Worker[] {
  return [...slots.values()].map((s) => s.worker);
}

function slotFor(entry: URL, idle: boolean): Slot {
  const key = entry.href;
  const found = slots.get(key);
  if (found) return found;
  const slot: Slot = { key, worker: new Worker(startCode(entry, idle), { eval: true }), pending: new Map(), idle: null };
  const fail = (err: Error) => {
    if (slots.get(key) === slot) slots.delete(key);
    if (slot.idle) clearTimeout(slot.idle);
    for (const p of slot.pending.values()) p.reject(err);
    slot.pending.clear();
  };
  slot.worker.on('message', ({ id, answer, error }: { id: number; answer?: unknown; error?: string }) => {
    const p = slot.pending.get(id);
    if (!p) return;
    slot.pending.delete(id);
    if (error !== undefined) p.reject(new Error(error));
    else p.resolve(answer);
    if (!slot.pending.size) park(slot);
  });
  slot.worker.on('error', fail);
  slot.worker.on('exit', (code) => fail(new Error(`the worker thread exited (${code})`)));
  slots.set(key, slot);
  return slot;
}

/** No job left: the thread no longer holds the process open, and ends after IDLE_MS unless a job comes. */
function park(slot: Slot): void {
  slot.worker.unref();
  slot.idle = setTimeout(() => {
    if (slot.pending.size) return;
    slots.delete(slot.key);
    void slot.worker.terminate();
  }, IDLE_MS);
  slot.idle.unref();
}

/**
 * Runs one job on the worker for the module `entry` (which calls `serve`): posts `job` with `transfer`, resolves with
 * the answer. The worker is started at the first job (SCHED_IDLE with `idle`) and kept for the next ones.
 */
export function runWorker<T>(entry: URL, job: unknown, transfer: ArrayBuffer[], opts: { idle?: boolean } = {}): Promise<T> {
  const slot = slotFor(entry, opts.idle ?? false);
  if (slot.idle) clearTimeout(slot.idle);
  slot.idle = null;
  slot.worker.ref();
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    slot.worker.postMessage({ id, job }, transfer);
  });
}
