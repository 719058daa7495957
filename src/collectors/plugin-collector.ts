import type { PluginSample } from '../model/plugin.js';
import type { ProcFiles } from './proc-files.js';
import { parseChildren, parseProcStat, type ProcStat } from './proc-stat.js';
import type { SystemConstants } from './system-constants.js';

/** A plugin process the supervisor reports as alive, with the time it was spawned. */
export interface RunningPlugin {
  id: string;
  pid: number;
  startedAtMs: number;
}

interface Member {
  startTime: number;
  ppid: number;
  pgrp: number;
  /** utime + cutime and stime + cstime at the last read, in ticks. */
  user: number;
  system: number;
}

interface PluginState {
  mainPid: number;
  slot: number;
  startedAtMs: number;
  members: Map<number, Member>;
  /** Ticks of processes that left the tree without a parent in it to inherit their time. */
  baseUser: number;
  baseSystem: number;
  /** Monotonic counters in ticks. */
  counterUser: number;
  counterSystem: number;
  lastSampleMs: number;
  needsWalk: boolean;
}

export interface PluginCollectorOptions {
  procFiles: ProcFiles;
  constants: SystemConstants;
  /** Collection interval, to spread tree walks over ticks. */
  intervalMs: number;
  /** Each plugin's process tree is re-walked this often; plugins younger than this are walked every tick. */
  treeRefreshMs: number;
  /** Upper bound on processes followed per plugin, so one fork bomb cannot make a tick unbounded. */
  maxProcessesPerPlugin?: number;
}

/**
 * Samples every running plugin's process tree from /proc through cached fds: CPU, RSS, threads and process count
 * summed over the tree. CPU counters include the time of reaped children (a reaped child's time moves into its
 * parent's cutime/cstime), so they do not fall when a child exits, and short-lived children are not lost.
 *
 * Cost per tick: one stat read per known process, plus one `children` read per process for the plugins whose tree
 * is walked on this tick (every plugin once per `treeRefreshMs`, spread evenly over ticks). Synchronous: a few µs
 * per read, bounded by `maxProcessesPerPlugin`.
 */
export class PluginCollector {
  #files: ProcFiles;
  #constants: SystemConstants;
  #walkEvery: number;
  #treeRefreshMs: number;
  #maxProcs: number;
  #states = new Map<string, PluginState>();
  #tick = 0;
  #nextSlot = 0;

  constructor(opts: PluginCollectorOptions) {
    this.#files = opts.procFiles;
    this.#constants = opts.constants;
    this.#treeRefreshMs = opts.treeRefreshMs;
    this.#walkEvery = Math.max(1, Math.round(opts.treeRefreshMs / opts.intervalMs));
    this.#maxProcs = opts.maxProcessesPerPlugin ?? 4096;
  }

  /** Samples the given plugins at `nowMs`. Plugins whose main process is already gone yield no sample. */
  collect(running: readonly RunningPlugin[], nowMs: number): PluginSample[] {
    this.#tick++;
    const out: PluginSample[] = [];
    for (const p of running) {
      const sample = this.#collectOne(p, nowMs);
      if (sample) out.push(sample);
    }
    return out;
  }

  #collectOne(p: RunningPlugin, nowMs: number): PluginSample | null {
    let st = this.#states.get(p.id);
    if (!st) {
      st = {
        mainPid: p.pid,
        slot: this.#nextSlot++,
        startedAtMs: p.startedAtMs,
        members: new Map(),
        baseUser: 0,
        baseSystem: 0,
        counterUser: 0,
        counterSystem: 0,
        lastSampleMs: p.startedAtMs,
        needsWalk: true,
      };
      this.#states.set(p.id, st);
    }
    if (st.mainPid !== p.pid) {
      // A new run of the plugin: the old tree's time stays in the base, the counters go on from where they were.
      this.#retire(st);
      st.mainPid = p.pid;
      st.startedAtMs = p.startedAtMs;
      if (st.lastSampleMs < p.startedAtMs) st.lastSampleMs = p.startedAtMs;
      st.needsWalk = true;
    }

