import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseProcStat } from '../../../src/proc/proc-stat.js';

t.test('a stat line whose command has spaces and parentheses', async (t) => {
  const line =
    '4242 (my (weird) cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 7 3 20 0 11 0 98765 1234567 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n';
  const s = parseProcStat(line)!;
  t.same(s, {
    pid: 4242,
    comm: 'my (weird) cmd',
    state: 'S',
    ppid: 1,
    pgrp: 4242,
    utime: 150,
    stime: 25,
    cutime: 7,
    cstime: 3,
    numThreads: 11,
    startTime: 98765,
    rssPages: 2560,
  });
});

t.test('this process: values agree with /proc/self/status', async (t) => {
  const s = parseProcStat(readFileSync('/proc/self/stat', 'latin1'))!;
  const status = readFileSync('/proc/self/status', 'utf8');
  t.equal(s.pid, process.pid);
  t.equal(s.ppid, process.ppid);
  t.equal(s.numThreads, Number(/Threads:\s+(\d+)/.exec(status)![1]));
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  t.ok(Math.abs((s.rssPages * 4) - rssKb) / rssKb < 0.1, 'rss pages × 4 KiB ≈ VmRSS');
});

t.test('rejects text that is not a stat line', async (t) => {
  t.equal(parseProcStat(''), null);
  t.equal(parseProcStat('garbage'), null);
  t.equal(parseProcStat('1 (x) S 1 2'), null);
});

