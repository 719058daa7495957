import t from 'tap';
import { auth, getJson, nodePlugin, startApp, waitFor } from '../helpers/index.js';

/** Regression tests for what a hostile or unlucky user broke (issue 11), each through the public surface. */

const post = (url: string) => fetch(url, { method: 'POST', headers: auth, signal: AbortSignal.timeout(15_000) });

t.test('reload of a plugin that exits within start_grace is answered, and stop and shutdown still finish', async (t) => {
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    plugins: [nodePlugin('crasher', 'crash.cjs', { max_restarts: 3, backoff_initial: '500ms', start_grace: '2s' })],
  });
  await waitFor(() => pw.supervisor.get('crasher').state === 'error', { timeoutMs: 15_000, what: 'crasher in error after max_restarts' });
  // used to hang forever: the reload waited for a state change that a `starting → starting` restart never emits
  const reload = await post(`${pw.url}/plugin/crasher/reload`);
  t.equal(reload.status, 500, 'answered, as a start failure');
  t.match(await reload.json(), { code: 'PLUGIN_START_FAILED', detail: /exited during start \(exit code 3\)/ });
  // the operation lock is free again: status, stop and start answer
  t.equal((await getJson(`${pw.url}/plugin/status?plugin_id=crasher`)).status, 200);
  const stop = await post(`${pw.url}/plugin/crasher/stop`);
  t.ok([200, 409].includes(stop.status), `stop answered (${stop.status})`);
  await waitFor(() => ['stopped', 'error'].includes(pw.supervisor.get('crasher').state), { timeoutMs: 10_000, what: 'crasher settled' });
  t.equal(pw.supervisor.get('crasher').pid, null, 'no process left');
  const started = Date.now();
  await pw.stop();
  t.ok(Date.now() - started < 10_000, 'shutdown finished');
});

t.test('orphan reaping after pid reuse: a stale pid file naming a group an unrelated process now leads kills nothing', async (t) => {
  const { spawn } = await import('node:child_process');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const path = await import('node:path');
  const { tempDir } = await import('../helpers/index.js');
  // an unrelated session leader (as `setsid sleep` makes one): its pgid is its pid
  const other = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  t.teardown(() => other.kill('SIGKILL'));
  await new Promise((r) => other.once('spawn', r));
  const dir = tempDir(t);
  const storage = path.join(dir, 'data');
  mkdirSync(storage, { recursive: true });
  // what a perfwatch killed long ago left: its own pid is dead, and its plugin's group id has since been reused
  writeFileSync(path.join(storage, 'perfwatch.pids.json'), JSON.stringify({ perfwatch: { pid: 2 ** 22 + 7, start_time: 1 }, plugins: { old: { pgid: other.pid, start_time: 1 } } }));
  const { loadConfig } = await import('../../src/config/load.js');
  const { startPerfwatch } = await import('../../src/main.js');
  const { pino } = await import('pino');
  const { TOKEN } = await import('../helpers/index.js');
  const configFile = path.join(dir, 'perfwatch.yaml');
  writeFileSync(configFile, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, storage: { path: storage } }));
  const pw = await startPerfwatch({ config: await loadConfig({ file: configFile }), logger: pino({ level: 'silent' }), env: { ...process.env, PERFWATCH_ADMIN_TOKEN: TOKEN } });
  await pw.stop();
  await new Promise((r) => setTimeout(r, 200));
  t.equal(other.exitCode, null, 'not exited');
  t.equal(other.signalCode, null, 'not signalled');
  t.doesNotThrow(() => process.kill(other.pid!, 0), 'the unrelated process is alive after a perfwatch start-up on that storage path');
});