    const young = nowMs - st.startedAtMs < this.#treeRefreshMs;
    const walk = st.needsWalk || young || (this.#tick + st.slot) % this.#walkEvery === 0;
    const stats = walk ? this.#walkTree(st) : this.#readKnown(st);
    const main = stats.get(st.mainPid);
    if (!main) {
      this.#retire(st);
      return null;
    }
    st.needsWalk = false;

    // Members that left: if their parent is still in the tree, the parent's cutime/cstime will carry their time;
    // otherwise (reparented to init, or the main process itself) keep what was last seen in the base.
    const gone: Member[] = [];
    for (const [pid, m] of st.members) {
      if (stats.has(pid)) continue;
      gone.push(m);
      this.#closeFds(pid);
    }
    for (const m of gone) {
      if (!stats.has(m.ppid)) {
        st.baseUser += m.user;
        st.baseSystem += m.system;
      }
    }
    if (gone.length) st.needsWalk = true;

    let user = st.baseUser;
    let system = st.baseSystem;
    let rssPages = 0;
    let threads = 0;
    const members = new Map<number, Member>();
    for (const [pid, s] of stats) {
      const m: Member = { startTime: s.startTime, ppid: s.ppid, pgrp: s.pgrp, user: s.utime + s.cutime, system: s.stime + s.cstime };
      members.set(pid, m);
      user += m.user;
      system += m.system;
      rssPages += s.rssPages;
      threads += s.numThreads;
    }
    st.members = members;

    const prevTicks = st.counterUser + st.counterSystem;
    st.counterUser = Math.max(st.counterUser, user);
    st.counterSystem = Math.max(st.counterSystem, system);
    const hz = this.#constants.clockTicksPerSecond;
    const elapsedS = (nowMs - st.lastSampleMs) / 1000;
    const cpuPercent = elapsedS > 0 ? ((st.counterUser + st.counterSystem - prevTicks) / hz / elapsedS) * 100 : 0;
    st.lastSampleMs = nowMs;
    const rssBytes = rssPages * this.#constants.pageSizeBytes;
    return {
      pluginId: p.id,
      pid: st.mainPid,
      timestampMs: nowMs,
      cpuPercent,
      cpuUserSeconds: st.counterUser / hz,
      cpuSystemSeconds: st.counterSystem / hz,
      rssBytes,
      memoryPercent: (rssBytes / this.#constants.memTotalBytes) * 100,
      threads,
      processes: stats.size,
    };
  }

  /** Reads the stat of every process already known to be in the tree. */
  #readKnown(st: PluginState): Map<number, ProcStat> {
    const out = new Map<number, ProcStat>();
    for (const [pid, m] of st.members) {
      const s = this.#stat(pid);
      if (s && s.startTime === m.startTime) out.set(pid, s);
    }
    return out;
  }

  /**
   * Breadth-first from the main pid through each process's main-thread `children` file (children forked by other
   * threads are found through the process group below), plus known members that left the tree but kept the group.
   */
  #walkTree(st: PluginState): Map<number, ProcStat> {
    const out = new Map<number, ProcStat>();
    const main = this.#stat(st.mainPid);
    if (!main) return out;
    out.set(st.mainPid, main);
    const queue = [st.mainPid];
    while (queue.length && out.size < this.#maxProcs) {
      const pid = queue.shift()!;
      const text = this.#files.read(`/proc/${pid}/task/${pid}/children`);
      if (!text) continue;
      for (const child of parseChildren(text)) {
        if (out.has(child) || out.size >= this.#maxProcs) continue;
        const s = this.#stat(child);
        if (!s) continue;
        out.set(child, s);
        queue.push(child);
      }
    }
    for (const [pid, m] of st.members) {
      if (out.has(pid) || m.pgrp !== st.mainPid || out.size >= this.#maxProcs) continue;
      const s = this.#stat(pid);
      if (s && s.startTime === m.startTime && s.pgrp === st.mainPid) out.set(pid, s);
    }
    return out;
  }

  #stat(pid: number): ProcStat | null {
    const text = this.#files.read(`/proc/${pid}/stat`);
    if (text === null) return null;
    const s = parseProcStat(text);
    if (!s) return null;
    return s;
  }

  #retire(st: PluginState): void {
    for (const [pid, m] of st.members) {
      st.baseUser += m.user;
      st.baseSystem += m.system;
      this.#closeFds(pid);
    }
    st.members = new Map();
    st.counterUser = Math.max(st.counterUser, st.baseUser);
    st.counterSystem = Math.max(st.counterSystem, st.baseSystem);
  }

  #closeFds(pid: number): void {
    this.#files.close(`/proc/${pid}/stat`);
    this.#files.close(`/proc/${pid}/task/${pid}/children`);
  }

  /** Forgets a plugin that is no longer registered. */
  forget(id: string): void {
    const st = this.#states.get(id);
    if (st) this.#retire(st);
    this.#states.delete(id);
  }
}
