import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { alive, cliUrl, fixture, groupMembers, runCli, tempDir, waitFor } from '../helpers/index.js';

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function writeConfig(dir: string, doc: unknown): string {
  const file = path.join(dir, 'perfwatch.yaml');
  writeFileSync(file, typeof doc === 'string' ? doc : stringify(doc));
  return file;
}

t.test('an invalid config exits 2 naming every bad field, without a stack trace', async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, {
    server: { port: 99999 },
    collection: { interval: 'often' },
    bogus: true,
    plugins: [
      { id: 'ok', command: 'true' },
      { id: 'bad id!', command: 'true', stop_timeout: '5 seconds', restart: 'sometimes' },
      { id: 'ok', command: 'true' },
    ],
  });
  const r = runCli(['serve', '--config', file]);
  const { code } = await r.exited;
  t.equal(code, 2);
  const err = r.stderr();
  t.match(err, /server\.port: /);
  t.match(err, /collection\.interval: expected a duration like "5s"/);
  t.match(err, /\(root\): unknown key "bogus"/);
  t.match(err, /plugins\[1\]\.id: expected 1 to 64 characters/);
  t.match(err, /plugins\[1\]\.stop_timeout: expected a duration like "5s"/);
  t.match(err, /plugins\[1\]\.restart: /);
  t.notMatch(err, /\n\s+at /, 'no stack trace');
  t.equal(r.stdout(), '');

  const dupFile = writeConfig(dir, { plugins: [{ id: 'x', command: 'true' }, { id: 'x', command: 'true' }] });
  const dup = runCli(['config', 'check', '--config', dupFile]);
  t.equal((await dup.exited).code, 2);
  t.match(dup.stderr(), /plugin id "x" is defined twice/);

  const yamlErr = writeConfig(dir, 'server: {host: [\n');
  const y = runCli(['serve', '--config', yamlErr]);
  t.equal((await y.exited).code, 2);
  t.match(y.stderr(), /perfwatch\.yaml:\d+:\d+: /);

  const tomlDir = path.join(dir, 'plugins', 'broken');
  mkdirSync(tomlDir, { recursive: true });
  writeFileSync(path.join(tomlDir, 'plugin.toml'), '[plugin]\ncommand = "true"\nmax_restarts = -1\n');
  const tomlCfg = writeConfig(dir, { plugin_dirs: ['plugins'] });
  const tr = runCli(['config', 'check', '--config', tomlCfg]);
  t.equal((await tr.exited).code, 2);
  t.match(tr.stderr(), /broken\/plugin\.toml: plugin\.max_restarts: /);

  const usage = runCli(['serve', '--port', 'abc']);
  t.equal((await usage.exited).code, 2);
  t.match(usage.stderr(), /--port: expected 0 to 65535/);
});

t.test('SIGTERM stops every plugin and exits 0, leaving no child behind', async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, {
    server: { host: '127.0.0.1', port: 0 },
    storage: { path: './data' },
    plugins: [
      { id: 'idle', command: process.execPath, args: [fixture('idle.cjs')] },
      { id: 'family', command: process.execPath, args: [fixture('family.cjs')], stop_timeout: '1s' },
      { id: 'stubborn', command: process.execPath, args: [fixture('ignore-term.cjs')], stop_timeout: '1s' },
    ],
  });
  const r = runCli(['serve', '--config', file]);
  t.teardown(() => void r.child.kill('SIGKILL'));
  const url = await cliUrl(r);
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'port 0 picked a free port and the log line shows it');
  const status = await waitFor(async () => {
    const s = (await (await fetch(`${url}/plugin/status`)).json()) as { plugins: Record<string, { pid?: number }> };
    return Object.values(s.plugins).every((p) => p.pid) ? s : null;
  });
  const pgids = Object.values(status.plugins).map((p) => p.pid!);
  await waitFor(() => groupMembers(pgids[1]!).length === 3, { what: 'family tree' });
  const t0 = Date.now();
  r.child.kill('SIGTERM');
  const { code } = await r.exited;
  t.equal(code, 0);
  t.ok(Date.now() - t0 < 5000, 'plugins stopped in parallel, each within its timeout');
  for (const g of pgids) t.same(groupMembers(g), [], `group ${g} is empty`);
  t.match(r.stdout(), /"msg":"stopped"/);
});

t.test('after SIGKILL, plugins get a parent-death SIGTERM and the next start reaps what ignored it', async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, {
    server: { host: '127.0.0.1', port: 0 },
    storage: { path: './data' },
    plugins: [
      { id: 'polite', command: process.execPath, args: [fixture('idle.cjs')] },
      { id: 'stubborn', command: process.execPath, args: [fixture('ignore-term.cjs')], stop_timeout: '1s' },
    ],
  });
  const first = runCli(['serve', '--config', file]);
  t.teardown(() => void first.child.kill('SIGKILL'));
  const url = await cliUrl(first);
  const pids = await waitFor(async () => {
    const s = (await (await fetch(`${url}/plugin/status`)).json()) as { plugins: Record<string, { pid?: number }> };
    return s.plugins.polite?.pid && s.plugins.stubborn?.pid ? { polite: s.plugins.polite.pid, stubborn: s.plugins.stubborn.pid } : null;
  });
  await waitFor(() => readOr(path.join(dir, 'data/perfwatch.pids.json')).includes(`"pgid":${pids.stubborn}`), {
    what: 'pid file',
  });
  await waitFor(() => readOr(path.join(dir, 'data/logs/stubborn.stdout.log')).includes('ready'), { what: 'SIGTERM handler' });
  first.child.kill('SIGKILL');
  await first.exited;
  await waitFor(() => !alive(pids.polite), { what: 'polite plugin to exit on its parent-death signal' });
  t.pass('the plugin that honours SIGTERM exited when perfwatch died');
  t.ok(alive(pids.stubborn), 'the one that ignores SIGTERM is still running, orphaned');

  const second = runCli(['serve', '--config', file]);
  t.teardown(() => void second.child.kill('SIGKILL'));
  await cliUrl(second);
  t.notOk(alive(pids.stubborn), 'the next perfwatch on this storage path killed the orphan before starting');
  t.match(second.stdout(), /stopping plugin processes left by a previous perfwatch/);
  second.child.kill('SIGTERM');
  t.equal((await second.exited).code, 0);
});

t.test('a second perfwatch on the same storage path refuses to start', async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, { server: { host: '127.0.0.1', port: 0 }, storage: { path: './data' } });
  const first = runCli(['serve', '--config', file]);
  t.teardown(() => void first.child.kill('SIGKILL'));
  await cliUrl(first);
  const second = runCli(['serve', '--config', file]);
  t.equal((await second.exited).code, 1);
  t.match(second.stdout(), /is in use by another perfwatch/);
  first.child.kill('SIGTERM');
  t.equal((await first.exited).code, 0);
});

t.test('with no --config and no ./perfwatch.yaml it serves host-only defaults', async (t) => {
  const dir = tempDir(t);
  const r = runCli(['serve', '--host', '127.0.0.1', '--port', '0'], { cwd: dir });
  t.teardown(() => void r.child.kill('SIGKILL'));
  const url = await cliUrl(r);
  const list = (await (await fetch(`${url}/plugins`)).json()) as { plugins: unknown[]; message: string };
  t.same(list, { plugins: [], message: 'no plugins registered' });
  r.child.kill('SIGTERM');
  t.equal((await r.exited).code, 0);
});
