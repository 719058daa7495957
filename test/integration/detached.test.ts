import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { PluginCgroups } from '../../src/supervisor/plugin-cgroups.js';
import { alive, auth, cliUrl, fixture, nodePlugin, runCli, startApp, tempDir, waitFor } from '../helpers/index.js';

/**
 * Grandchildren that leave the plugin's process group with setsid. With cgroup v2 (CI runs as root on a machine that
 * has it) every case is covered; without it only a stop while the plugin still runs is.
 */

function readPid(file: string): Promise<number> {
  return waitFor(() => {
    try {
      return Number(readFileSync(file, 'utf8').trim()) || null;
    } catch {
      return null; // not written yet
    }
  }, { timeoutMs: 10_000, what: 'the detached pid' });
}
const hasCgroups = async () => 'cgroups' in (await PluginCgroups.detect());

t.test('stop ends a grandchild that left the process group (setsid)', async (t) => {
  const dir = tempDir(t);
  const pidFile = path.join(dir, 'detached.pid');
  const pw = await startApp(t, { plugins: [nodePlugin('d', 'detach.cjs', { env: { DETACHED_PID_FILE: pidFile } })] });
  const grandchild = await readPid(pidFile);
  t.ok(grandchild > 0 && alive(grandchild), 'the detached grandchild runs');
  t.teardown(() => void (alive(grandchild) && process.kill(grandchild, 'SIGKILL')));
  const r = await fetch(`${pw.url}/plugin/d/stop`, { method: 'POST', headers: auth });
  t.equal(r.status, 200);
  await waitFor(() => !alive(grandchild), { timeoutMs: 5000, what: 'the detached grandchild to end' }).catch(() => undefined);
  t.notOk(alive(grandchild), 'gone after the stop');
});

t.test('a plugin that exits on its own does not leave its detached grandchild behind (cgroup)', async (t) => {
  t.ok(await hasCgroups(), 'this machine has a writable cgroup v2 hierarchy (CI does: root on Debian 12)');
  const dir = tempDir(t);
  const pidFile = path.join(dir, 'detached.pid');
  const pw = await startApp(t, { plugins: [nodePlugin('d', 'detach.cjs', { restart: 'never', start_grace: '100ms', env: { DETACHED_PID_FILE: pidFile, EXIT_AFTER_MS: '500' } })] });
  const grandchild = await readPid(pidFile);
  t.ok(grandchild > 1, `the detached grandchild is ${grandchild}`);
  t.teardown(() => void (alive(grandchild) && process.kill(grandchild, 'SIGKILL')));
  await waitFor(() => pw.supervisor.get('d').state === 'stopped', { timeoutMs: 5000, what: 'the plugin to exit' });
  await waitFor(() => !alive(grandchild), { timeoutMs: 8000, what: 'the orphaned grandchild to end' }).catch(() => undefined);
  t.notOk(alive(grandchild), 'ended with the plugin, though its parent was gone and it was reparented');
});

t.test('kill -9 of perfwatch, then a restart: the detached grandchild is reaped from the dead instance\'s cgroup', async (t) => {
  t.ok(await hasCgroups(), 'this machine has a writable cgroup v2 hierarchy');
  const dir = tempDir(t);
  const pidFile = path.join(dir, 'detached.pid');
  const file = path.join(dir, 'perfwatch.yaml');
  writeFileSync(file, stringify({ server: { host: '127.0.0.1', port: 0 }, storage: { path: path.join(dir, 'data') }, plugins: [{ id: 'd', command: process.execPath, args: [fixture('detach.cjs')], env: { DETACHED_PID_FILE: pidFile } }] }));
  const first = runCli(['serve', '--config', file]);
  t.teardown(() => void first.child.kill('SIGKILL'));
  await cliUrl(first);
  const grandchild = await readPid(pidFile);
  t.ok(grandchild > 1 && alive(grandchild), `the detached grandchild ${grandchild} runs`);
  t.teardown(() => void (alive(grandchild) && process.kill(grandchild, 'SIGKILL')));
  await waitFor(() => readFileSync(path.join(dir, 'data/perfwatch.pids.json'), 'utf8').includes('"cgroup"'), { what: 'the cgroup in the pid file' });
  first.child.kill('SIGKILL');
  await first.exited;
  await new Promise((r) => setTimeout(r, 300));
  t.ok(alive(grandchild), 'the detached grandchild outlived perfwatch (no parent-death signal reaches it)');
  const second = runCli(['serve', '--config', file]);
  t.teardown(() => void second.child.kill('SIGKILL'));
  await cliUrl(second);
  t.notOk(alive(grandchild), 'the next perfwatch on this storage path ended it before starting');
  t.match(second.stdout(), /stopped processes left in a previous perfwatch's plugin cgroups/);
  second.child.kill('SIGTERM');
  t.equal((await second.exited).code, 0);
});
