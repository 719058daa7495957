import { Worker } from 'node:worker_threads';

/**
 * The first lines of a report worker (plain JavaScript, run with `eval`, so it is the same from src/ under tsx and from
 * dist/): the thread, and any Chromium it starts (a child inherits its thread's policy), run SCHED_IDLE, so on a busy
 * machine a report waits for idle CPU instead of taking it from the event loop that answers /metrics. Best effort:
 * without chrt (util-linux) it runs at normal priority.
 */
export const IDLE_PRELUDE = `
const { parentPort, workerData } = require('node:worker_threads');
try {
  const tid = require('node:fs').readlinkSync('/proc/thread-self').split('/').pop();
  require('node:child_process').execFileSync('chrt', ['--idle', '-p', '0', tid], { stdio: 'ignore' });
} catch {}
`;

/**
 * Runs `code` (which starts with IDLE_PRELUDE and answers one message with `{error}` or its result) in a worker thread
 * for one job: posts `message` with `transfer`, resolves with the answer, and ends the thread either way.
 */
export async function runWorker<T>(code: string, workerData: unknown, message: unknown, transfer: ArrayBuffer[]): Promise<T> {
  const worker = new Worker(code, { eval: true, workerData });
  try {
    const answer = await new Promise<T & { error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the report worker exited (${code})`)));
      worker.postMessage(message, transfer);
    });
    if (answer.error !== undefined) throw new Error(answer.error);
    return answer;
  } finally {
    await worker.terminate();
  }
}
