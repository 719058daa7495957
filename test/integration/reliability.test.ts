import { spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { pino, type LoggerOptions } from 'pino';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { startPerfwatch } from '../../src/main.js';
import { MAX_HISTORY_VALUES } from '../../src/sinks/compat/performance.js';
import { auth, getJson, nodePlugin, startApp, tempDir, TOKEN, waitFor } from '../helpers/index.js';

/** Regression tests for what a hostile or unlucky user broke (issue 11), each through the public surface. */

/**
 * A perfwatch on a storage folder the test can prepare before `start()` (startApp makes its own), logging into
 * `raw` (one JSON line each) with the given pino options.
 */
function onStorage(t: Parameters<typeof tempDir>[0], config: Record<string, unknown> = {}, logOptions: LoggerOptions = { level: 'info' }) {
  const dir = tempDir(t);
  const storage = path.join(dir, 'data');
  mkdirSync(storage, { recursive: true });
  const configFile = path.join(dir, 'perfwatch.yaml');
  writeFileSync(configFile, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, storage: { path: storage }, ...config }));
  const raw: string[] = [];
  const logger = pino(logOptions, new Writable({ write(chunk, _enc, done) {
    raw.push(...String(chunk).split('\n').filter(Boolean));
    done();
  } }));
  const start = async () => startPerfwatch({ config: await loadConfig({ file: configFile }), logger, env: { ...process.env, PERFWATCH_ADMIN_TOKEN: TOKEN } });
  const lines = () => raw.map((l) => JSON.parse(l) as { level: number; msg: string });
  return { storage, start, raw, lines };
}

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
  // an unrelated session leader (as `setsid sleep` makes one): its pgid is its pid
  const other = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  t.teardown(() => other.kill('SIGKILL'));
  await new Promise((r) => other.once('spawn', r));
  const { storage, start } = onStorage(t);
  // what a perfwatch killed long ago left: its own pid is dead, and its plugin's group id has since been reused
  writeFileSync(path.join(storage, 'perfwatch.pids.json'), JSON.stringify({ perfwatch: { pid: 2 ** 22 + 7, start_time: 1 }, plugins: { old: { pgid: other.pid, start_time: 1 } } }));
  const pw = await start();
  await pw.stop();
  await new Promise((r) => setTimeout(r, 200));
  t.equal(other.exitCode, null, 'not exited');
  t.equal(other.signalCode, null, 'not signalled');
  t.doesNotThrow(() => process.kill(other.pid!, 0), 'the unrelated process is alive after a perfwatch start-up on that storage path');
});

t.test('damaged SQLite rows are skipped, and a file that is not a database is refused naming the file', async (t) => {
  const { storage, start } = onStorage(t, { collection: { interval: '200ms' } });
  let pw = await start();
  const api = `${pw.url}/api/v1/performance`;
  const mk = (name: string) => fetch(`${api}/alerts/rules`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name, metric: 'cpu_percent', operator: '>=', threshold: 0, level: 'warning' }) });
  t.equal((await mk('always_a')).status, 200);
  t.equal((await mk('always_b')).status, 200);
  await waitFor(async () => (await getJson(`${api}/alerts`)).body.data.alerts?.length >= 2, { timeoutMs: 10_000, what: 'two alerts firing' });
  await pw.stop();
  const dbFile = path.join(storage, 'perfwatch.db');
  const db = new Database(dbFile);
  db.prepare("update rules set body = '{not json' where id = 'rule_001'").run();
  db.prepare("update alerts set labels = 'garbage', metadata = '[' where rule_id = 'rule_002'").run();
  db.close();

  pw = await start(); // used to exit 1: JSON.parse of the rule body outside the skip path
  const rules = (await getJson(`${pw.url}/api/v1/performance/alerts/rules`)).body.data.rules as Array<{ id: string }>;
  t.notOk(rules.some((r) => r.id === 'rule_001'), 'the damaged rule is skipped');
  t.ok(rules.some((r) => r.id === 'rule_002'), 'the others load');
  const alerts = await getJson(`${pw.url}/api/v1/performance/alerts?resolved=true&limit=100`);
  t.equal(alerts.status, 200, 'a damaged alert row does not make every listing a 500');
  await pw.stop();

  writeFileSync(dbFile, 'this is not an sqlite file, just bytes '.repeat(200));
  for (const f of ['-wal', '-shm']) writeFileSync(dbFile + f, '');
  await t.rejects(start(), { name: 'StartupError', message: new RegExp(`${dbFile.replace(/[/.]/g, '\\$&')} is not a readable perfwatch database .*move it aside`) });
});

