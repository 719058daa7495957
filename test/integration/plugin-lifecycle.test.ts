import { readFile, writeFile } from 'node:fs/promises';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { alive, auth, getJson, groupMembers, nodePlugin, postJson, startApp, waitFor } from '../helpers/index.js';

t.test('start, stop and reload change pids and states as the document says', async (t) => {
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    plugins: [
      nodePlugin('a', 'idle.cjs', { version: '1.0.0', start_grace: '200ms' }),
      nodePlugin('manual', 'idle.cjs', { autostart: false }),
      nodePlugin('off', 'idle.cjs', { enabled: false }),
    ],
  });
  const list = await getJson(`${pw.url}/plugins`);
  t.equal(list.status, 200);
  // 'a' is starting, or already running if its 200 ms grace passed before this request was served
  t.match(list.body.plugins[0].status, /^(starting|running)$/);
  t.same(list.body.plugins.map((p: any) => [p.id, p.id === 'a' ? 'autostarted' : p.status, p.enabled]), [
    ['a', 'autostarted', true],
    ['manual', 'stopped', true],
    ['off', 'stopped', false],
  ]);
  t.same(Object.keys(list.body.plugins[0]).sort(), ['description', 'enabled', 'id', 'name', 'status', 'version']);
  t.equal(list.body.message, '');

  await waitFor(async () => (await getJson(`${pw.url}/plugin/status?plugin_id=a`)).body.status === 'running');
  const one = await getJson(`${pw.url}/plugin/status?plugin_id=a`);
  t.same(Object.keys(one.body).sort(), ['health', 'pid', 'plugin_id', 'status', 'time', 'uptime'], 'the document\'s fields, and perfwatch\'s health');
  t.match(one.body.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$/);
  const firstPid = one.body.pid as number;
  t.ok(alive(firstPid));

  const all = await getJson(`${pw.url}/plugin/status`);
  t.same(all.body.plugins.manual, { status: 'stopped', health: 'unknown' }, 'no pid or uptime without a process');
  t.equal(all.body.plugins.a.pid, firstPid);

  const stop = await postJson(`${pw.url}/plugin/a/stop`);
  t.same(stop.body, { plugin_id: 'a', status: 'stopped', message: 'Plugin stopped successfully' });
  t.notOk(alive(firstPid), 'the answer comes when the process is gone');
  const again = await postJson(`${pw.url}/plugin/a/stop`);
  t.equal(again.status, 409);
  t.same(again.body, { detail: 'plugin "a" is not running (status stopped)', code: 'PLUGIN_NOT_RUNNING' });

  const start = await postJson(`${pw.url}/plugin/a/start`);
  t.equal(start.status, 200);
  t.same(Object.keys(start.body).sort(), ['message', 'pid', 'plugin_id', 'status']);
  t.equal(start.body.message, 'Plugin started successfully');
  t.equal(start.body.status, 'starting');
  t.not(start.body.pid, firstPid);
  const dup = await postJson(`${pw.url}/plugin/a/start`);
  t.equal(dup.status, 409);
  t.equal(dup.body.code, 'PLUGIN_ALREADY_RUNNING');

  // reload re-reads the definition from the config file
  const doc = parse(await readFile(pw.configFile, 'utf8'));
  doc.plugins[0].version = '2.0.0';
  await writeFile(pw.configFile, stringify(doc));
  const reload = await postJson(`${pw.url}/plugin/a/reload`);
  t.equal(reload.status, 200);
  t.equal(reload.body.status, 'running');
  t.equal(reload.body.message, 'Plugin reloaded successfully');
  t.not(reload.body.pid, start.body.pid, 'reload carries the new pid');
  t.notOk(alive(start.body.pid));
  t.equal((await getJson(`${pw.url}/plugins`)).body.plugins[0].version, '2.0.0');

  // an invalid file is refused and the running plugin is left alone
  doc.plugins[0].stop_timeout = 'soon';
  await writeFile(pw.configFile, stringify(doc));
  const bad = await postJson(`${pw.url}/plugin/a/reload`);
  t.equal(bad.status, 409);
  t.equal(bad.body.code, 'PLUGIN_CONFIG_INVALID');
  t.match(bad.body.detail, /plugins\[0\]\.stop_timeout: expected a duration like "5s"/);
  t.ok(alive(reload.body.pid), 'a rejected reload changes nothing');

  const off = await postJson(`${pw.url}/plugin/off/start`);
  t.equal(off.status, 409);
  t.equal(off.body.code, 'PLUGIN_DISABLED');
  const unknown = await postJson(`${pw.url}/plugin/nope/start`);
  t.equal(unknown.status, 404);
  t.same(unknown.body, { detail: 'plugin "nope" is not registered', code: 'PLUGIN_NOT_FOUND' });
  t.equal((await getJson(`${pw.url}/plugin/status?plugin_id=nope`)).status, 404);
});

