import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { signalPid } from '../proc/signals.js';
import { reapOrphans } from './pid-file.js';

/**
 * One cgroup v2 per plugin, under `<perfwatch's own cgroup>/perfwatch-<pid>/<plugin id>`, so that every process a
 * plugin starts stays findable, including one that left its process group with `setsid` and whose parent has exited.
 * A stop, a crash clean-up and the next start after a `kill -9` end everything in the plugin's cgroup (`cgroup.kill`
 * where the kernel has it, 5.14+), as systemd does for a service.
 *
 * Needs a writable cgroup v2 hierarchy (root, or a delegated subtree); without one, `detect` returns null and the
 * supervisor falls back to process groups plus a walk of the plugin's process tree at stop.
 *
 * Limit: Node cannot spawn straight into a cgroup (clone3 CLONE_INTO_CGROUP), so the plugin's first process is moved
 * into its cgroup right after it starts; a child it forks in that first instant stays outside (in its process group).
 */
export class PluginCgroups {
  /** `…/perfwatch-<pid>-<random>`: this perfwatch's folder of plugin cgroups (one per instance, even in one process). */
  readonly root: string;
  /** The cgroup v2 mount point it lives under. */
  readonly mount: string;
  readonly #hasKill: boolean;

  private constructor(root: string, mount: string, hasKill: boolean) {
    this.root = root;
    this.mount = mount;
    this.#hasKill = hasKill;
  }

  /** The cgroup v2 folder perfwatch runs in, if it is mounted and writable; null (with the reason) otherwise. */
  static async detect(): Promise<{ cgroups: PluginCgroups } | { reason: string }> {
    let mount: string | undefined;
    try {
      // mountinfo: "id parent major:minor root mountpoint options … - fstype source super-options"
      for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
        const [left, right] = line.split(' - ');
        if (right?.startsWith('cgroup2 ')) {
          mount = left!.split(' ')[4];
          break;
        }
      }
    } catch {
      return { reason: 'no /proc/self/mountinfo' };
    }
    if (!mount) return { reason: 'no cgroup v2 hierarchy is mounted' };
    const own = (await readFile('/proc/self/cgroup', 'utf8').catch(() => '')).split('\n').find((l) => l.startsWith('0::'))?.slice(3) ?? '/';
    const root = path.join(mount, own, `perfwatch-${process.pid}-${randomBytes(3).toString('hex')}`);
    try {
      await mkdir(root, { recursive: true });
    } catch (err) {
      return { reason: `cannot create ${root} (${(err as NodeJS.ErrnoException).code ?? String(err)}): run as root or give perfwatch a delegated cgroup` };
    }
    const hasKill = await readFile(path.join(root, 'cgroup.kill')).then(
      () => true,
      (err: NodeJS.ErrnoException) => err.code === 'EINVAL' || err.code === 'EPERM', // write-only file: present
    );
    return { cgroups: new PluginCgroups(root, mount, hasKill) };
  }

  #dir(pluginId: string): string {
    return path.join(this.root, pluginId);
  }

  /** Moves a freshly spawned plugin process into its cgroup. Never throws: a failure leaves it in its process group. */
  async join(pluginId: string, pid: number): Promise<boolean> {
    try {
      await mkdir(this.#dir(pluginId), { recursive: true });
      await writeFile(path.join(this.#dir(pluginId), 'cgroup.procs'), String(pid));
      return true;
    } catch {
      return false;
    }
  }

  /** Processes in the plugin's cgroup now. */
  async pids(pluginId: string): Promise<number[]> {
    return readPids(this.#dir(pluginId));
  }

  /** SIGKILL to everything in the plugin's cgroup (cgroup.kill, else one by one). */
  async killAll(pluginId: string): Promise<void> {
    await killCgroup(this.#dir(pluginId), this.#hasKill);
  }

  /** Removes the plugin cgroups and this perfwatch's folder (after every plugin stopped). Never throws. */
  async remove(): Promise<void> {
    await removeTree(this.root);
  }

  /**
   * Ends what a dead perfwatch left in its plugin cgroups (`cgroup` recorded in its pid file) and removes them.
   * A recorded folder outside this hierarchy, or not named as perfwatch names them, is ignored.
   * Returns the pids it found. Only called once the recorded perfwatch is known to be gone.
   */
  async reapPrevious(root: string, graceMs: number): Promise<number[]> {
    // only a folder perfwatch makes, inside the cgroup hierarchy: the pid file cannot point the reaper elsewhere
    const resolved = path.resolve(root);
    if (!path.basename(resolved).startsWith('perfwatch-') || !resolved.startsWith(this.mount + path.sep) || resolved === this.root) return [];
    const dirs = await readdir(root, { withFileTypes: true }).catch(() => []);
    const found: number[] = [];
    for (const d of dirs) if (d.isDirectory()) found.push(...(await readPids(path.join(root, d.name))));
    await reapOrphans(found, graceMs);
    // and whatever they forked meanwhile, still in the cgroups
    for (const d of dirs) if (d.isDirectory()) await killCgroup(path.join(root, d.name), true);
    const left = async () => (await Promise.all(dirs.filter((d) => d.isDirectory()).map((d) => readPids(path.join(root, d.name))))).flat();
    const hard = Date.now() + 1000;
    while ((await left()).length && Date.now() < hard) await new Promise((r) => setTimeout(r, 25));
    await removeTree(root);
    return found;
  }
}

async function readPids(dir: string): Promise<number[]> {
  const text = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

async function killCgroup(dir: string, hasKill: boolean): Promise<void> {
  if (hasKill && (await writeFile(path.join(dir, 'cgroup.kill'), '1').then(() => true, () => false))) return;
  for (const pid of await readPids(dir)) signalPid(pid, 'SIGKILL');
}

async function removeTree(root: string): Promise<void> {
  for (const d of await readdir(root, { withFileTypes: true }).catch(() => [])) if (d.isDirectory()) await rmdir(path.join(root, d.name)).catch(() => undefined);
  await rmdir(root).catch(() => undefined);
}

/** Every descendant of `pid` now, read from `/proc/<pid>/task/<tid>/children` (the fallback without cgroups). */
export async function descendantsOf(pid: number, max = 4096): Promise<number[]> {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length && out.length < max) {
    const p = queue.shift()!;
    const tids = await readdir(`/proc/${p}/task`).catch(() => [] as string[]);
    for (const tid of tids) {
      const text = await readFile(`/proc/${p}/task/${tid}/children`, 'latin1').catch(() => '');
      for (const c of text.split(' ').filter(Boolean).map(Number)) {
        out.push(c);
        queue.push(c);
      }
    }
  }
  return out;
}
