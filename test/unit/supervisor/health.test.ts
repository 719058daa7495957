import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig, readPluginToml } from '../../../src/config/load.js';
import { healthCheckSchema, type HealthCheckConfig } from '../../../src/config/schema.js';
import { systemClock } from '../../../src/model/clock.js';
import type { HealthView } from '../../../src/model/plugin.js';
import { PluginHealth } from '../../../src/supervisor/health/plugin-health.js';
import { probeExec, probeHttp, probeTcp } from '../../../src/supervisor/health/probes.js';
import { tempDir, waitFor } from '../../helpers/index.js';
import { freePort } from '../../helpers/peers.js';

t.test('config: each type needs its own field and refuses the others; names are unique', async (t) => {
  const dir = tempDir(t);
  const checks = [
    { name: 'a', type: 'http' },
    { name: 'b', type: 'tcp', url: 'http://x/' },
    { name: 'c', type: 'exec', command: [] },
    { name: 'd', type: 'heartbeat', ttl: '1s', role: 'dependency' },
    { name: 'e', type: 'tcp', address: 'nohost', expect_body: 'x' },
    { name: 'e', type: 'http', url: 'ftp://x/', interval: '10' },
    { name: 'Bad Name', type: 'grpc' },
  ];
  writeFileSync(path.join(dir, 'c.yaml'), JSON.stringify({ plugins: [{ id: 'p', command: 'x', health_checks: checks }] }));
  const err = (await loadConfig({ file: 'c.yaml', cwd: dir, env: {} }).catch((e) => e)) as ConfigError;
  t.type(err, ConfigError);
  const text = err.problems.join('\n');
  for (const re of [
    /plugins\[0\]\.health_checks\[0\]\.url: an http check needs url/,
    /health_checks\[1\]\.address: a tcp check needs address/,
    /health_checks\[1\]\.url: url does not apply to a tcp check/,
    /health_checks\[2\]\.command: /,
    /health_checks\[3\]\.role: a heartbeat reports on the plugin itself/,
    /health_checks\[4\]\.address: expected host:port/,
    /health_checks\[4\]\.expect_body: expect_body applies to http checks only/,
    /health_checks\[5\]\.url: expected an http:\/\/ or https:\/\/ URL/,
    /health_checks\[6\]\.name: expected 1 to 32 characters/,
    /health_checks\[6\]\.type: /,
  ]) t.match(text, re);
  // names are compared once every check is valid on its own
  writeFileSync(path.join(dir, 'd.yaml'), JSON.stringify({ plugins: [{ id: 'p', command: 'x', health_checks: [{ name: 'e', type: 'tcp', address: 'h:1' }, { name: 'e', type: 'tcp', address: 'h:2' }] }] }));
  const dup = (await loadConfig({ file: 'd.yaml', cwd: dir, env: {} }).catch((e) => e)) as ConfigError;
  t.match(dup.problems.join('\n'), /plugins\[0\]\.health_checks\[1\]\.name: check "e" is defined twice/);
  const ok = healthCheckSchema.parse({ name: 'api', type: 'http', url: 'http://127.0.0.1:1/' });
  t.match(ok, { role: 'liveness', interval: 10_000, timeout: 1000, initial_delay: 0, failure_threshold: 3, success_threshold: 1 }, 'Kubernetes\' defaults, but a 1 s timeout');
});

t.test('plugin.toml: the same checks as [[plugin.health_checks]] tables', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'plugin.toml');
  writeFileSync(file, '[plugin]\ncommand = "node"\n\n[[plugin.health_checks]]\nname = "api"\ntype = "http"\nurl = "http://127.0.0.1:8080/health"\ninterval = "5s"\n\n[[plugin.health_checks]]\nname = "beat"\ntype = "heartbeat"\nrole = "readiness"\nttl = "30s"\n');
  const def = await readPluginToml(file);
  t.match(def.health_checks, [
    { name: 'api', type: 'http', role: 'liveness', interval: 5000 },
    { name: 'beat', type: 'heartbeat', role: 'readiness', ttl: 30_000 },
  ]);
});

