import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig, reloadPluginDefinition } from '../../../src/config/load.js';
import { tempDir } from '../../helpers/index.js';

t.test('defaults without a file', async (t) => {
  const dir = tempDir(t);
  const c = await loadConfig({ cwd: dir, env: {} });
  t.equal(c.file, null);
  t.equal(c.server.host, '0.0.0.0');
  t.equal(c.server.port, 9470);
  t.equal(c.collection.interval, 5000);
  t.equal(c.storage.path, path.join(dir, 'data'));
  t.same(c.plugins, []);
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.server), 'frozen');
});

t.test('./perfwatch.yaml is picked up; env and flags override in order', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'perfwatch.yaml'), 'server: { host: 10.0.0.1, port: 1000 }\nlog: { level: warn }\n');
  const c = await loadConfig({ cwd: dir, env: { PERFWATCH_PORT: '2000', PERFWATCH_LOG_LEVEL: 'debug' }, overrides: { port: 3000 } });
  t.equal(c.file, path.join(dir, 'perfwatch.yaml'));
  t.equal(c.server.host, '10.0.0.1');
  t.equal(c.server.port, 3000, 'flag beats env beats file');
  t.equal(c.log.level, 'debug');
  const c2 = await loadConfig({ cwd: dir, env: { PERFWATCH_PORT: '2000' } });
  t.equal(c2.server.port, 2000);
  await t.rejects(loadConfig({ cwd: dir, env: { PERFWATCH_PORT: 'abc' } }), ConfigError);
});

t.test('relative paths resolve against the file they are written in', async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'conf/plugins/tick'), { recursive: true });
  writeFileSync(
    path.join(dir, 'conf/perfwatch.yaml'),
    'storage: { path: ../state }\nplugin_dirs: [plugins]\nplugins:\n  - { id: a, command: node, cwd: work, args: [x.js], stop_timeout: 3 }\n',
  );
  writeFileSync(path.join(dir, 'conf/plugins/tick/plugin.toml'), '[plugin]\ncommand = "node"\nargs = ["t.js"]\nversion = "1.2.3"\n');
  writeFileSync(path.join(dir, 'conf/plugins/README'), 'not a plugin folder');
  const c = await loadConfig({ file: 'conf/perfwatch.yaml', cwd: dir, env: {} });
  t.equal(c.storage.path, path.join(dir, 'state'));
  t.same(c.plugin_dirs, [path.join(dir, 'conf/plugins')]);
  const [a, tick] = c.plugins;
  t.equal(a!.cwd, path.join(dir, 'conf/work'));
  t.equal(a!.stop_timeout, 3000);
  t.equal(a!.name, 'a', 'name defaults to id');
  t.same(a!.source, { kind: 'config', file: path.join(dir, 'conf/perfwatch.yaml') });
  t.equal(tick!.id, 'tick', 'id defaults to the folder name');
  t.equal(tick!.cwd, path.join(dir, 'conf/plugins/tick'));
  t.equal(tick!.version, '1.2.3');

  writeFileSync(path.join(dir, 'conf/plugins/tick/plugin.toml'), '[plugin]\ncommand = "node"\nversion = "2.0.0"\n');
  t.equal((await reloadPluginDefinition(tick!)).version, '2.0.0', 'reload re-reads the plugin.toml');
  writeFileSync(path.join(dir, 'conf/plugins/tick/plugin.toml'), '[plugin]\ncommand = 5\n');
  const err = await reloadPluginDefinition(tick!).catch((e) => e);
  t.type(err, ConfigError);
  t.match(err.problems[0], /tick\/plugin\.toml: plugin\.command: expected string/);
  writeFileSync(path.join(dir, 'conf/perfwatch.yaml'), 'plugins: []\n');
  await t.rejects(reloadPluginDefinition(a!), /no longer defined/);
});

t.test('every problem is reported, each with its path', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'p.yaml'), 'plugins:\n  - { id: ok, command: x }\n  - { command: "", restart_window: 1y, env: { A: 1 } }\nplugin_dirs: [missing]\n');
  const err = (await loadConfig({ file: 'p.yaml', cwd: dir, env: {} }).catch((e) => e)) as ConfigError;
  t.type(err, ConfigError);
  const text = err.problems.join('\n');
  for (const re of [/plugins\[1\]\.id: expected string \(required\)/, /plugins\[1\]\.command: expected the program to run/, /plugins\[1\]\.env\.A: expected string/, /plugins\[1\]\.restart_window: expected a duration/]) {
    t.match(text, re);
  }
  writeFileSync(path.join(dir, 'q.yaml'), '- just\n- a list\n');
  await t.rejects(loadConfig({ file: 'q.yaml', cwd: dir, env: {} }), /expected a mapping/);
  await t.rejects(loadConfig({ file: 'absent.yaml', cwd: dir, env: {} }), /cannot read: ENOENT/);
});
