import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { auth, getJson, nodePlugin, startApp, tempDir, TOKEN, waitFor } from '../helpers/index.js';
import { freePort } from '../helpers/peers.js';
import { connect } from '../helpers/ws.js';

/** A TCP server the test opens and closes: the plugin's "database". */
async function dependency(port: number): Promise<net.Server> {
  const s = net.createServer((c) => c.destroy());
  await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
  return s;
}
const close = (s: net.Server) => new Promise<void>((resolve) => s.close(() => resolve()));

const status = async (url: string, id: string) => (await getJson(`${url}/plugin/status?plugin_id=${id}`)).body;
const health = async (url: string, id: string) => (await getJson(`${url}/plugin/${id}/health`, auth)).body;
const metric = async (url: string, re: RegExp) => re.exec(await (await fetch(`${url}/metrics`)).text());

t.test('http liveness, tcp dependency and heartbeat readiness against a real plugin', async (t) => {
  const dir = tempDir(t);
  const modeFile = path.join(dir, 'mode');
  writeFileSync(modeFile, 'ok');
  const [webPort, dbPort] = [await freePort(), await freePort()];
  let db = await dependency(dbPort);
  t.teardown(() => close(db).catch(() => {}));
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    plugins: [
      nodePlugin('web', 'health-server.cjs', {
        env: { PORT: String(webPort), MODE_FILE: modeFile, HEARTBEAT_MS: '100' },
        start_grace: '100ms',
        stop_timeout: '2s',
        backoff_initial: '100ms',
        // under load a new node process can take longer than two checks to listen: killed before it could, each
        // restart counted, the plugin once ended in error (max_restarts, 5). This test is about the checks
        max_restarts: 50,
        health_checks: [
          { name: 'api', type: 'http', url: `http://127.0.0.1:${webPort}/health`, expect_body: 'ok', interval: '150ms', timeout: '120ms', failure_threshold: 2, initial_delay: '1s' },
          { name: 'db', type: 'tcp', role: 'dependency', address: `127.0.0.1:${dbPort}`, interval: '150ms', timeout: '100ms', failure_threshold: 1 },
          { name: 'beat', type: 'heartbeat', role: 'readiness', ttl: '500ms', interval: '100ms', failure_threshold: 2 },
        ],
      }),
    ],
  });
  const ws = await connect(`${pw.url.replace('http', 'ws')}/ws/performance`);
  t.teardown(() => ws.ws.close());

  // readiness: starting until the first heartbeat has passed, then running; healthy once every check passed
  const first = await waitFor(async () => {
    const s = await status(pw.url, 'web');
    return s.status === 'running' && s.health === 'healthy' && s;
  }, { what: 'web running and healthy' });
  t.equal(first.health, 'healthy', '/plugin/status gains health after the document\'s fields');
  const starting = ws.messages.find((m) => m.type === 'system_change' && m.change.plugin_id === 'web' && m.change.status === 'running');
  t.ok(starting, 'the state went to running');
  const h = await health(pw.url, 'web');
  t.same(h.checks.map((c: any) => [c.name, c.type, c.role, c.status]), [['api', 'http', 'liveness', 'passing'], ['db', 'tcp', 'dependency', 'passing'], ['beat', 'heartbeat', 'readiness', 'passing']]);
  t.equal(h.last_heartbeat.status, 'pass');
  t.equal(h.last_heartbeat.note, 'serving');
  t.ok(h.checks[0].last_run.ok && h.checks[0].last_run.duration_ms > 0, 'the http check\'s last run, timed');
  t.equal((await getJson(`${pw.url}/plugin/web/health`)).status, 401, 'check details need the admin token');
  await pw.nextTick();
  t.ok(await metric(pw.url, /^perfwatch_plugin_healthy\{plugin_id="web"\} 1$/m), 'perfwatch_plugin_healthy 1');
  t.ok(await metric(pw.url, /^perfwatch_plugin_health_check_success\{plugin_id="web",check="api"\} 1$/m));
  t.ok(await metric(pw.url, /^perfwatch_plugin_health\{plugin_id="web",status="healthy"\} 1$/m));
  t.ok(await metric(pw.url, /^perfwatch_plugin_health_checks_total\{plugin_id="web",check="api",outcome="pass"\} [1-9]/m));

  // the dependency goes away: degraded, never restarted
  const pid = first.pid;
  await close(db);
  await waitFor(async () => (await status(pw.url, 'web')).health === 'degraded', { what: 'degraded' });
  const change = await ws.next((m) => m.type === 'system_change' && m.change.kind === 'plugin_health' && m.change.health === 'degraded');
  t.match(change.change, { plugin_id: 'web', previous: 'healthy', check: { name: 'db', role: 'dependency', status: 'failing', error: 'connection refused' } }, 'system_change on the WebSocket');
  await pw.nextTick();
  t.ok(await metric(pw.url, /^perfwatch_plugin_healthy\{plugin_id="web"\} 0$/m));
  t.ok(await metric(pw.url, /^perfwatch_plugin_health_check_success\{plugin_id="web",check="db"\} 0$/m));
  db = await dependency(dbPort);
  await waitFor(async () => (await status(pw.url, 'web')).health === 'healthy', { what: 'healthy again' });
  t.equal((await status(pw.url, 'web')).pid, pid, 'the same process all along');

  // the endpoint answers 500: after failure_threshold failures the liveness check restarts the plugin
  writeFileSync(modeFile, 'error');
  await waitFor(async () => (await health(pw.url, 'web')).checks[0].status === 'failing', { what: 'api failing' });
  const afterKill = await waitFor(async () => {
    const s = (await getJson(`${pw.url}/plugin/status?details=true`)).body.plugins.web;
    return s.restarts >= 1 && s;
  }, { what: 'a restart by policy' });
  t.ok(afterKill.restarts >= 1, 'counted as a restart');
  writeFileSync(modeFile, 'ok');
  const restarted = await waitFor(async () => {
    const s = await status(pw.url, 'web');
    return s.status === 'running' && s.health === 'healthy' && s.pid !== pid && s;
  }, { what: async () => `a new healthy process: ${JSON.stringify(await status(pw.url, 'web'))}, checks ${JSON.stringify((await health(pw.url, 'web')).checks.map((c: any) => [c.name, c.status, c.last_run?.error]))}` });
  t.not(restarted.pid, pid);
  const again = await health(pw.url, 'web');
  t.ok(again.checks[0].failures >= 2, 'failure totals go on across processes');

  // a hung endpoint is cut at the timeout
  writeFileSync(modeFile, 'hang');
  const hung = await waitFor(async () => {
    const c = (await health(pw.url, 'web')).checks[0];
    return c.last_run && !c.last_run.ok && c;
  }, { what: 'a timed-out run' });
  t.equal(hung.last_run.error, 'timed out after 120 ms');
  t.ok(hung.last_run.duration_ms < 500, `cut near its timeout (${hung.last_run.duration_ms} ms)`);
  writeFileSync(modeFile, 'ok');
  await waitFor(async () => (await status(pw.url, 'web')).health === 'healthy', { what: 'healthy after the hang', timeoutMs: 15_000 });
  // steady: two passing runs in a row mean no hung run is still in flight (a check never overlaps itself); on a
  // loaded machine one was, failed after the heartbeat part below began, and the liveness restart it caused was
  // taken for a readiness restart
  await waitFor(async () => {
    const [h, s] = [await health(pw.url, 'web'), await status(pw.url, 'web')];
    return h.checks[0].consecutive_successes >= 2 && s.status === 'running' && s.health === 'healthy';
  }, { what: 'steady after the hang', timeoutMs: 15_000 });

  // the heartbeat stops: readiness fails, unhealthy, not restarted
  const before = (await getJson(`${pw.url}/plugin/status?details=true`)).body.plugins.web;
  writeFileSync(modeFile, 'ok silent');
  await waitFor(async () => (await status(pw.url, 'web')).health === 'unhealthy', { what: 'unhealthy without heartbeats' });
  const beat = (await health(pw.url, 'web')).checks[2];
  t.match(beat.last_run.error, /^last heartbeat [\d.]+ s ago \(ttl 500 ms\)$/);
  await new Promise((r) => setTimeout(r, 500));
  const after = (await getJson(`${pw.url}/plugin/status?details=true`)).body.plugins.web;
  t.same([after.pid, after.restarts, after.status], [before.pid, before.restarts, 'running'], 'readiness never restarts');
  t.ok(await metric(pw.url, /^perfwatch_plugin_health\{plugin_id="web",status="unhealthy"\} 1$/m) || (await pw.nextTick(), await metric(pw.url, /^perfwatch_plugin_health\{plugin_id="web",status="unhealthy"\} 1$/m)));
});