t.test('__proto__, constructor and toString are ordinary bad input, not prototype lookups', async (t) => {
  const pw = await startApp(t, { collection: { interval: '200ms' } });
  const api = `${pw.url}/api/v1/performance`;
  for (const p of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    const r = await getJson(`${api}/summary?period=${p}`);
    t.equal(r.status, 400, `summary?period=${p}`);
    t.equal(r.body.error.code, 'INVALID_PARAMETER');
  }
  const send = (path: string, body: string) => fetch(`${api}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
  const before = (await getJson(`${api}/alerts/rules`)).body.data.rules.length;
  const rule = await send('/alerts/rules', '{"name": "sel", "metric": "plugin_cpu_percent", "operator": ">", "threshold": 50, "level": "warning", "selector": {"__proto__": "x"}}');
  t.equal(rule.status, 400, 'a selector keyed __proto__ is refused, not stored as {}');
  t.equal((await getJson(`${api}/alerts/rules`)).body.data.rules.length, before, 'nothing stored');
  const metric = await send('/metrics', '{"name": "__proto__", "value": 1}');
  t.equal(metric.status, 400, 'metric name __proto__');
  t.match(await metric.json(), { error: { code: 'INVALID_METRIC', message: /reserved/ } });
  t.equal((await getJson(`${api}/history?metrics=__proto__`)).status, 404, 'and no such series was created');
});

t.test('history: repeated names count once, and an answer past MAX_HISTORY_VALUES is refused before it is built', async (t) => {
  const pw = await startApp(t, { collection: { interval: '200ms' }, custom_metrics: { max_series: 1000 } });
  const api = `${pw.url}/api/v1/performance`;
  const metrics = Array.from({ length: 150 }, (_, i) => ({ name: 'fan', value: i, tags: { n: String(i) } }));
  const r = await fetch(`${api}/metrics/batch`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ metrics }) });
  t.equal(r.status, 200);
  t.equal(((await r.json()) as { data: { accepted: number } }).data.accepted, 150);
  const fifty = Array(50).fill('fan').join(',');
  const ok = await getJson(`${api}/history?minutes=5&interval=60&metrics=${fifty}`);
  t.equal(ok.status, 200);
  t.equal(Object.keys(ok.body.data.metrics[0] ?? {}).filter((k) => k.startsWith('fan{')).length, 150, 'fan ×50 answers each of its 150 series once');
  // 150 series × 3601 one-second buckets is far past the cap: refused with a 400 that says how to narrow it
  const big = await getJson(`${api}/history?minutes=60&interval=1&metrics=fan`);
  t.equal(big.status, 400);
  t.match(big.body.error, { code: 'INVALID_PARAMETER', message: new RegExp(`more than ${MAX_HISTORY_VALUES} values.*fewer metrics`) });
});

t.test('the database and the plugin log folder are not readable by other users', async (t) => {
  const pw = await startApp(t, { plugins: [nodePlugin('p', 'idle.cjs')] });
  const storage = path.join(pw.dir, 'data');
  t.equal(statSync(path.join(storage, 'perfwatch.db')).mode & 0o777, 0o600, 'perfwatch.db');
  t.equal(statSync(path.join(storage, 'logs')).mode & 0o777, 0o700, 'logs/');
});

t.test('an API rule whose Prometheus alertname equals an existing rule\'s is refused', async (t) => {
  const pw = await startApp(t);
  const api = `${pw.url}/api/v1/performance`;
  const rules = (await getJson(`${api}/alerts/rules`)).body.data.rules as Array<{ id: string; name: string }>;
  t.ok(rules.some((r) => r.name === 'high_cpu_usage'), 'the default rule is there');
  const r = await fetch(`${api}/alerts/rules`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'HighCpuUsage', metric: 'cpu_percent', operator: '>', threshold: 50, level: 'warning' }) });
  t.equal(r.status, 400);
  t.match(await r.json(), { error: { code: 'RULE_CREATION_FAILED', message: /would both be the Prometheus alert HighCpuUsage/ } });
  t.equal((await getJson(`${api}/alerts/rules`)).body.data.rules.length, rules.length, 'nothing stored');
});

t.test('open_writes: a cross-origin browser POST (text/plain, no preflight) is refused and changes nothing; curl-like clients pass', async (t) => {
  const pw = await startApp(t, { auth: { open_writes: true } });
  const api = `${pw.url}/api/v1/performance`;
  const body = JSON.stringify({ name: 'csrf_probe', value: 1 });
  for (const headers of [
    { 'content-type': 'text/plain', origin: 'https://evil.example' },
    { 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site' },
    { 'content-type': 'text/plain', origin: 'null' },
  ] as Array<Record<string, string>>) {
    const r = await fetch(`${api}/metrics`, { method: 'POST', headers, body });
    t.equal(r.status, 403, JSON.stringify(headers));
    t.match(await r.json(), { error: { code: 'FORBIDDEN_ORIGIN' } });
  }
  const rule = await fetch(`${api}/alerts/rules`, { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'https://evil.example' }, body: JSON.stringify({ name: 'csrf_rule', metric: 'cpu_percent', operator: '>', threshold: 1, level: 'info' }) });
  t.equal(rule.status, 403);
  t.equal((await getJson(`${api}/history?metrics=csrf_probe`)).status, 404, 'no series was created');
  t.notOk(((await getJson(`${api}/alerts/rules`)).body.data.rules as Array<{ name: string }>).some((r) => r.name === 'csrf_rule'), 'no rule was created');
  const same = await fetch(`${api}/metrics`, { method: 'POST', headers: { origin: pw.url, 'sec-fetch-site': 'same-origin' }, body });
  t.equal(same.status, 200, 'a same-origin page may write');
  const curl = await fetch(`${api}/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  t.equal(curl.status, 200, 'a client without Origin (curl -d) may write');
  const withToken = await fetch(`${api}/metrics`, { method: 'POST', headers: { origin: 'https://evil.example', ...auth }, body });
  t.equal(withToken.status, 200, 'with the admin token, from anywhere');
  const badToken = await fetch(`${api}/metrics`, { method: 'POST', headers: { Authorization: 'Bearer wrong-token-0123456789' }, body });
  t.equal(badToken.status, 401, 'a wrong token is refused even though no token is needed');
});

t.test('a damaged history checkpoint is refused with a warning naming the file, and perfwatch starts with empty history', async (t) => {
  const { storage, start, lines } = onStorage(t, { collection: { interval: '200ms' } });
  const ckpt = path.join(storage, 'history.ckpt');
  writeFileSync(ckpt, Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 2654435761) % 256)));
  const pw = await start();
  t.teardown(() => pw.stop());
  const warn = lines().find((l) => l.level === 40 && l.msg.includes('history checkpoint'));
  t.ok(warn, 'logged at warn, not info');
  t.match(warn?.msg, new RegExp(`${ckpt.replace(/[/.]/g, '\\$&')} refused: .*; starting with empty history`));
  t.equal(pw.store.count('custom'), 0);
  await pw.nextTick();
  t.ok((await getJson(`${pw.url}/api/v1/performance/summary`)).status === 200, 'serving');
});

