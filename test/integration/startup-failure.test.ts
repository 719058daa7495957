import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { startPerfwatch } from '../../src/main.js';
import { nodePlugin, startApp, tempDir, TOKEN } from '../helpers/index.js';

/** Where each of this process' open fds points. */
function openFds(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      /* closed while listing (readdir's own fd) */
    }
  }
  return out;
}

t.test('a start that fails on a taken port leaves no open fd, no SQLite handle, no pid file and no plugin', async (t) => {
  const first = await startApp(t);
  const port = Number(new URL(first.url).port);
  const dir = tempDir(t);
  const storage = path.join(dir, 'data');
  const configFile = path.join(dir, 'perfwatch.yaml');
  await writeFile(configFile, stringify({ server: { host: '127.0.0.1', port }, storage: { path: storage }, plugins: [nodePlugin('p', 'idle.cjs')] }));
  const config = await loadConfig({ file: configFile });
  const procFdsBefore = openFds().filter((f) => f.startsWith('/proc/')).length;
  await t.rejects(startPerfwatch({ config, logger: pino({ level: 'silent' }), env: { ...process.env, PERFWATCH_ADMIN_TOKEN: TOKEN } }), { code: 'EADDRINUSE' });
  const after = openFds();
  t.same(after.filter((f) => f.startsWith(storage)), [], 'nothing under the failed storage path is open (perfwatch.db, its WAL, logs)');
  t.equal(after.filter((f) => f.startsWith('/proc/')).length, procFdsBefore, 'the /proc fds it opened are closed');
  t.notOk(existsSync(path.join(storage, 'perfwatch.pids.json')), 'no pid file left');
  t.ok(existsSync(path.join(storage, 'perfwatch.db')), 'the database was opened (so the rollback closed it)');
  t.equal(first.supervisor.list().length, 0, 'the running perfwatch is untouched');
  t.equal((await fetch(`${first.url}/healthz`)).status, 200);
});
