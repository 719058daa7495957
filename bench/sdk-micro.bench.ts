/**
 * @perfwatch/sdk's own CPU per request, in one process and without HTTP (issue 15): the three functions of the bench's
 * Koa app (validate, an awaited lookup, render), 20 requests at a time, run bare and through the SDK (a request per
 * call, the functions wrapped as spans, every record sent in batches of 500 to a null receiver in another process, the
 * sends in the figure). The process' CPU over 100 000 requests per round, alternating bare and SDK rounds: a far
 * steadier figure than the HTTP app's, whose run-to-run spread on this VM is wider than the 2 % goal.
 *
 * Then the CPU sampler's take, as the main thread feels it: how long each take holds it, against stopping and starting
 * V8's profiler (what a take did before its windows overlapped), in this process with its code loaded.
 */
import { spawn } from 'node:child_process';
import { Session } from 'node:inspector';
import { median } from './harness.js';

const N = Number(process.env.SDK_MICRO_REQUESTS ?? 100_000);
const ROUNDS = Number(process.env.SDK_MICRO_ROUNDS ?? 5);
/** The light request's CPU in the HTTP bench (bench/README.md, issue 15, paired blocks, bare): what the overhead is a share of. */
const LIGHT_US = 680;
const TAKES = Number(process.env.SDK_MICRO_TAKES ?? 12);

/** Main-thread ms of each take (after 200 ms of work each): the profiler stopped and started, then the SDK's sampler. */
async function takeStalls(log: (l: string) => void): Promise<{ restart: number[]; take: number[] }> {
  let x = 0;
  const busy = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end) x += Math.sqrt(x + 1);
  };
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) => new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 10_000 });
  await post('Profiler.start');
  const restart: number[] = [];
  for (let i = 0; i < TAKES; i++) {
    busy(200);
    const t0 = performance.now();
    await post('Profiler.stop');
    await post('Profiler.start');
    restart.push(performance.now() - t0);
  }
  await post('Profiler.stop');
  session.disconnect();
  const { Sampler } = (await import('../packages/sdk/dist/sampler.js' as string)) as typeof import('../packages/sdk/src/sampler.js');
  const sampler = new Sampler(10, () => 1);
  await sampler.start();
  const take: number[] = [];
  for (let i = 0; i < TAKES; i++) {
    sampler.mark(1); // the samples belong to a request: the take attributes them, as in an app
    busy(200);
    const t0 = performance.now();
    await sampler.take();
    take.push(performance.now() - t0);
    sampler.claim(1);
  }
  await sampler.stop();
  log(`sdk-micro: take stalls: restart ${restart.map((v) => v.toFixed(1)).join(' ')} ms; overlapping windows ${take.map((v) => v.toFixed(1)).join(' ')} ms`);
  return { restart, take };
}

export async function runSdkMicroBench(log: (l: string) => void): Promise<string> {
  const recv = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => s.end('{}')); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((r) => recv.stdout!.once('data', (d: Buffer) => r(Number(d))));
    // the built package, as apps run it (`npm run bench` builds it first); typed from its source, since dist/ does not
    // exist when a fresh clone is type-checked
    const built = '../packages/sdk/dist/index.js';
    const { Collector } = (await import(built)) as typeof import('../packages/sdk/src/index.js');
    const c = new Collector({ project_key: 'bench-project-key-0123456789', api_endpoint: `http://127.0.0.1:${port}/api/v1/performance/collect`, batch_size: 500, flush_interval: 1 }, {});
    const app = (wrap: <F extends (...a: never[]) => unknown>(f: F) => F) => {
      const validate = wrap(function validate(id: string) {
        return Number(id);
      });
      const lookup = wrap(async function lookup(id: number) {
        await Promise.resolve();
        return { id, name: `item ${id}`, price: id * 3, tags: ['a', 'b', 'c'] };
      });
      const render = wrap(function render(item: object) {
        return JSON.stringify(item);
      });
      return async (i: number) => render(await lookup(validate(String(i % 1000))));
    };
    const bare = app((f) => f);
    const wrapped = app((f) => c.monitor(f as never) as never);
    const sdk = (i: number) =>
      c.request({ method: 'GET', path: `/items/${i % 1000}` }, async (info) => {
        const r = await wrapped(i);
        info.route = '/items/:id';
        info.status = 200;
        return r;
      });
    const run = async (one: (i: number) => Promise<unknown>, n: number) => {
      let next = 0;
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (next < n) await one(next++);
      }));
    };
    const cpuPer = async (one: (i: number) => Promise<unknown>) => {
      const u0 = process.cpuUsage();
      await run(one, N);
      await c.flush(); // this round's records leave inside the measurement
      const u = process.cpuUsage(u0);
      return (u.user + u.system) / N;
    };
    await run(bare, 20_000);
    await run(sdk, 20_000);
    await c.flush();
    const b: number[] = [];
    const s: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      b.push(await cpuPer(bare));
      s.push(await cpuPer(sdk));
      log(`sdk-micro: round ${round + 1}: bare ${b.at(-1)!.toFixed(2)} µs, SDK ${s.at(-1)!.toFixed(2)} µs CPU per request`);
    }
    await c.shutdown();
    const stalls = await takeStalls(log);
    const over = median(s) - median(b);
    return [
      `| ${N} requests × ${ROUNDS} alternating rounds, 20 at a time, in one process | CPU µs / request (median) | each round |`,
      '|---|---|---|',
      `| bare (the three functions) | ${median(b).toFixed(2)} | ${b.map((v) => v.toFixed(2)).join(', ')} |`,
      `| through @perfwatch/sdk (spans, a record each, sent in batches of 500) | ${median(s).toFixed(2)} | ${s.map((v) => v.toFixed(2)).join(', ')} |`,
      `| the SDK's own cost | ${over.toFixed(2)} µs, ${((over / LIGHT_US) * 100).toFixed(2)} % of the light request (${LIGHT_US} µs) | |`,
      '',
      `| the CPU sampler's take, ${TAKES} takes after 200 ms of work each, 10 ms interval | main thread held, ms: median | max |`,
      '|---|---|---|',
      `| V8's profiler stopped and started (Profiler.stop, Profiler.start: a take before this change, without its attribution) | ${median(stalls.restart).toFixed(1)} | ${Math.max(...stalls.restart).toFixed(1)} |`,
      `| the SDK's take now: the next window begun, this one ended, its samples attributed | ${median(stalls.take).toFixed(1)} | ${Math.max(...stalls.take).toFixed(1)} |`,
      '',
    ].join('\n');
  } finally {
    recv.kill();
  }
}
