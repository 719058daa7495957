/** Signals to processes and process groups, where a process that is already gone is not an error. */

/** Sends `sig` to `pid`; a process that is gone (ESRCH) is ignored. */
export function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* ESRCH: gone */
  }
}

/** Sends `sig` to every process in group `pgid`; a group that is gone is ignored. */
export function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  signalPid(-pgid, sig);
}

/** True while `pid` exists (EPERM: it exists but belongs to someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while any process of group `pgid` exists. */
export function groupExists(pgid: number): boolean {
  return isAlive(-pgid);
}
