import t from 'tap';
import { BRIDGE_MS, CpuClock } from '../../../packages/sdk/src/cpu.js';
import { burnCpu as burn } from '../../helpers/cpu.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a start right after a reading is bridged from it, a start after a pause is read; neither goes back in time', async (t) => {
  const clock = new CpuClock();
  await sleep(1); // the event loop runs: before it does, nothing is bridged
  let first = 0;
  let bridged = 0;
  // a preemption between the two lines can outlast the bridge: a few tries
  for (let i = 0; i < 20 && !clock.bridged; i++) {
    first = clock.read();
    bridged = clock.start();
  }
  t.equal(clock.bridged, 1, 'under the bridge limit: no syscall');
  t.ok(bridged >= first, 'a bridged start is the last reading plus busy time');
  await sleep(BRIDGE_MS + 5);
  const read = clock.start();
  t.equal(clock.bridged, 1, 'after a pause the start is read');
  t.ok(read >= bridged, 'the read start is past the bridged one');
  t.ok(clock.since(read) >= 0, 'never negative');
});

t.test('CPU burned between a reading and a bridged start is not the request\'s', async (t) => {
  await sleep(1);
  // a bridge misses other threads' CPU in its gap (a compiler thread optimising burn, the first time): the median of
  // five warm trials whose start was bridged (on a busy machine some come later than the bridge allows, and are read)
  const trial = () => {
    const clock = new CpuClock();
    clock.read();
    burn(0.4); // inside the bridge: the loop's busy time carries it
    const start = clock.start();
    burn(5);
    return { cpu: clock.since(start), bridged: clock.bridged };
  };
  trial();
  const bridged: number[] = [];
  let read = 0;
  for (let i = 0; i < 60 && bridged.length < 5; i++) {
    const x = trial();
    if (x.bridged) bridged.push(x.cpu);
    else read++;
  }
  t.equal(bridged.length, 5, `five bridged starts (and ${read} read, the test preempted past the bridge)`);
  const cpu = bridged.sort((a, b) => a - b)[2]!;
  // the request burned 5 ms; the 0.4 before its start must not count (a bridge without the busy time adds it). A
  // preemption inside a bridged gap counts as CPU there, and so comes off the request: 0.1 ms of slack for it
  t.ok(cpu >= 4900, `the request's own 5 ms (median ${cpu} µs)`);
  t.ok(cpu < 5000 + 300, `not the 0.4 ms before it (median ${cpu} µs)`);
});