t.test('heartbeat route: the plugin\'s own token, a clear 4xx for everything else, nothing recorded on refusal', async (t) => {
  const pw = await startApp(t, {
    plugins: [
      nodePlugin('a', 'idle.cjs', { start_grace: '100ms', health_checks: [{ name: 'beat', type: 'heartbeat', ttl: '10s', interval: '10s' }] }),
      nodePlugin('b', 'idle.cjs', { start_grace: '100ms' }),
      nodePlugin('off', 'idle.cjs', { autostart: false }),
    ],
  });
  await waitFor(async () => (await status(pw.url, 'a')).status === 'running' && (await status(pw.url, 'b')).status === 'running');
  const a = pw.supervisor.get('a');
  const b = pw.supervisor.get('b');
  const post = (id: string, token: string | null, body?: string, headers: Record<string, string> = {}) =>
    fetch(`${pw.url}/plugin/${id}/heartbeat`, { method: 'POST', headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json', ...headers }, ...(body !== undefined ? { body } : {}) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  let r = await post('a', null);
  t.equal(r.status, 401);
  t.equal(r.body.code, 'UNAUTHORIZED');
  r = await post('a', b.token);
  t.equal(r.status, 401, 'another plugin\'s token is not this plugin\'s');
  t.equal(a.health.lastHeartbeat, null, 'nothing recorded');
  r = await post('a', a.token, '{"status":"maybe"}');
  t.equal(r.status, 400);
  t.match(r.body, { code: 'INVALID_JSON', detail: /^heartbeat status: / }, 'the plugin family\'s error body names the field');
  r = await post('a', a.token, JSON.stringify({ note: 'x'.repeat(513) }));
  t.equal(r.status, 400);
  t.match(r.body.detail, /^heartbeat note: /);
  r = await post('a', a.token, '{"status":"pass","extra":1}');
  t.equal(r.status, 400, 'unknown keys are refused');
  r = await post('a', a.token, '[');
  t.equal(r.status, 400);
  t.equal(r.body.code, 'INVALID_JSON');
  r = await post('a', a.token, JSON.stringify({ note: 'y'.repeat(5000) }));
  t.equal(r.status, 413, 'the body is capped');
  t.equal(a.health.lastHeartbeat, null, 'still nothing recorded');
  r = await post('a', a.token);
  t.equal(r.status, 200, 'no body means pass');
  t.equal(r.body.status, 'pass');
  t.equal(a.health.lastHeartbeat?.status, 'pass');
  r = await post('a', TOKEN, '{"status":"fail","note":"disk full"}');
  t.equal(r.status, 200, 'the admin token works too');
  t.equal(a.health.lastHeartbeat?.note, 'disk full');
  r = await post('nope', TOKEN);
  t.equal(r.status, 404);
  t.equal(r.body.code, 'PLUGIN_NOT_FOUND');
  r = await post('off', pw.supervisor.get('off').token);
  t.equal(r.status, 409);
  t.equal(r.body.code, 'PLUGIN_NOT_RUNNING');
  t.equal((await status(pw.url, 'b')).health, 'unknown', 'a plugin without checks: unknown');
  t.equal((await status(pw.url, 'off')).health, 'unknown', 'a stopped plugin: unknown');
  t.same((await health(pw.url, 'b')).checks, []);
});

t.test('an exec liveness check under restart: never ends the plugin in error, as a crash would', async (t) => {
  const dir = tempDir(t);
  const flag = path.join(dir, 'ok');
  writeFileSync(flag, '');
  const pw = await startApp(t, {
    plugins: [
      nodePlugin('job', 'idle.cjs', {
        start_grace: '100ms',
        restart: 'never',
        stop_timeout: '2s',
        health_checks: [{ name: 'flag', type: 'exec', command: ['test', '-f', flag], interval: '100ms', timeout: '100ms', failure_threshold: 2 }],
      }),
    ],
  });
  await waitFor(async () => (await status(pw.url, 'job')).health === 'healthy', { what: 'healthy' });
  const { rmSync } = await import('node:fs');
  rmSync(flag);
  await waitFor(async () => (await status(pw.url, 'job')).status === 'error', { what: 'ended by its liveness check' });
  const h = await health(pw.url, 'job');
  t.equal(h.checks[0].last_run.error, 'exit code 1');
  t.equal(h.health, 'unknown', 'no process, no verdict');
  const exit = (await getJson(`${pw.url}/plugins`)).body.plugins[0];
  t.equal(exit.status, 'error');
});