t.test('probes: http status and body, a cut at the timeout, tcp, exec', async (t) => {
  const server = http.createServer((req, res) => {
    if (req.url === '/hang') return;
    if (req.url === '/teapot') return void res.writeHead(418).end();
    if (req.url === '/moved') return void res.writeHead(302, { location: '/elsewhere' }).end();
    res.end(`body of ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  t.match(await probeHttp(`${base}/x`, { timeoutMs: 1000 }), { ok: true, error: null });
  t.match(await probeHttp(`${base}/moved`, { timeoutMs: 1000 }), { ok: true }, 'a redirect is a pass (200–399), not followed');
  t.match(await probeHttp(`${base}/teapot`, { timeoutMs: 1000 }), { ok: false, error: 'HTTP 418' });
  t.match(await probeHttp(`${base}/teapot`, { timeoutMs: 1000, expectStatus: [418] }), { ok: true });
  t.match(await probeHttp(`${base}/x`, { timeoutMs: 1000, expectStatus: [204] }), { ok: false, error: 'HTTP 200, expected 204' });
  t.match(await probeHttp(`${base}/x`, { timeoutMs: 1000, expectBody: 'of /x' }), { ok: true });
  t.match(await probeHttp(`${base}/x`, { timeoutMs: 1000, expectBody: 'nope' }), { ok: false, error: 'body does not contain "nope"' });
  const hung = await probeHttp(`${base}/hang`, { timeoutMs: 100 });
  t.match(hung, { ok: false, error: 'timed out after 100 ms' });
  t.ok(hung.durationMs >= 95 && hung.durationMs < 1000, `cut at the timeout (${hung.durationMs.toFixed(0)} ms)`);
  const closed = await freePort();
  t.match(await probeHttp(`http://127.0.0.1:${closed}/`, { timeoutMs: 1000 }), { ok: false, error: 'connection refused' });
  t.match(await probeTcp(`127.0.0.1:${closed}`, { timeoutMs: 1000 }), { ok: false, error: 'connection refused' });
  t.match(await probeTcp(base.slice(7), { timeoutMs: 1000 }), { ok: true });
  t.match(await probeTcp(`[::1]:${closed}`, { timeoutMs: 1000 }), { ok: false }, 'an IPv6 literal in brackets');
  const env = { PATH: process.env.PATH };
  t.match(await probeExec(['true'], { timeoutMs: 1000, cwd: '/', env }), { ok: true });
  t.match(await probeExec(['sh', '-c', 'echo broken >&2; exit 3'], { timeoutMs: 1000, cwd: '/', env }), { ok: false, error: 'exit code 3: broken' });
  t.match(await probeExec(['sleep', '5'], { timeoutMs: 100, cwd: '/', env }), { ok: false, error: 'timed out after 100 ms' });
  t.match(await probeExec(['no-such-command-here'], { timeoutMs: 1000, cwd: '/', env }), { ok: false, error: /no-such-command-here/ });
});

// 20 ms runs, below the 100 ms the schema allows, to keep the test short
const check = (over: Partial<HealthCheckConfig> & Pick<HealthCheckConfig, 'name' | 'role'>): HealthCheckConfig => ({
  ...healthCheckSchema.parse({ type: 'exec', command: ['x'], ...over }),
  interval: 20,
  timeout: 20,
});

t.test('state machine: thresholds, the plugin\'s health, liveness and readiness signals, nothing after end', async (t) => {
  const outcomes: Record<string, boolean[]> = { live: [true, false, false, false, true, true], dep: [true, true, true, true, true, true, true, true, false, true], ready: [false, true] };
  const runs: Record<string, number> = { live: 0, dep: 0, ready: 0 };
  const events: string[] = [];
  const changes: Array<{ view: HealthView; previous: string }> = [];
  const h = new PluginHealth({
    clock: systemClock,
    probe: async (c) => {
      const list = outcomes[c.name]!;
      const ok = list[Math.min(runs[c.name]!++, list.length - 1)]!;
      return { ok, error: ok ? null : `${c.name} failed`, durationMs: 1 };
    },
    onLivenessFailure: (name, error) => events.push(`restart ${name}: ${error}`),
    onReady: () => events.push('ready'),
    onChange: (view, previous) => changes.push({ view, previous }),
  });
  t.equal(h.status(), 'unknown', 'before begin');
  h.begin(
    [check({ name: 'live', role: 'liveness', failure_threshold: 2, success_threshold: 2 }), check({ name: 'dep', role: 'dependency', failure_threshold: 1 }), check({ name: 'ready', role: 'readiness' })],
    { cwd: '/', env: {} },
  );
  t.ok(h.hasReadiness);
  t.same(events, [], 'not ready before the readiness check passes');
  await waitFor(() => events.includes('ready'), { what: 'ready' });
  await waitFor(() => runs.live! >= 6 && runs.dep! >= 10, { what: 'the scripted runs' });
  t.same(events.filter((e) => e.startsWith('restart')), ['restart live: live failed'], 'one restart signal when the liveness check turns failing');
  const statuses = changes.map((c) => c.view.status);
  t.ok(statuses.includes('unhealthy'), 'unhealthy while liveness failed');
  t.ok(statuses.includes('degraded'), 'degraded while only the dependency failed (it fails after liveness recovered)');
  await waitFor(() => h.status() === 'healthy', { what: 'healthy in the end' });
  const live = h.view().checks[0]!;
  t.match(live, { name: 'live', status: 'passing', failures: 3, consecutiveFailures: 0 });
  h.end();
  t.equal(h.status(), 'unknown', 'no process: unknown');
  const frozen = { ...runs };
  await new Promise((r) => setTimeout(r, 80));
  t.same(runs, frozen, 'no run after end');
  h.begin([check({ name: 'live', role: 'liveness' })], { cwd: '/', env: {} });
  t.equal(h.view().checks[0]!.failures, 3, 'totals carry over to the next process');
  t.equal(h.view().checks[0]!.status, 'unknown', 'the verdict does not');
  h.end();
});

t.test('heartbeat checks: pass within the ttl, an explicit fail, a stale report', async (t) => {
  const now = { ms: 1_000_000 };
  const h = new PluginHealth({ clock: { now: () => now.ms }, onLivenessFailure: () => {}, onReady: () => {}, onChange: () => {} });
  const { runProbe } = await import('../../../src/supervisor/health/plugin-health.js');
  const c = healthCheckSchema.parse({ name: 'beat', type: 'heartbeat', ttl: '5s' });
  const ctx = (hb: ReturnType<() => typeof h.lastHeartbeat>, at: number) => ({ cwd: '/', env: {}, heartbeat: hb, nowMs: at, startedAtMs: 1_000_000 });
  t.match(await runProbe(c, ctx(null, now.ms + 5000)), { pending: true }, 'the first heartbeat is due ttl after the start: no verdict before');
  t.match(await runProbe(c, ctx(null, now.ms + 5001)), { ok: false, error: 'no heartbeat within 5000 ms of the start' });
  h.heartbeat('pass', '');
  t.match(await runProbe(c, ctx(h.lastHeartbeat, now.ms + 4000)), { ok: true });
  t.match(await runProbe(c, ctx(h.lastHeartbeat, now.ms + 6500)), { ok: false, error: 'last heartbeat 6.5 s ago (ttl 5000 ms)' });
  h.heartbeat('warn', 'slow disk');
  t.match(await runProbe(c, ctx(h.lastHeartbeat, now.ms)), { ok: true }, 'warn still passes (Consul: warning is not critical)');
  h.heartbeat('fail', 'queue stuck');
  t.match(await runProbe(c, ctx(h.lastHeartbeat, now.ms)), { ok: false, error: 'the plugin reported fail: queue stuck' });
});

t.test('a pending run (heartbeat not due yet) counts neither way', async (t) => {
  let pending = true;
  const h = new PluginHealth({
    clock: systemClock,
    probe: async () => (pending ? { ok: false, error: null, durationMs: 0, pending: true } : { ok: true, error: null, durationMs: 0 }),
    onLivenessFailure: () => t.fail('no restart for a pending check'),
    onReady: () => {},
    onChange: () => {},
  });
  h.begin([check({ name: 'beat', role: 'liveness', failure_threshold: 1 })], { cwd: '/', env: {} });
  await new Promise((r) => setTimeout(r, 100));
  t.match(h.view().checks[0], { status: 'unknown', runs: 0, failures: 0 });
  pending = false;
  await waitFor(() => h.view().checks[0]!.status === 'passing', { what: 'passing once due' });
  h.end();
});
