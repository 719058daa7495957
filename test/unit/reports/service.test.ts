import { writeFileSync } from 'node:fs';
import t from 'tap';
import { systemClock } from '../../../src/model/clock.js';
import type { ReportSources } from '../../../src/reports/content.js';
import { ReportService } from '../../../src/reports/service.js';
import { ReportStore } from '../../../src/reports/store.js';
import { createHistory } from '../../../src/store/history.js';
import { tempDir } from '../../helpers/index.js';

t.test('the time limit fails a report whose build never answers, at the limit, with the cause; the next one is built', async (t) => {
  const dir = tempDir(t);
  const store = new ReportStore(dir);
  t.teardown(() => store.close());
  const history = createHistory({ rawCapacity: 10, pluginSamples: 10, retentionDays: 1, memTotalBytes: 2 ** 30, checkpointFile: `${dir}/h.ckpt`, checkpointIntervalMs: 3_600_000, log: () => {} });
  const sources: ReportSources = { history: history.reader, pluginRing: () => null, plugins: () => [], alerts: () => [], rules: () => [], hostname: 'h' };
  let hang = true;
  const service = new ReportService({
    store,
    sources,
    clock: systemClock,
    concurrency: 1,
    maxQueue: 10,
    timeoutMs: 200,
    maxAgeMs: 86_400_000,
    maxCount: 10,
    build: async (_input, file) => (hang ? new Promise<number>(() => {}) : (writeFileSync(file, '{}'), 2)),
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
  hang = false;
  const next = service.create({ period: '1h' }).row;
  await service.idle();
  t.match(service.get(next.id), { status: 'ready', size: 2 });
});
