import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { generateTest, lookupAt, scenarios } from '../../../src/alerting/equivalence.js';
import { tempDir } from '../../helpers/index.js';

const run = promisify(execFile);
const INTERVAL = 15_000;

async function promtool(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

t.test('lookup follows Prometheus 2.x staleness', async (t) => {
  const s = [{ name: 'm', labels: {}, values: [1, null, 'stale' as const, 2, ...Array(20).fill(null)] }];
  t.same(lookupAt(s, 1, INTERVAL)('m').map((x) => x.value), [1], 'a gap keeps the last sample');
  t.same(lookupAt(s, 2, INTERVAL)('m'), [], 'a staleness marker hides it at once');
  t.same(lookupAt(s, 3 + 20, INTERVAL)('m').map((x) => x.value), [2], 'exactly 5m old: still visible (closed window)');
  t.same(lookupAt(s, 3 + 21, INTERVAL)('m'), [], 'older than 5m: gone');
});

t.test('the in-process evaluator and the compiled rules agree (promtool test rules)', async (t) => {
  const dir = tempDir(t);
  const files: string[] = [];
  scenarios().forEach((scenario, i) => {
    const g = generateTest(scenario, INTERVAL, `s${i}.rules.yml`);
    t.ok(g.firingCount > 0, `${scenario.name}: the scenario fires (${g.firingCount} alert-evaluations)`);
    writeFileSync(path.join(dir, `s${i}.rules.yml`), g.ruleFile);
    writeFileSync(path.join(dir, `s${i}.test.yml`), g.testFile);
    files.push(path.join(dir, `s${i}.test.yml`));
  });
  const check = await promtool(['check', 'rules', '--lint=all', '--lint-fatal', ...files.map((f) => f.replace('.test.yml', '.rules.yml'))]);
  t.equal(check.code, 0, check.out);
  const res = await promtool(['test', 'rules', ...files]);
  t.equal(res.code, 0, res.out.slice(0, 4000));
  t.equal(res.out.match(/SUCCESS/g)?.length, files.length);
});

t.test('the proof can fail: one wrong expectation makes promtool fail', async (t) => {
  const dir = tempDir(t);
  const g = generateTest(scenarios()[0]!, INTERVAL, 'r.rules.yml');
  writeFileSync(path.join(dir, 'r.rules.yml'), g.ruleFile);
  // expect the alert one evaluation too early: the first `exp_alerts` with an entry moves back one check
  const lines = g.testFile.split('\n');
  const firstFiring = lines.findIndex((l) => l.includes('exp_labels'));
  const evalLine = lines.slice(0, firstFiring).findLastIndex((l) => l.includes('eval_time'));
  const [, secs] = /eval_time: (\d+)s/.exec(lines[evalLine]!)!;
  lines[evalLine] = lines[evalLine]!.replace(`${secs}s`, `${Number(secs) - 15}s`);
  writeFileSync(path.join(dir, 'r.test.yml'), lines.join('\n'));
  const res = await promtool(['test', 'rules', path.join(dir, 'r.test.yml')]);
  t.equal(res.code, 1, 'promtool fails');
  t.match(res.out, /FAILED/);
});
