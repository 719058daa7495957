// Screenshots of the web console for docs/ (docs/console.md, README): `npx tsx scripts/console-screenshots.ts`.
// Starts perfwatch with the demo config (examples/perfwatch.yaml) in a temporary folder, lets it collect for a
// minute, adds a rule that fires and a report, then photographs each page in Debian's Chromium.
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { startPerfwatch } from '../src/main.js';
// @ts-expect-error plain JavaScript
import { buildUi } from './build-ui.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'docs', 'images');
const token = 'screenshot-token-0123456789';

await buildUi();
const dir = await mkdtemp(path.join(tmpdir(), 'perfwatch-shots-'));
await cp(path.join(root, 'examples'), dir, { recursive: true, filter: (src) => !/[\/]data([\/]|$)/.test(path.relative(root, src)) });
await symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules')); // the example apps import @perfwatch/sdk, express …
const doc = parse(await readFile(path.join(dir, 'perfwatch.yaml'), 'utf8'));
// a free port known before the start, so the example apps (docs/profiling.md) send their records to this perfwatch
const port = await new Promise<number>((resolve) => {
  const srv = createServer().listen(0, '127.0.0.1', () => {
    const p = (srv.address() as { port: number }).port;
    srv.close(() => resolve(p));
  });
});
doc.server = { host: '127.0.0.1', port };
for (const p of doc.plugins as Array<{ env?: Record<string, string> }>) {
  if (p.env?.PERFORMANCE_MONITOR_API_ENDPOINT) p.env = { ...p.env, PERFORMANCE_MONITOR_API_ENDPOINT: `http://127.0.0.1:${port}/api/v1/performance/collect` };
}
doc.collection = { ...doc.collection, interval: '2s' };
await writeFile(path.join(dir, 'perfwatch.yaml'), stringify(doc));
const pw = await startPerfwatch({ config: await loadConfig({ file: path.join(dir, 'perfwatch.yaml') }), logger: pino({ level: 'warn' }), env: { ...process.env, PERFWATCH_ADMIN_TOKEN: token } });
const post = (p: string, body: unknown) => fetch(pw.url + p, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
try {
  await post('/api/v1/performance/alerts/rules', { name: 'demo_load', metric: 'load_1m', operator: '>=', threshold: 0, level: 'warning', description: '负载演示 demo load' });
  console.log('collecting for 60 s…');
  await new Promise((r) => setTimeout(r, 60_000));
  await post('/api/v1/performance/reports', { type: 'summary', period: '1h', format: 'pdf' });
  await post('/api/v1/performance/reports', { type: 'detailed', period: '1h', format: 'json' });
  await new Promise((r) => setTimeout(r, 8000));

  // the slowest recent request of the Koa example's list route, for the call-tree shot
  const recs = (await (await fetch(`${pw.url}/api/v1/performance/records?route=%2Fapi%2Fusers&limit=1`, { headers: { authorization: `Bearer ${token}` } })).json()) as { data: { records: Array<{ id: string }> } };
  const recordId = recs.data.records[0]?.id ?? 'rec_1';
  // a record of the CPU-bound route with its sampled tree, for the samples shot
  const reports = (await (await fetch(`${pw.url}/api/v1/performance/records?route=%2Fapi%2Freport&limit=20`, { headers: { authorization: `Bearer ${token}` } })).json()) as { data: { records: Array<{ id: string }> } };
  let sampledId = 'rec_1';
  for (const r of reports.data.records) {
    const rec = (await (await fetch(`${pw.url}/api/v1/performance/records/${r.id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { data: { sampled: unknown } };
    if (rec.data.sampled) {
      sampledId = r.id;
      break;
    }
  }
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  const shots: Array<{ name: string; route: string; locale?: string; dark?: boolean; phone?: boolean; click?: string }> = [
    { name: 'console-overview', route: 'overview' },
    { name: 'console-plugins', route: 'plugins' },
    { name: 'console-plugin', route: 'plugins/echo' },
    { name: 'console-alerts', route: 'alerts/active' },
    { name: 'console-rules', route: 'alerts/rules' },
    { name: 'console-reports', route: 'reports' },
    { name: 'console-system', route: 'system' },
    { name: 'console-profiling', route: 'profiling', click: 'tr[data-route="GET /api/report"] button' },
    { name: 'console-profiling-record', route: 'profiling/RECORD' },
    { name: 'console-profiling-samples', route: `profiling/${sampledId}` },
    { name: 'console-overview-zh-dark', route: 'overview', locale: 'zh-CN', dark: true },
    { name: 'console-plugins-phone', route: 'plugins', phone: true },
  ];
  for (const s of shots) {
    const ctx = await browser.newContext({ locale: s.locale ?? 'en-US', colorScheme: s.dark ? 'dark' : 'light', viewport: s.phone ? { width: 390, height: 844 } : { width: 1280, height: 800 } });
    await ctx.addInitScript((tk: string) => (globalThis as any).sessionStorage.setItem('perfwatch.token', tk), token);
    const page = await ctx.newPage();
    await page.goto(`${pw.url}/#/${s.route.replace('RECORD', recordId)}`);
    if (s.click) await page.locator(s.click).click({ timeout: 10_000 });
    await page.waitForTimeout(5000); // history loaded, live updates arrived, sparklines drawn
    await page.screenshot({ path: path.join(out, `${s.name}.png`), fullPage: !s.phone });
    console.log(`docs/images/${s.name}.png`);
    await ctx.close();
  }
  await browser.close();
} finally {
  await pw.stop();
  await rm(dir, { recursive: true, force: true });
}
