import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import t from 'tap';
import { en, statusWord, translator, zh } from '../../ui/src/i18n.js';
// @ts-expect-error plain JavaScript, so that `npm run build` needs no TypeScript runner
import { buildUi } from '../../scripts/build-ui.mjs';
import { auth, getJson, nodePlugin, ROOT, startApp, TOKEN, waitFor } from '../helpers/index.js';

/** The Chromium the Debian package installs (.ci/run installs it); the browser tests say so when it is absent. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const PROJECT_KEY = 'console-project-key-0123';
const noBrowser = CHROMIUM ? false : 'needs /usr/bin/chromium (apt-get install chromium; .ci/run installs it)';

// the console is served from dist/ui: build it as `npm run build` does
t.before(async () => {
  await buildUi();
});

t.test('the translations: the same keys in English and Chinese, none empty, every key the pages use exists', async (t) => {
  t.same(Object.keys(zh).sort(), Object.keys(en).sort(), 'zh has exactly en\'s keys');
  t.same(Object.entries(zh).filter(([, v]) => !v.trim()).map(([k]) => k), [], 'no empty Chinese text');
  const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
  const keys = Object.keys(en) as (keyof typeof en)[];
  t.same(keys.filter((k) => placeholders(zh[k]) !== placeholders(en[k])), [], 'the same placeholders in both');
  const tr = translator('zh');
  t.equal(tr('plugins.confirm', { action: '停止', id: 'echo' }), '确定停止插件 echo？', 'placeholders filled');
  t.equal(statusWord(tr, 'status', 'running'), '运行中');
  t.equal(statusWord(tr, 'health', 'a-new-state'), 'a-new-state', 'a word the catalogue does not know is shown as the API said it');
  const used = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.tsx')) for (const m of readFileSync(p, 'utf8').matchAll(/\bt\('([a-zA-Z]+\.[a-zA-Z0-9]+)'/g)) used.add(m[1]!);
    }
  };
  walk(path.join(ROOT, 'ui', 'src'));
  t.ok(used.size > 50, `found the keys the pages use (${used.size})`);
  t.same([...used].filter((k) => !(k in en)), [], 'every key the pages use is in the catalogue');
});

t.test('GET / and /ui/*: the built files, gzip, ETag and 304, a same-origin CSP; unknown files 404', async (t) => {
  const pw = await startApp(t);
  const page = await fetch(`${pw.url}/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  const csp = page.headers.get('content-security-policy') ?? '';
  t.match(csp, /default-src 'self'/);
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'no inline code allowed');
  t.match(page.headers.get('cache-control'), /no-cache/);
  const html = await page.text();
  t.match(html, /<script type="module" src="\/ui\/app\.js">/);
  for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) t.match(src[1], /^\/ui\//, `${src[1]} is served by perfwatch (no CDN)`);

  const js = await fetch(`${pw.url}/ui/app.js`, { headers: { 'accept-encoding': 'gzip' } });
  t.equal(js.status, 200);
  t.match(js.headers.get('content-type'), /^text\/javascript/);
  const etag = js.headers.get('etag')!;
  t.match(etag, /^"[\w-]+"$/);
  const again = await fetch(`${pw.url}/ui/app.js`, { headers: { 'if-none-match': etag } });
  t.equal(again.status, 304, 'a reload revalidates for free');
  // node's fetch decodes gzip itself: read the raw bytes with the http module's view of the size instead
  const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
    import('node:http').then(({ get }) =>
      get(`${pw.url}/ui/app.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      }).on('error', reject),
    );
  });
  t.equal(raw.encoding, 'gzip');
  t.equal(gunzipSync(raw.body).toString(), readFileSync(path.join(ROOT, 'dist/ui/app.js'), 'utf8'), 'the built file, compressed');
  t.ok(raw.body.length < 200 * 1024, `app.js is ${raw.body.length} bytes gzipped`);

  const missing = await getJson(`${pw.url}/ui/nope.js`);
  t.equal(missing.status, 404);
  t.same(missing.body, { error: { code: 'NOT_FOUND', message: 'no console file nope.js' } });
  t.equal((await getJson(`${pw.url}/ui/..%2Fpackage.json`)).status, 404, 'no way out of dist/ui');
});

t.test('server.console: false serves no pages; the API is unchanged', async (t) => {
  const pw = await startApp(t, { server: { console: false } });
  t.equal((await getJson(`${pw.url}/`)).status, 404);
  t.equal((await getJson(`${pw.url}/ui/app.js`)).status, 404);
  t.equal((await getJson(`${pw.url}/healthz`)).status, 200);
});

t.test('a checkout that was not built answers 503 CONSOLE_NOT_BUILT saying what to run', async (t) => {
  const { createConsoleRouter } = await import('../../src/console/index.js');
  const { createHttpApp } = await import('../../src/http/app.js');
  const { pino } = await import('pino');
  const { systemClock } = await import('../../src/model/clock.js');
  const app = createHttpApp({ logger: pino({ level: 'silent' }), clock: systemClock, families: [{ router: createConsoleRouter({ dir: '/nonexistent/dist/ui' }), envelope: 'plain' }] });
  const server = app.listen(0, '127.0.0.1');
  t.teardown(() => server.close());
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  const res = await getJson(`http://127.0.0.1:${port}/`);
  t.equal(res.status, 503);
  t.same(res.body, { error: { code: 'CONSOLE_NOT_BUILT', message: 'the web console is not built (/nonexistent/dist/ui is missing); run `npm run build`' } });
});

interface Opened {
  page: Page;
  errors: string[];
}

/** A page of the console with every console error, failed request and uncaught exception collected. */
async function open(ctx: BrowserContext, url: string): Promise<Opened> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(url);
  return { page, errors };
}

