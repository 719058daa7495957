/** The fields of /proc/<pid>/stat that perfwatch uses (proc(5)); times in clock ticks, rss in pages. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  utime: number;
  stime: number;
  /** CPU of children this process has waited for: a reaped child's time moves here. */
  cutime: number;
  cstime: number;
  numThreads: number;
  /** Start time after boot, in clock ticks: with the pid, identifies a process across pid reuse. */
  startTime: number;
  rssPages: number;
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

/** Parses a /proc/<pid>/task/<tid>/children file: space-separated pids. */
export function parseChildren(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(' ')) {
    if (part === '' || part === '\n') continue;
    const n = Number(part);
    if (Number.isInteger(n) && n > 0) out.push(n);
  }
  return out;
}
