import { existsSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { systemClock } from '../../../src/model/clock.js';
import type { ReportSources } from '../../../src/reports/content.js';
import { ReportService } from '../../../src/reports/service.js';
import { ReportStore } from '../../../src/reports/store.js';
import { createHistory } from '../../../src/store/history.js';
import { tempDir } from '../../helpers/index.js';

t.test('the time limit fails a report whose build answers too late, at the limit, with the cause; its late file is removed; the next one is built', async (t) => {
  const dir = tempDir(t);
  const store = new ReportStore(dir);
  t.teardown(() => store.close());
  const history = createHistory({ rawCapacity: 10, pluginSamples: 10, retentionDays: 1, memTotalBytes: 2 ** 30, checkpointFile: `${dir}/h.ckpt`, checkpointIntervalMs: 3_600_000, log: () => {} });
  const sources: ReportSources = { history: history.reader, pluginRing: () => null, plugins: () => [], alerts: () => [], rules: () => [], hostname: 'h' };
  let hang = true;
  let late: string | null = null;
  const service = new ReportService({
    store,
    sources,
    clock: systemClock,
    concurrency: 1,
    maxQueue: 10,
    timeoutMs: 200,
    maxAgeMs: 86_400_000,
    maxCount: 10,
    // hanging: the file is written 400 ms later, after the limit
    build: async (_input, file) => (hang ? new Promise<number>((r) => setTimeout(() => (writeFileSync((late = file), '{}'), r(2)), 400)) : (writeFileSync(file, '{}'), 2)),
    log: () => {},
  });
  service.start();
  t.teardown(() => service.stop());
  const t0 = Date.now();
  const { row } = service.create({ period: '1h' });
  await service.idle();
  const failed = service.get(row.id);
  t.equal(failed.status, 'failed');
  t.equal(failed.error, 'timed out after 0.2 s (reports.timeout)');
  t.ok(Date.now() - t0 < 2000, `failed at the limit (${Date.now() - t0} ms), not when the build answers`);
  await new Promise((r) => setTimeout(r, 600));
  t.ok(late, 'the build did end later');
  t.notOk(existsSync(late!), 'and what it wrote after the limit was removed');
  hang = false;
  const next = service.create({ period: '1h' }).row;
  await service.idle();
  t.match(service.get(next.id), { status: 'ready', size: 2 });
});
