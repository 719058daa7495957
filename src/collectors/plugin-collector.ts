import type { PluginSample, RunningPlugin } from '../model/plugin.js';
import type { ProcFiles, ProcHandle } from '../proc/proc-files.js';
import { forEachChild, parseProcStatBytes, type StatFields } from '../proc/proc-stat.js';
import type { SystemConstants } from './system-constants.js';

/** One process of a plugin's tree, kept from tick to tick with its open /proc files. */
interface Member extends StatFields {
  pid: number;
  stat: ProcHandle;
  children: ProcHandle | null;
  /** Tick at which this member was last read successfully. */
  seen: number;
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
 * is walked on this tick (every plugin once per `treeRefreshMs`, spread evenly over ticks). Reads are synchronous
 * (a few µs each) and parsed from bytes without allocating; bounded by `maxProcessesPerPlugin`.
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
  #queue: number[] = [];
  #pending: number[] = [];
  #pushPending = (pid: number) => void this.#pending.push(pid);

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
      // A new run of the plugin: the old tree's time goes to the base, the counters go on from where they were.
      this.#retire(st);
      st.mainPid = p.pid;
      st.startedAtMs = p.startedAtMs;
      if (st.lastSampleMs < p.startedAtMs) st.lastSampleMs = p.startedAtMs;
      st.needsWalk = true;
    }

    const tick = this.#tick;
    const young = nowMs - st.startedAtMs < this.#treeRefreshMs;
    if (st.needsWalk || young || (tick + st.slot) % this.#walkEvery === 0) this.#walkTree(st, tick);
    else for (const m of st.members.values()) this.#readStat(m, tick);

    const main = st.members.get(st.mainPid);
    if (!main || main.seen !== tick) {
      this.#retire(st);
      return null;
    }
    st.needsWalk = false;

    let user = 0;
    let system = 0;
    let rssPages = 0;
    let threads = 0;
    let processes = 0;
    for (const m of st.members.values()) {
      if (m.seen !== tick) {
        // Gone: if its parent is still in the tree, the parent's cutime/cstime carries its time from now on;
        // otherwise (re-parented to init) keep what was last seen in the base.
        const parent = st.members.get(m.ppid);
        if (!parent || parent.seen !== tick) {
          st.baseUser += m.utime + m.cutime;
          st.baseSystem += m.stime + m.cstime;
        }
        this.#drop(st, m);
        st.needsWalk = true;
        continue;
      }
      user += m.utime + m.cutime;
      system += m.stime + m.cstime;
      rssPages += m.rssPages;
      threads += m.numThreads;
      processes++;
    }

    const prevTicks = st.counterUser + st.counterSystem;
    st.counterUser = Math.max(st.counterUser, st.baseUser + user);
    st.counterSystem = Math.max(st.counterSystem, st.baseSystem + system);
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
      processes,
    };
  }

  /** Reads one member's stat; false when the process is gone or the pid now belongs to another process. */
  #readStat(m: Member, tick: number): boolean {
    const n = m.stat.read();
    if (n <= 0) return false;
    const startTime = m.startTime;
    if (!parseProcStatBytes(this.#files.buffer, n, m)) return false;
    if (startTime !== -1 && m.startTime !== startTime) return false; // pid reused
    m.seen = tick;
    return true;
  }

  #member(st: PluginState, pid: number): Member {
    let m = st.members.get(pid);
    if (!m) {
      m = {
        pid,
        stat: this.#files.handle(`/proc/${pid}/stat`),
        children: null,
        seen: -1,
        ppid: 0,
        pgrp: 0,
        utime: 0,
        stime: 0,
        cutime: 0,
        cstime: 0,
        numThreads: 0,
        startTime: -1,
        rssPages: 0,
      };
      st.members.set(pid, m);
    }
    return m;
  }

  /**
   * Breadth-first from the main pid through each process's main-thread `children` file (children forked by other
   * threads are found through the process group below), plus known members that left the tree but kept the group.
   */
  #walkTree(st: PluginState, tick: number): void {
    const main = this.#member(st, st.mainPid);
    if (!this.#readStat(main, tick)) return;
    const queue = this.#queue;
    const pending = this.#pending;
    queue.length = 0;
    queue.push(st.mainPid);
    let found = 1;
    for (let qi = 0; qi < queue.length && found < this.#maxProcs; qi++) {
      const m = st.members.get(queue[qi]!)!;
      m.children ??= this.#files.handle(`/proc/${m.pid}/task/${m.pid}/children`);
      const n = m.children.read();
      if (n <= 0) continue;
      pending.length = 0;
      forEachChild(this.#files.buffer, n, this.#pushPending);
      // each stat read below reuses the shared buffer, so the children list was copied out first
      for (const pid of pending) {
        if (found >= this.#maxProcs) break;
        const child = this.#member(st, pid);
        if (child.seen === tick) continue;
        if (this.#readStat(child, tick)) {
          found++;
          queue.push(pid);
        }
      }
    }
    for (const m of st.members.values()) {
      if (m.seen === tick || m.pgrp !== st.mainPid || found >= this.#maxProcs) continue;
      if (this.#readStat(m, tick) && m.pgrp === st.mainPid) found++;
    }
  }

  #drop(st: PluginState, m: Member): void {
    m.stat.close();
    m.children?.close();
    st.members.delete(m.pid);
  }

  #retire(st: PluginState): void {
    for (const m of st.members.values()) {
      if (m.startTime !== -1) {
        st.baseUser += m.utime + m.cutime;
        st.baseSystem += m.stime + m.cstime;
      }
      this.#drop(st, m);
    }
    st.counterUser = Math.max(st.counterUser, st.baseUser);
    st.counterSystem = Math.max(st.counterSystem, st.baseSystem);
  }
}
