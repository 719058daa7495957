// What the CPU sampler's async hook costs a request, without HTTP (bench/README.md, issue 15): an AsyncLocalStorage
// request of ten awaits, 4 at a time, 200 000 per round, three rounds. H=none: no hook; H=b: a hook on `before` that
// marks the request's id on a timeline when it changes (the sampler's); H=ba: the same plus an `after` marking 0.
// Run each mode in its own process: `for h in none b ba; do H=$h node bench/apps/hook-cost.mjs; done`.
import { AsyncLocalStorage, createHook } from 'node:async_hooks';

const als = new AsyncLocalStorage();
const mode = process.env.H ?? 'none';
let current = 0;
const timeline = [];
const mark = (id) => {
  if (id === current) return;
  current = id;
  timeline.push(performance.now(), id);
  if (timeline.length > 1e6) timeline.length = 0;
};
if (mode === 'ba') createHook({ before: () => mark(als.getStore()?.id ?? 0), after: () => mark(0) }).enable();
if (mode === 'b') createHook({ before: () => mark(als.getStore()?.id ?? 0) }).enable();

async function step(i) {
  await null;
  return i + 1;
}
const request = (id) =>
  als.run({ id }, async () => {
    let x = 0;
    for (let i = 0; i < 10; i++) x = await step(x);
    return x;
  });

const N = 200_000;
for (let round = 0; round < 3; round++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i += 4) await Promise.all([request(i), request(i + 1), request(i + 2), request(i + 3)]);
  const c = process.cpuUsage(c0);
  console.log(`${mode}: ${((c.user + c.system) / N).toFixed(2)} µs CPU a request`);
}