t.test('in Chromium', { skip: noBrowser }, async (t) => {
  const interval = 1000;
  const pw = await startApp(t, {
    collection: { interval: `${interval}ms` },
    plugins: [nodePlugin('alpha', 'idle.cjs'), nodePlugin('beta', 'idle.cjs')],
    profiling: { projects: [{ name: 'shop', key: PROJECT_KEY }] },
  });
  // one request record with its span tree and CPU samples, and its route's samples, as @perfwatch/sdk sends them
  const frame = (name: string, ms: number, children: object[] = []) => ({ function: name, time: ms / 1000, self_time: 0, calls: 1, children });
  const cpu = (name: string, file: string, ms: number, selfMs: number, children: object[] = []) => ({ function: name, file_path_short: file, time: ms / 1000, self_time: selfMs / 1000, calls: 0, children });
  const samples = { kind: 'sampled', interval_ms: 10, sample_count: 8, root_frame: cpu('GET /api/users/:id', '', 80, 0, [cpu('handler', 'src/app.js:12', 80, 10, [cpu('hashPassword', 'src/auth.js:40', 70, 70)])]) };
  const now = Date.now() / 1000;
  const collected = await fetch(`${pw.url}/api/v1/performance/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-project-key': PROJECT_KEY },
    body: JSON.stringify({
      records: [{ route: '/api/users/:id', method: 'GET', status: 200, start_time: now, duration_ms: 12, tree: { kind: 'instrumented', root_frame: frame('GET /api/users/:id', 12, [frame('loadUser', 9, [{ ...frame('db.query', 7), calls: 6 }]), frame('render', 1)]) }, sampled: samples }],
      route_profiles: [{ route: '/api/users/:id', method: 'GET', window_start: now - 5, window_end: now, requests: 1, tree: samples }],
    }),
  });
  const recordId = ((await collected.json()) as { data: { record_ids: string[] } }).data.record_ids[0]!;
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  t.teardown(() => browser.close());
  t.comment(`Chromium ${browser.version()}`);
  await waitFor(async () => (await getJson(`${pw.url}/plugin/status`)).body.plugins.beta.status === 'running', { what: 'plugins running' });

  /** A fresh browser context (its own sessionStorage) with the admin token entered, unless `token` is null. */
  const context = async (opts: { locale?: string; token?: string | null } = {}) => {
    const ctx = await browser.newContext({ locale: opts.locale ?? 'en-US', viewport: { width: 1280, height: 800 } });
    t.teardown(() => ctx.close());
    const token = opts.token === undefined ? TOKEN : opts.token;
    if (token !== null) await ctx.addInitScript((tk: string) => (globalThis as any).sessionStorage.setItem('perfwatch.token', tk), token);
    return ctx;
  };

  t.test('every page loads with zero console errors and shows its data', async (t) => {
    const ctx = await context();
    const pages: Array<[string, string]> = [
      ['overview', '[data-testid=kpi-cpu] b:not(:empty)'],
      ['plugins', 'tr[data-plugin=alpha]'],
      ['plugins/alpha', '[data-testid=plugin-chart]'],
      ['alerts/active', 'nav.tabs'],
      ['alerts/history', 'nav.tabs'],
      ['alerts/rules', 'tr[data-rule]'],
      ['reports', '[data-testid=report-form]'],
      ['profiling', 'tr[data-route="GET /api/users/:id"]'],
      [`profiling/${recordId}`, '[data-testid=call-tree] .fname'],
      ['system', '[data-testid=system-host] dd'],
    ];
    for (const [route, ready] of pages) {
      const { page, errors } = await open(ctx, `${pw.url}/#/${route}`);
      await page.locator(ready).first().waitFor({ timeout: 10_000 });
      await page.waitForTimeout(interval + 200); // a live update arrives and renders
      // the header's indicator follows the WebSocket (it once missed an open that came before its listener)
      t.equal(await page.locator('[data-testid=live]').getAttribute('class'), 'dot up', `#/${route}: says live`);
      t.same(errors, [], `#/${route}: no console errors`);
      await page.close();
    }
  });

  t.test('the overview chart gains points within two intervals', async (t) => {
    const ctx = await context({ token: null }); // the overview needs no token
    const { page, errors } = await open(ctx, `${pw.url}/#/overview`);
    const chart = page.locator('[data-testid=chart-cpu]');
    await page.locator('[data-testid=chart-cpu] canvas').waitFor();
    const points = async () => Number(await chart.getAttribute('data-points'));
    const before = await points();
    const started = Date.now();
    await page.waitForFunction((n) => Number((globalThis as any).document.querySelector('[data-testid=chart-cpu]')!.getAttribute('data-points')) > n, before, { timeout: 2 * interval, polling: 50 });
    t.ok((await points()) > before, `${before} → ${await points()} points after ${Date.now() - started} ms`);
    t.equal(await page.locator('[data-testid=live]').getAttribute('class'), 'dot up', 'the live indicator says connected');
    t.same(errors, []);
  });

  t.test('stopping a plugin from the Plugins page stops it (and GET /plugin/status says so)', async (t) => {
    const ctx = await context();
    const { page, errors } = await open(ctx, `${pw.url}/#/plugins`);
    const stop = page.locator('[data-testid=stop-beta]');
    await stop.waitFor();
    await stop.click();
    const dialog = page.locator('dialog[open]');
    t.match(await dialog.textContent(), /Stop plugin beta\?/, 'asks first');
    await dialog.locator('[data-testid=confirm]').click();
    await waitFor(async () => (await getJson(`${pw.url}/plugin/status?plugin_id=beta`)).body.status === 'stopped', { what: 'beta stopped' });
    await page.locator('tr[data-plugin=beta] [data-testid=status]', { hasText: 'stopped' }).waitFor();
    t.match(await page.locator('[data-testid=flash]').first().textContent(), /beta: Plugin stopped successfully/);
    t.equal((await getJson(`${pw.url}/plugin/status?plugin_id=alpha`)).body.status, 'running', 'the other plugin untouched');
    // cancelling does nothing
    await page.locator('[data-testid=stop-alpha]').click();
    await page.keyboard.press('Escape');
    await page.waitForTimeout(300);
    t.equal((await getJson(`${pw.url}/plugin/status?plugin_id=alpha`)).body.status, 'running', 'Esc cancels');
    t.same(errors, []);
  });

  t.test('a rule created from the form is returned by the API; a bad one shows the API\'s message and stores nothing', async (t) => {
    const ctx = await context();
    const { page, errors } = await open(ctx, `${pw.url}/#/alerts/rules`);
    await page.locator('[data-testid=new-rule]').click();
    const form = page.locator('[data-testid=rule-form]');
    await form.locator('input[name=name]').fill('console_cpu');
    await form.locator('input[name=metric]').fill('cpu_percent');
    await form.locator('select[name=operator]').selectOption('>=');
    await form.locator('input[name=threshold]').fill('abc');
    await form.locator('select[name=level]').selectOption('critical');
    await form.locator('input[name=for]').fill('30');
    await form.locator('button[type=submit]').click();
    await page.locator('[data-testid=rule-error]:not(:empty)').waitFor();
    t.match(await page.locator('[data-testid=rule-error]').textContent(), /RULE_CREATION_FAILED: .*threshold/, 'the API\'s message names the field');
    t.notOk((await getJson(`${pw.url}/api/v1/performance/alerts/rules`)).body.data.rules.some((r: { name: string }) => r.name === 'console_cpu'), 'nothing stored');

    await form.locator('input[name=threshold]').fill('95.5');
    await form.locator('button[type=submit]').click();
    await page.locator('tr[data-rule=console_cpu]').waitFor();
    const rule = (await getJson(`${pw.url}/api/v1/performance/alerts/rules`)).body.data.rules.find((r: { name: string }) => r.name === 'console_cpu');
    t.match(rule, { name: 'console_cpu', metric: 'cpu_percent', operator: 'greater_equal', threshold: 95.5, level: 'critical', for: 30, enabled: true, source: 'api' });

    // edit it: a PUT of the whole rule with the form's changes
    await page.locator('tr[data-rule=console_cpu] button', { hasText: 'Edit' }).click();
    await form.locator('input[name=threshold]').fill('97');
    await form.locator('button[type=submit]').click();
    await page.locator('tr[data-rule=console_cpu] td.num', { hasText: '97' }).first().waitFor();
    t.match((await getJson(`${pw.url}/api/v1/performance/alerts/rules/${rule.id}`)).body.data.rule, { threshold: 97, operator: 'greater_equal', level: 'critical', for: 30 });

    await page.locator('tr[data-rule=console_cpu] button', { hasText: 'Delete' }).click();
    await page.locator('dialog[open] [data-testid=confirm]').click();
    await page.locator('tr[data-rule=console_cpu]').waitFor({ state: 'detached' });
    t.equal((await getJson(`${pw.url}/api/v1/performance/alerts/rules/${rule.id}`)).status, 404, 'deleted');
    t.same(errors.filter((e) => !/status of 400/.test(e)), [], 'no errors but the 400 the bad form asked for');
  });

  t.test('an alert resolved from the Alerts page with a resolution text is resolved in the API, by "console"', async (t) => {
    const created = await fetch(`${pw.url}/api/v1/performance/alerts/rules`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'always', metric: 'load_1m', operator: '>=', threshold: 0, level: 'info' }) });
    t.equal(created.status, 200);
    const alert = await waitFor(async () => (await getJson(`${pw.url}/api/v1/performance/alerts`)).body.data.alerts.find((a: { rule_id: string }) => a.rule_id), { what: 'the alert fires' });
    const ctx = await context();
    const { page, errors } = await open(ctx, `${pw.url}/#/alerts/active`);
    await page.locator('[data-testid=alerts-table] button', { hasText: 'Resolve' }).first().click();
    await page.locator('dialog[open] textarea').fill('restarted the noisy job');
    await page.locator('dialog[open] [data-testid=confirm]').click();
    const resolved = await waitFor(async () => (await getJson(`${pw.url}/api/v1/performance/alerts?resolved=true`)).body.data.alerts.find((a: { id: string; status: string }) => a.id === alert.id && a.status === 'resolved'), { what: 'resolved' });
    t.match(resolved, { resolution: 'restarted the noisy job', resolved_by: 'console' });
    t.same(errors, []);
  });

  t.test('a wrong token gets a clear message; without one, admin views say they need it', async (t) => {
    const ctx = await context({ token: 'wrong-token-0123456789' });
    const { page } = await open(ctx, `${pw.url}/#/plugins/alpha`);
    const banner = page.locator('[data-testid=auth-error]');
    await banner.waitFor();
    t.match(await banner.textContent(), /The admin token was refused: the admin token is not valid\. Enter the token from PERFWATCH_ADMIN_TOKEN/);
    t.equal((await getJson(`${pw.url}/plugin/status?plugin_id=alpha`)).body.status, 'running');

    const anon = await context({ token: null });
    const { page: p2 } = await open(anon, `${pw.url}/#/plugins/alpha`);
    await p2.locator('[data-testid=needs-token]').first().waitFor();
    t.match(await p2.locator('[data-testid=needs-token]').first().textContent(), /needs the admin token/);
    // entering the right token through the header loads the views
    await p2.getByRole('button', { name: 'Admin token' }).click();
    await p2.locator('input[name=token]').fill(TOKEN);
    await p2.keyboard.press('Enter');
    await p2.locator('[data-testid=plugin-chart]').waitFor();
    // each view reloads on its own: wait for the last notice to go, then check none is left
    await p2.locator('[data-testid=needs-token]').first().waitFor({ state: 'detached', timeout: 10_000 });
    t.equal(await p2.locator('[data-testid=needs-token]').count(), 0, 'the notices are gone');
  });

  t.test('the Chinese locale: picked from the browser language, every visible word translated', async (t) => {
    const ctx = await context({ locale: 'zh-CN' });
    const { page, errors } = await open(ctx, `${pw.url}/#/plugins`);
    await page.locator('tr[data-plugin=alpha]').waitFor();
    t.equal(await page.evaluate(() => (globalThis as any).document.documentElement.lang), 'zh-CN');
    t.same(await page.locator('header nav a').allTextContents(), ['概览', '插件', '告警', '报告', '性能剖析', '系统']);
    t.match(await page.locator('thead').textContent(), /插件.*状态.*健康/);
    t.match(await page.locator('tr[data-plugin=alpha] [data-testid=status]').textContent(), /运行中/);
    // the switch is kept for the next visit
    await page.locator('header select').selectOption('en');
    t.same(await page.locator('header nav a').allTextContents(), ['Overview', 'Plugins', 'Alerts', 'Reports', 'Profiling', 'System']);
    await page.reload();
    await page.locator('header nav a').first().waitFor();
    t.equal(await page.locator('header nav a').first().textContent(), 'Overview');
    t.same(errors, []);
  });

  t.test('reports: created from the form, listed, ready, downloadable', async (t) => {
    const ctx = await context();
    const { page, errors } = await open(ctx, `${pw.url}/#/reports`);
    const form = page.locator('[data-testid=report-form]');
    await form.locator('select').nth(0).selectOption('summary');
    await form.locator('select').nth(1).selectOption('1h');
    await form.locator('select').nth(2).selectOption('json');
    await form.locator('button[type=submit]').click();
    await page.locator('[data-testid=flash]', { hasText: /Report report_\w+ queued/ }).waitFor();
    const row = page.locator('tr[data-report]').first();
    await row.locator('.badge', { hasText: 'ready' }).waitFor({ timeout: 30_000 });
    const id = await row.getAttribute('data-report');
    const [download] = await Promise.all([page.waitForEvent('download'), row.locator('button', { hasText: 'Download' }).click()]);
    t.match(download.suggestedFilename(), new RegExp(`^perfwatch-summary-.*-${id}\\.json$`));
    const file = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    t.equal(file.report_id, id, 'the file is the report asked for');
    t.same(errors, []);
  });

  t.test('profiling: a route\'s statistics, its records, a record\'s call tree in order with its times', async (t) => {
    const ctx = await context();
    const { page, errors } = await open(ctx, `${pw.url}/#/profiling`);
    const row = page.locator('tr[data-route="GET /api/users/:id"]');
    await row.waitFor();
    t.same(await row.locator('td').allTextContents(), ['shop', 'GET /api/users/:id', '1', '0.02/min', '0.0 %', '12.00', '12.00', '12.00', '12.00'], 'count, throughput, error rate, p50, p95, p99, max');
    t.same(await page.locator('[data-testid=project] option').allTextContents(), ['all', 'shop'], 'the projects that sent records');
    await page.locator('[data-testid=project]').selectOption('shop');
    // the route's CPU samples open under the table when the route is picked
    await row.locator('button').click();
    await page.locator('[data-testid=route-tree] .fname').first().waitFor();
    t.same(await page.locator('[data-testid=route-tree] .fname').allTextContents(), ['GET /api/users/:id', 'handler src/app.js:12', 'hashPassword src/auth.js:40'], 'the route flame graph, with files');
    t.match(await page.locator('[data-testid=route-profile]').textContent(), /requests 1 · samples 8 · flush windows 1/);
    await page.locator(`tr[data-record="${recordId}"]`).waitFor();
    await page.locator(`tr[data-record="${recordId}"] a`).click();
    await page.locator('[data-testid=call-tree] .fname').first().waitFor();
    t.same(await page.locator('[data-testid=call-tree] .fname').allTextContents(), ['GET /api/users/:id', 'loadUser', 'db.query', 'render'], 'the tree, depth first');
    t.match(await page.locator('[data-testid=call-tree] li li .frame').first().textContent(), /loadUser.*9\.00 ms/);
    t.same(await page.locator('[data-testid=sampled-tree] .fname').allTextContents(), ['GET /api/users/:id', 'handler src/app.js:12', 'hashPassword src/auth.js:40'], 'the record\'s CPU samples');
    t.match(await page.locator('[data-testid=samples]').textContent(), /8 samples, one every 10 ms/);
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download for speedscope' }).click()]);
    t.equal(JSON.parse(readFileSync((await file.path())!, 'utf8')).$schema, 'https://www.speedscope.app/file-format-schema.json');
    // run an analysis from the page and read it (no provider here: the rules' findings)
    await page.locator('[data-testid=analyze]').click();
    await page.locator('[data-testid=findings] li').first().waitFor();
    t.match(await page.locator('[data-testid=findings]').textContent(), /repeated_calls.*db\.query is called 6 times from loadUser/);
    t.match(await page.locator('[data-testid=analysis]').textContent(), /done · none/);
    t.same(errors, []);
  });

  t.test('at phone size the pages fit the screen width', async (t) => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US' });
    t.teardown(() => ctx.close());
    await ctx.addInitScript((tk: string) => (globalThis as any).sessionStorage.setItem('perfwatch.token', tk), TOKEN);
    for (const route of ['overview', 'plugins', 'alerts/rules', 'profiling', 'system']) {
      const { page, errors } = await open(ctx, `${pw.url}/#/${route}`);
      await page.waitForTimeout(500);
      const width = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth);
      t.ok(width <= 390, `#/${route}: the page is ${width} px wide (tables scroll inside their box)`);
      t.same(errors, []);
      await page.close();
    }
  });
});
