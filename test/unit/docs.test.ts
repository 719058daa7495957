import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { renderConfigDocs } from '../../src/config/docs.js';
import { ERROR_CODES } from '../../src/http/api-error.js';
import { HOST_SERIES } from '../../src/model/legacy-names.js';
import { M } from '../../src/model/metric-names.js';
import { DEFAULTS as SDK_DEFAULTS } from '../../packages/sdk/src/config.js';
import { ROOT } from '../helpers/index.js';

const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');

t.test('docs/config.md is generated from the schema (run `npm run docs` when this fails)', async (t) => {
  t.equal(read('docs/config.md'), renderConfigDocs());
});

t.test('docs/errors.md lists exactly the codes in the catalogue, with their statuses', async (t) => {
  const rows = [...read('docs/errors.md').matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
  t.same(rows, Object.entries(ERROR_CODES).map(([code, e]) => [code, e.status]));
});

t.test('docs/metrics.md names every metric', async (t) => {
  const doc = read('docs/metrics.md');
  for (const name of Object.values(M)) t.ok(doc.includes(`\`${name}\``), name);
});

t.test('the SDK\'s keys are all documented, in docs/profiling.md\'s table and the package README', async (t) => {
  const keys = ['project_key', 'api_endpoint', 'otlp_endpoint', 'service_name', ...Object.keys(SDK_DEFAULTS)];
  const guide = read('docs/profiling.md');
  const readme = read('packages/sdk/README.md');
  for (const k of keys) {
    t.match(guide, new RegExp(`^\\| \`${k}\` \\|`, 'm'), `docs/profiling.md: ${k}`);
    t.ok(readme.includes(`\`${k}\``), `packages/sdk/README.md: ${k}`);
  }
});

t.test('README opens with the two commands', async (t) => {
  const readme = read('README.md');
  const first = readme.indexOf('npm ci && npm start');
  t.ok(first >= 0 && first < 300, 'npm ci && npm start first');
  t.ok(readme.indexOf('npm test') > first, 'then npm test');
});

t.test('docs/fleet.md maps every history name to the series and function the backend reader uses', async (t) => {
  const rows = new Map([...read('docs/fleet.md').matchAll(/^\| `([a-z0-9_]+)` \| ([^|]*) \| (.*) \|$/gm)].map((m) => [m[1]!, { unit: m[2]!.trim(), expr: m[3]! }]));
  t.same([...rows.keys()], HOST_SERIES.map((s) => s.name), 'one row per history name, in catalogue order');
  for (const s of HOST_SERIES) {
    const row = rows.get(s.name);
    const fn = s.scraped.rate ? 'rate(' : s.counter ? 'last_over_time(' : 'avg_over_time(';
    t.ok(row && row.expr.includes(`${fn}${s.scraped.series}`) && row.unit === (s.unit || '—') && row.expr.includes('× 100') === (s.scraped.k === 100) && row.expr.includes('sum by (instance)') === !!s.scraped.sum, `${s.name}: ${row?.expr}`);
  }
});