t.test('two concurrent starts start one process; the second gets 409', async (t) => {
  const pw = await startApp(t, { plugins: [nodePlugin('c', 'idle.cjs', { autostart: false })] });
  const [r1, r2] = await Promise.all([postJson(`${pw.url}/plugin/c/start`), postJson(`${pw.url}/plugin/c/start`)]);
  t.same([r1.status, r2.status].sort(), [200, 409]);
  const pid = (r1.status === 200 ? r1 : r2).body.pid;
  t.same(groupMembers(pid), [pid], 'exactly one process in the plugin group');
});

t.test('a plugin that ignores SIGTERM is SIGKILLed after stop_timeout, with its whole group', async (t) => {
  const pw = await startApp(t, { plugins: [nodePlugin('stubborn', 'family.cjs', { stop_timeout: '1s' })] });
  const pid = await waitFor(() => pw.supervisor.get('stubborn').pid);
  await waitFor(() => groupMembers(pid).length === 3, { what: 'child and grandchild' });
  const t0 = Date.now();
  const r = await postJson(`${pw.url}/plugin/stubborn/stop`);
  const took = Date.now() - t0;
  t.equal(r.status, 200);
  t.ok(took >= 950, `waited for the timeout (${took} ms)`);
  t.ok(took < 4000, `then killed (${took} ms)`);
  t.same(groupMembers(pid), [], 'no member of the group survives');
  t.equal(pw.supervisor.get('stubborn').lastExit?.signal, 'SIGKILL');
});

t.test('a crashing plugin restarts with backoff and lands in error after max_restarts', async (t) => {
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    plugins: [nodePlugin('crashy', 'crash.cjs', { max_restarts: 2, restart_window: '1m' })],
  });
  const p = pw.supervisor.get('crashy');
  const spawns: number[] = [Date.now()];
  p.on('spawn', () => spawns.push(Date.now()));
  await waitFor(() => p.state === 'error', { timeoutMs: 15_000, what: 'error state' });
  t.equal(spawns.length, 3, 'first run and two restarts');
  t.ok(spawns[1]! - spawns[0]! >= 1000, `first backoff about 1s (${spawns[1]! - spawns[0]!} ms)`);
  t.ok(spawns[2]! - spawns[1]! >= 2000, `second backoff about 2s (${spawns[2]! - spawns[1]!} ms)`);
  t.equal(p.restarts, 2);
  t.same(p.lastExit && { code: p.lastExit.code, signal: p.lastExit.signal }, { code: 3, signal: null });
  await pw.nextTick();
  const text = await (await fetch(`${pw.url}/metrics`)).text();
  t.match(text, /perfwatch_plugin_restarts_total\{plugin_id="crashy"\} 2/);
  t.match(text, /perfwatch_plugin_state\{plugin_id="crashy",state="error"\} 1/);
  t.match(text, /perfwatch_plugin_last_exit_code\{plugin_id="crashy"\} 3/);
  // it stays in error until started by hand
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(p.state, 'error');
  t.equal(spawns.length, 3);
  const start = await postJson(`${pw.url}/plugin/crashy/start`);
  t.equal(start.status, 200, 'a start by hand is allowed from error');
});

t.test('a missing command is a clear start failure, not a crash loop', async (t) => {
  const pw = await startApp(t, { plugins: [{ id: 'ghost', command: 'no-such-program-xyz', autostart: false }] });
  const r = await postJson(`${pw.url}/plugin/ghost/start`);
  t.equal(r.status, 500);
  t.equal(r.body.code, 'PLUGIN_START_FAILED');
  t.match(r.body.detail, /command "no-such-program-xyz" not found/);
  t.equal(pw.supervisor.get('ghost').state, 'error');
});

t.test('plugin output goes to its log files under storage', async (t) => {
  const pw = await startApp(t, { plugins: [nodePlugin('talker', 'idle.cjs')] });
  const file = `${pw.dir}/data/logs/talker.stdout.log`;
  await waitFor(async () => (await readFile(file, 'utf8').catch(() => '')).includes('idle ready'), { what: 'log line' });
  t.pass('stdout captured');
  t.equal(auth.Authorization.startsWith('Bearer '), true);
});