/** Top-level keys of one JSON object text, in order, repeats included (JSON.parse keeps only the last of a repeat). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && /^\s*:/.test(text.slice(j + 1, j + 3))) keys.push(text.slice(i + 1, j));
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

t.test('log lines never repeat a key (pid, level) that pino itself writes', async (t) => {
  t.same(topLevelKeys('{"a":1,"b":{"a":2},"c":"x\\"y","a":3}'), ['a', 'b', 'c', 'a'], 'the checker sees repeats');
  // the CLI's logger: pino with base {pid}
  const { start, raw } = onStorage(t, { collection: { interval: '200ms' }, plugins: [nodePlugin('p', 'idle.cjs')] }, { level: 'debug', base: { pid: process.pid } });
  const pw = await start();
  const api = `${pw.url}/api/v1/performance`;
  await fetch(`${api}/alerts/rules`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'always', metric: 'cpu_percent', operator: '>=', threshold: 0, level: 'warning' }) });
  await waitFor(() => raw.some((l) => l.includes('alert firing')) && raw.some((l) => l.includes('plugin started')), { timeoutMs: 10_000, what: 'an alert and a plugin start logged' });
  await pw.stop();
  t.ok(raw.length > 5, `${raw.length} lines`);
  for (const line of raw) {
    const keys = topLevelKeys(line);
    const repeated = keys.filter((k, i) => keys.indexOf(k) !== i);
    if (repeated.length) t.fail(`repeated ${repeated.join(', ')} in ${line.slice(0, 200)}`);
  }
  t.pass('checked every line');
});

t.test('an empty perfwatch.db: refused while its WAL still holds data, a loud warning when nothing is left', async (t) => {
  const { storage, start, lines } = onStorage(t);
  const db = path.join(storage, 'perfwatch.db');
  writeFileSync(db, '');
  writeFileSync(`${db}-wal`, Buffer.alloc(4096, 7));
  await t.rejects(start(), { name: 'StartupError', message: /perfwatch\.db is empty but .*perfwatch\.db-wal holds 4096 bytes .*move both aside/ });
  t.equal(statSync(`${db}-wal`).size, 4096, 'the WAL was left as it was');
  writeFileSync(`${db}-wal`, '');
  const pw = await start();
  t.teardown(() => pw.stop());
  t.ok(lines().some((l) => l.level === 40 && /perfwatch\.db was empty \(0 bytes\): API alert rules and alert history it held are gone/.test(l.msg)), 'warned, not silent');
});

t.test('validation errors stay short and say what was received', async (t) => {
  const pw = await startApp(t);
  const api = `${pw.url}/api/v1/performance`;
  const post = (body: unknown) => fetch(`${api}/alerts/rules`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`unknown_key_${i}_${'x'.repeat(200)}`, i]));
  const r = await post({ name: 'ok_name', metric: 'cpu_percent', operator: '>', threshold: 1, level: 'info', ...many });
  const text = await r.text();
  t.equal(r.status, 400);
  t.ok(text.length < 4096, `a 1000-key body gets a short answer (${text.length} bytes, was 910 KB)`);
  t.match(JSON.parse(text), { error: { code: 'RULE_CREATION_FAILED', message: /and 990 more/ } });
  const wrong = await post({ name: 'ok_name', metric: 'cpu_percent', operator: '>', threshold: 'high', level: 'info' });
  const msg = ((await wrong.json()) as { error: { message: string } }).error.message;
  t.match(msg, /threshold: expected number, got string/);
  t.notMatch(msg, /required/, 'a wrong type is not reported as missing');
});

t.test('plugin history times: year 0050 is not 1950, and an offset of +99:99 is refused', async (t) => {
  const pw = await startApp(t, { collection: { interval: '200ms' }, plugins: [nodePlugin('p', 'idle.cjs')] });
  await pw.nextTick();
  const base = `${pw.url}/plugin/metrics/p/history`;
  const bad = await getJson(`${base}?start_time=${encodeURIComponent('2026-01-01T00:00:00+99:99')}`, auth);
  t.equal(bad.status, 400);
  t.match(bad.body, { code: 'INVALID_PARAMETER', detail: /start_time/ });
  // read as 1999 (the Date constructor's two-digit rule) the start would be after the end and refused
  const old = await getJson(`${base}?start_time=0099-01-01T00:00:00Z&end_time=1950-01-01T00:00:00Z`, auth);
  t.equal(old.status, 200, 'year 99 is before 1950');
});

t.test('a custom value that overflows in base units (1e308 GB) is refused, not exported as +Inf', async (t) => {
  const pw = await startApp(t);
  const r = await fetch(`${pw.url}/api/v1/performance/metrics`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'huge', value: 1e308, unit: 'GB' }) });
  t.equal(r.status, 400);
  t.match(await r.json(), { error: { code: 'INVALID_METRIC_VALUE', message: /beyond what a 64-bit float holds/ } });
  await pw.nextTick();
  t.notMatch(await (await fetch(`${pw.url}/metrics`)).text(), /perfwatch_custom_huge/, 'nothing exported');
});
