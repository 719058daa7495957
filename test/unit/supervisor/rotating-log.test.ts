import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { RotatingLog } from '../../../src/supervisor/rotating-log.js';
import { tempDir } from '../../helpers/index.js';

t.test('rotates at the size and keeps max_files', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'p.stdout.log');
  const log = new RotatingLog({ file, maxBytes: 100, maxFiles: 2 });
  for (let i = 0; i < 10; i++) log.write(Buffer.from(`${String(i).repeat(39)}\n`));
  await log.close();
  t.same(readdirSync(dir).sort(), ['p.stdout.log', 'p.stdout.log.1', 'p.stdout.log.2']);
  t.equal(readFileSync(file, 'utf8'), `${'8'.repeat(39)}\n${'9'.repeat(39)}\n`, 'newest lines in the live file');
  t.equal(readFileSync(`${file}.1`, 'utf8').length, 80);
});

t.test('drops and counts instead of buffering without bound', async (t) => {
  const dir = tempDir(t);
  let dropped = 0;
  const log = new RotatingLog({ file: path.join(dir, 'x.log'), maxBytes: 1 << 20, maxFiles: 1, maxPendingBytes: 1000, onDrop: (n) => (dropped += n) });
  for (let i = 0; i < 100; i++) log.write(Buffer.alloc(100, 97));
  await log.close();
  t.ok(dropped > 0, `dropped ${dropped} bytes`);
  t.equal(readFileSync(path.join(dir, 'x.log')).length + dropped, 100 * 100, 'written + dropped = offered');
});
