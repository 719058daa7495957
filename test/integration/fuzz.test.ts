import fc from 'fast-check';
import t from 'tap';
import { auth, nodePlugin, startApp } from '../helpers/index.js';

/**
 * Every route, driven with generated bad input (fast-check, fixed seed, bounded runs): the answer is never a 5xx, a
 * 4xx always carries a code, no body leaks a stack trace or a source path, and a rejected request changes no state.
 */

const SEED = 20261202;
const RUNS_PER_ROUTE = 40;

interface Route {
  method: string;
  path: string;
}

const weirdString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', '', ' ', '-1', '0', '1e308', 'NaN', 'null', '[]', '{}', '../../etc/passwd', '%00', '\u0000', 'x'.repeat(5000), '💥', 'a,b,,c', '9'.repeat(30)),
);
const weirdJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(weirdString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 }),
  fc.record({ name: weirdString, value: fc.oneof(fc.double(), fc.string(), fc.constant(null)), unit: weirdString, tags: fc.dictionary(weirdString, fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }),
  fc.record({ metrics: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }) }),
  fc.record({ name: weirdString, metric: weirdString, operator: weirdString, threshold: fc.jsonValue(), level: weirdString, selector: fc.dictionary(weirdString, fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }),
);
const body = fc.oneof(
  weirdJson.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', '{', '{"__proto__": {"x": 1}}', '[1,2', 'null', '\uFEFF{}', '{"a":1,"a":2}', '{"name":"x","value":1e999}'),
);
const query = fc.dictionary(fc.oneof(fc.constantFrom('minutes', 'interval', 'metrics', 'period', 'level', 'type', 'resolved', 'limit', 'plugin_id', 'start', 'end'), weirdString), fc.oneof(weirdString, fc.array(weirdString, { minLength: 2, maxLength: 3 })), { maxKeys: 4 });

// mostly with the token, so bad input reaches the handlers rather than stopping at the 401
const withToken = fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 });

function routesOf(routers: Array<{ stack: Array<{ methods: string[]; path: string | RegExp }> }>): Route[] {
  const out: Route[] = [];
  for (const r of routers) for (const layer of r.stack) for (const method of layer.methods) if (method !== 'HEAD') out.push({ method, path: String(layer.path) });
  return out;
}

t.test('generated bad input on every route: no 5xx, a code on every 4xx, no stack or path, no state change when rejected', async (t) => {
  const pw = await startApp(t, { collection: { interval: '500ms' }, plugins: [nodePlugin('p', 'idle.cjs')] });
  await pw.nextTick();
  const state = () =>
    JSON.stringify({
      rules: pw.alerts.rules.map((r) => [r.id, r.name, r.enabled, r.threshold]),
      series: [...pw.store.entries()].filter(([, s]) => s.meta.kind === 'custom').map(([k]) => k).sort(),
      plugins: pw.supervisor.list().map((p) => [p.id, p.pid, p.definition.enabled]),
    });
  const routes = routesOf(pw.routers as never).filter((r) => !(r.path === '/plugin/:plugin_id/stop' || r.path === '/plugin/:plugin_id/reload')); // both would really stop p when given its id
  t.ok(routes.length >= 20, `${routes.length} routes`);
  let requests = 0;
  const statuses = new Map<number, number>();
  for (const route of routes) {
    await fc.assert(
      fc.asyncProperty(fc.array(weirdString, { minLength: 3, maxLength: 3 }), query, body, withToken, fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', ''), async (params, q, text, withAuth, type) => {
        let i = 0;
        const p = route.path.replace(/:[a-z_]+/g, () => encodeURIComponent(params[i++]!.replace(/^p$/, 'p_')) || 'x');
        const search = new URLSearchParams();
        for (const [k, v] of Object.entries(q)) for (const x of [v].flat()) search.append(k, x);
        const hasBody = route.method !== 'GET' && route.method !== 'DELETE';
        const headers: Record<string, string> = { ...(withAuth ? auth : {}), ...(type && hasBody ? { 'content-type': type } : {}) };
        const before = hasBody || route.method === 'DELETE' ? state() : '';
        const res = await fetch(`${pw.url}${p}?${search}`, { method: route.method, headers, body: hasBody ? text : undefined });
        const raw = await res.text();
        requests++;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const where = `${route.method} ${p}?${search} ${JSON.stringify(text).slice(0, 120)}`;
        if (res.status >= 500) throw new Error(`${res.status} on ${where}: ${raw.slice(0, 300)}`);
        if (/\bat .*\.(ts|js):\d+|\/work\/|node_modules|src\//.test(raw)) throw new Error(`a stack or path leaked on ${where}: ${raw.slice(0, 300)}`);
        if (res.status >= 400) {
          const b = JSON.parse(raw) as { code?: string; error?: { code?: string } };
          if (!(b.code ?? b.error?.code)) throw new Error(`${res.status} without a code on ${where}: ${raw.slice(0, 200)}`);
          if (before && state() !== before) throw new Error(`a rejected ${where} (${res.status}) changed state`);
        }
      }),
      { seed: SEED, numRuns: RUNS_PER_ROUTE, endOnFailure: true },
    );
  }
  t.ok(requests >= routes.length * RUNS_PER_ROUTE, `${requests} requests`);
  t.ok([...statuses.keys()].some((s) => s >= 400 && s < 500), `answers by status: ${JSON.stringify(Object.fromEntries(statuses))}`);
});
