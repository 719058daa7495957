import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { parseProcStat } from '../proc/proc-stat.js';
import { isAlive, signalPid } from '../proc/signals.js';

/**
 * `<storage.path>/perfwatch.pids.json`: perfwatch's own pid and every live plugin's process group, each with its
 * start time (clock ticks after boot), so that a pid reused by an unrelated process is never mistaken for ours.
 *
 * Why: a perfwatch killed with SIGKILL cannot stop its plugins. Each plugin also gets a parent-death SIGTERM (setpriv),
 * but a plugin that ignores it, or children it left, would run forever; the next perfwatch on the same storage path
 * reads this file and ends them before starting anything.
 */
export interface PidFileContent {
  perfwatch: { pid: number; start_time: number };
  plugins: Record<string, { pgid: number; start_time: number }>;
  /** This perfwatch's folder of plugin cgroups, when it has one (plugin-cgroups.ts). */
  cgroup?: string;
}

export class PidFile {
  readonly file: string;
  #plugins = new Map<string, { pgid: number; start_time: number }>();
  #self: { pid: number; start_time: number } | null = null;
  #cgroup: string | undefined;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;
  #closed = false;

  constructor(opts: { file: string }) {
    this.file = opts.file;
  }

  async init(opts: { cgroup?: string } = {}): Promise<void> {
    this.#cgroup = opts.cgroup;
    const st = await readStat(process.pid);
    this.#self = { pid: process.pid, start_time: st?.startTime ?? 0 };
    await this.#flush();
  }

  async setPlugin(id: string, pid: number | null): Promise<void> {
    if (this.#closed) return;
    if (pid === null) this.#plugins.delete(id);
    else this.#plugins.set(id, { pgid: pid, start_time: (await readStat(pid))?.startTime ?? 0 });
    this.#dirty = true;
    // A failed write must not become an unhandled rejection: the file is a safety net, not state perfwatch reads.
    this.#writing = this.#writing.then(() => (this.#dirty ? this.#flush() : undefined)).catch(() => undefined);
    return this.#writing;
  }

  /** Waits for pending writes, then removes the file: called after every plugin has stopped. */
  async remove(): Promise<void> {
    this.#closed = true;
    await this.#writing.catch(() => undefined);
    await rm(this.file, { force: true });
  }

  async #flush(): Promise<void> {
    this.#dirty = false;
    const content: PidFileContent = { perfwatch: this.#self!, plugins: Object.fromEntries(this.#plugins), ...(this.#cgroup ? { cgroup: this.#cgroup } : {}) };
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify(content), { mode: 0o600 });
    await rename(tmp, this.file);
  }
}

export async function readPidFile(file: string): Promise<PidFileContent | null> {
  try {
    const c = JSON.parse(await readFile(file, 'utf8')) as PidFileContent;
    return c && typeof c === 'object' && c.perfwatch && c.plugins ? c : null;
  } catch {
    return null;
  }
}

async function readStat(pid: number) {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return null;
  }
}

/** True when the process recorded in the pid file is still that process (same pid, same start time). */
export async function isSameProcess(pid: number, startTime: number): Promise<boolean> {
  const st = await readStat(pid);
  return st !== null && st.startTime === startTime;
}

/**
 * Finds processes left over from a previous perfwatch: members of a recorded plugin process group that started no
 * earlier than the group's leader did. One walk of /proc, at start-up only.
 *
 * A group is ours only while its id has not been reused. Linux gives no new process a pid that is still some group's
 * id, so if the recorded leader (pid = pgid) is gone, the members left are the old group's. If a process with that pid
 * exists, it must be the recorded leader itself (same start time): otherwise the pid was reused (the old group emptied,
 * and an unrelated process, e.g. a `setsid` daemon, now leads a group of that id) and nothing in it is touched.
 */
export async function findOrphans(content: PidFileContent): Promise<number[]> {
  const groups = new Map<number, number>();
  for (const g of Object.values(content.plugins)) {
    if (Number.isInteger(g?.pgid) && g.pgid > 1 && Number.isFinite(g.start_time)) groups.set(g.pgid, g.start_time);
  }
  if (!groups.size) return [];
  const members: Array<{ pid: number; pgrp: number; startTime: number }> = [];
  const leaders = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = await readStat(Number(name));
    if (!st || !groups.has(st.pgrp)) continue;
    members.push(st);
    if (st.pid === st.pgrp) leaders.set(st.pid, st.startTime);
  }
  return members
    .filter((st) => {
      const recorded = groups.get(st.pgrp)!;
      const leader = leaders.get(st.pgrp);
      if (leader !== undefined && leader !== recorded) return false; // the group id now belongs to someone else
      return st.startTime >= recorded && st.pid !== process.pid;
    })
    .map((st) => st.pid);
}

/** SIGTERM the orphans, wait up to `timeoutMs`, SIGKILL what is left. Returns how many there were. */
export async function reapOrphans(pids: number[], timeoutMs: number): Promise<number> {
  for (const pid of pids) signalPid(pid, 'SIGTERM');
  const until = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  for (const pid of pids.filter(isAlive)) signalPid(pid, 'SIGKILL');
  return pids.length;
}
