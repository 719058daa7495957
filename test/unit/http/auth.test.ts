import { chmodSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { resolveAdminToken } from '../../../src/http/auth.js';
import { tempDir } from '../../helpers/index.js';

t.test('generated into storage with mode 0600, then reused', async (t) => {
  const dir = tempDir(t);
  const storage = path.join(dir, 'data');
  const a = await resolveAdminToken({ env: {}, storagePath: storage });
  t.equal(a.source, path.join(storage, 'admin_token'));
  t.ok(a.token.length >= 40, '256 random bits');
  t.equal(statSync(a.source).mode & 0o777, 0o600);
  const b = await resolveAdminToken({ env: {}, storagePath: storage });
  t.equal(b.token, a.token, 'the same token on the next start');
});

t.test('the environment wins over the file, the file over the generated token', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'token');
  writeFileSync(file, '  from-file-0123456789 \n', { mode: 0o600 });
  t.same(await resolveAdminToken({ env: { PERFWATCH_ADMIN_TOKEN: 'from-env-0123456789' }, tokenFile: file, storagePath: dir }), {
    token: 'from-env-0123456789',
    source: 'environment variable PERFWATCH_ADMIN_TOKEN',
  });
  t.same(await resolveAdminToken({ env: {}, tokenFile: file, storagePath: dir }), { token: 'from-file-0123456789', source: file });
  writeFileSync(file, '\n');
  await t.rejects(resolveAdminToken({ env: {}, tokenFile: file, storagePath: dir }), /is empty/);
});

t.test('a token file others can read, or a token shorter than 16 characters, is refused naming the fix', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'token');
  writeFileSync(file, 'a-long-enough-token-value\n', { mode: 0o644 });
  await t.rejects(resolveAdminToken({ env: {}, tokenFile: file, storagePath: dir }), { name: 'StartupError', message: /readable by others \(mode 0644\); chmod 600 it/ });
  writeFileSync(file, 'abc\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  await t.rejects(resolveAdminToken({ env: {}, tokenFile: file, storagePath: dir }), { name: 'StartupError', message: /at least 16 characters \(got 3\)/ });
  await t.rejects(resolveAdminToken({ env: { PERFWATCH_ADMIN_TOKEN: 'short' }, storagePath: dir }), /PERFWATCH_ADMIN_TOKEN: the admin token must be at least 16 characters/);
});
