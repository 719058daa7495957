import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { forEachChild, parseProcStat, parseProcStatBytes, type StatFields } from '../../../src/proc/proc-stat.js';

const blank = (): StatFields => ({ ppid: 0, pgrp: 0, utime: 0, stime: 0, cutime: 0, cstime: 0, numThreads: 0, startTime: 0, rssPages: 0 });

t.test('the byte parser agrees with the text parser on every process of this host', async (t) => {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let buf: Buffer;
    try {
      buf = readFileSync(`/proc/${name}/stat`);
    } catch {
      continue;
    }
    const text = parseProcStat(buf.toString('latin1'))!;
    const out = blank();
    t.ok(parseProcStatBytes(buf, buf.length, out));
    const { pid, comm, state, ...rest } = text;
    t.same(out, rest, `pid ${pid} (${comm}, ${state})`);
    n++;
  }
  t.ok(n > 3, `${n} processes compared`);
});

t.test('awkward command names and garbage', async (t) => {
  const line = Buffer.from('4242 (a) b) (c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 7 3 20 0 11 0 98765 1234567 2560 18446744073709551615 1 1\n');
  const out = blank();
  t.ok(parseProcStatBytes(line, line.length, out));
  t.same(out, { ppid: 1, pgrp: 4242, utime: 150, stime: 25, cutime: 7, cstime: 3, numThreads: 11, startTime: 98765, rssPages: 2560 });
  t.notOk(parseProcStatBytes(Buffer.from('nonsense'), 8, blank()));
  t.notOk(parseProcStatBytes(Buffer.from('1 (x) S 1 2'), 11, blank()), 'truncated');
});

t.test('children bytes', async (t) => {
  const seen: number[] = [];
  const b = Buffer.from('12 345 6789 ');
  forEachChild(b, b.length, (p) => seen.push(p));
  t.same(seen, [12, 345, 6789]);
  const seen2: number[] = [];
  forEachChild(Buffer.from('7'), 1, (p) => seen2.push(p));
  t.same(seen2, [7]);
});
