import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { stringify } from 'yaml';
import { renderRuleFile } from '../../src/alerting/promql.js';
import { loadFileRules } from '../../src/alerting/service.js';
import { auth, ROOT, runCli, startApp, tempDir } from '../helpers/index.js';

const run = promisify(execFile);

t.test('alerts/perfwatch.rules.yml is what the exporter generates for the default rules', async (t) => {
  const shipped = readFileSync(path.join(ROOT, 'alerts/perfwatch.rules.yml'), 'utf8');
  const generated = renderRuleFile(await loadFileRules({ default_rules: true }), 5000);
  t.equal(shipped, generated, 'regenerate with: node bin/perfwatch.js rules export --config /dev/null > alerts/perfwatch.rules.yml');
  const { stdout } = await run('promtool', ['check', 'rules', '--lint=all', '--lint-fatal', path.join(ROOT, 'alerts/perfwatch.rules.yml')]);
  t.match(stdout, /SUCCESS: 8 rules found/);
});

t.test('perfwatch rules export: file rules and API rules from the store', async (t) => {
  const pw = await startApp(t, { alerting: { default_rules: true } });
  const res = await fetch(`${pw.url}/api/v1/performance/alerts/rules`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'high_memory', metric: 'memory_percent', operator: '>', threshold: 80, level: 'warning' }),
  });
  t.equal(res.status, 200);
  const cli = runCli(['rules', 'export', '--config', pw.configFile]);
  const { code } = await cli.exited;
  t.equal(code, 0, cli.stderr());
  const out = cli.stdout();
  t.match(out, /alert: HighMemory\n\s+expr: perfwatch_host_memory_usage_ratio \* 100 > 80/);
  t.match(out, /alert: PluginDown/);
  const file = path.join(pw.dir, 'exported.yml');
  writeFileSync(file, out);
  const { stdout } = await run('promtool', ['check', 'rules', file]);
  t.match(stdout, /SUCCESS: 9 rules found/);
});

t.test('config check validates the rules file and names the bad field', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'rules.yaml'), stringify({ rules: [{ name: 'ok_rule', metric: 'cpu_percent', operator: '>', threshold: 1 }, { name: 'bad', metric: 'cpu_percent', operator: '>', threshold: 'high' }] }));
  writeFileSync(path.join(dir, 'perfwatch.yaml'), stringify({ alerting: { rules_file: 'rules.yaml' } }));
  const cli = runCli(['config', 'check', '--config', path.join(dir, 'perfwatch.yaml')]);
  t.equal((await cli.exited).code, 2);
  t.match(cli.stderr(), /rules\.yaml: rules\[1\]\.threshold/);
  writeFileSync(path.join(dir, 'rules.yaml'), stringify({ rules: [{ name: 'high_cpu_usage', metric: 'cpu_percent', operator: '>', threshold: 1 }] }));
  const dup = runCli(['config', 'check', '--config', path.join(dir, 'perfwatch.yaml')]);
  t.equal((await dup.exited).code, 2);
  t.match(dup.stderr(), /defined twice/);
});
