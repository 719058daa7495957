/** The fields of /proc/<pid>/stat that perfwatch uses (proc(5)); times in clock ticks, rss in pages. */
export interface ProcStat extends StatFields {
  pid: number;
  comm: string;
  state: string;
}

/**
 * Parses one /proc/<pid>/stat line. The command name sits in parentheses and may itself contain spaces and
 * parentheses, so fields are counted from the last ')'. Returns null for text that is not a stat line.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 1 || close < open) return null;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field N is f[N - 3].
  if (f.length < 22) return null;
  const num = (i: number) => Number(f[i - 3]);
  const out: ProcStat = {
    pid: Number(text.slice(0, open - 1)),
    comm: text.slice(open + 1, close),
    state: f[0]!,
    ppid: num(4),
    pgrp: num(5),
    utime: num(14),
    stime: num(15),
    cutime: num(16),
    cstime: num(17),
    numThreads: num(20),
    startTime: num(22),
    rssPages: num(24),
  };
  return Number.isFinite(out.pid) && Number.isFinite(out.rssPages) ? out : null;
}


/**
 * The fields of a stat line the collector keeps (times in clock ticks, rss in pages), written in place by
 * `parseProcStatBytes`. cutime/cstime hold the CPU of children the process has waited for: a reaped child's time moves
 * there. startTime (ticks after boot) with the pid identifies a process across pid reuse.
 */
export interface StatFields {
  ppid: number;
  pgrp: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  numThreads: number;
  startTime: number;
  rssPages: number;
}

/**
 * Parses a /proc/<pid>/stat line straight from bytes into `out`, allocating nothing (the per-tick hot path: one call
 * per process per tick). Same field rules as `parseProcStat`. Returns false when the bytes are not a stat line.
 */
export function parseProcStatBytes(buf: Buffer, len: number, out: StatFields): boolean {
  let close = len - 1;
  while (close > 0 && buf[close] !== 0x29 /* ) */) close--;
  if (close <= 0) return false;
  let field = 3;
  let i = close + 2;
  while (i < len && field <= 24) {
    if (field === 3) {
      // state: one character
      while (i < len && buf[i] !== 0x20) i++;
    } else {
      let neg = false;
      if (buf[i] === 0x2d /* - */) {
        neg = true;
        i++;
      }
      let v = 0;
      while (i < len) {
        const c = buf[i]!;
        if (c === 0x20 || c === 0x0a) break;
        v = v * 10 + (c - 48);
        i++;
      }
      if (neg) v = -v;
      switch (field) {
        case 4: out.ppid = v; break;
        case 5: out.pgrp = v; break;
        case 14: out.utime = v; break;
        case 15: out.stime = v; break;
        case 16: out.cutime = v; break;
        case 17: out.cstime = v; break;
        case 20: out.numThreads = v; break;
        case 22: out.startTime = v; break;
        case 24: out.rssPages = v; break;
      }
    }
    field++;
    i++; // the space
  }
  return field > 24;
}

/** Calls `fn` for each pid in a `children` file's bytes, allocating nothing. */
export function forEachChild(buf: Buffer, len: number, fn: (pid: number) => void): void {
  let v = 0;
  let inNum = false;
  for (let i = 0; i < len; i++) {
    const c = buf[i]!;
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      inNum = true;
    } else if (inNum) {
      fn(v);
      v = 0;
      inNum = false;
    }
  }
  if (inNum) fn(v);
}
