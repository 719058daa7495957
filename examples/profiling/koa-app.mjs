// A Koa app with @perfwatch/sdk (docs/profiling.md). `npm start` runs it as a plugin of examples/perfwatch.yaml; the
// SDK reads its project key and perfwatch's URL from PERFORMANCE_MONITOR_* in the plugin's environment.
import Router from '@koa/router';
import { Collector, koa } from '@perfwatch/sdk';
import Koa from 'koa';
import { load, sleep } from './load.mjs';

// the CPU sampler on: records of requests with enough CPU carry sampled trees, and every route gets a flame graph
const collector = new Collector({ flush_interval: 5, profiler: 'inspector', profiler_interval_ms: 5, profiler_min_samples: 3 });
const findUser = collector.monitor(async function findUser(id) {
  await sleep(3 + (id % 5)); // a database, say
  return { id, name: `user ${id}` };
});
const render = collector.monitor(function render(data) {
  return JSON.stringify(data);
});

const app = new Koa();
app.use(koa(collector));
const router = new Router({ prefix: '/api' });
router.get('/users/:id', async (ctx) => {
  ctx.body = render(await findUser(Number(ctx.params.id)));
});
router.get('/users', async (ctx) => {
  const users = [];
  for (let id = 1; id <= 5; id++) users.push(await findUser(id)); // five lookups: calls = 5 in the tree
  ctx.body = render(users);
});
// CPU-bound and not wrapped: only the sampler sees priceTable and checksum in this route's tree
function checksum(rows) {
  let h = 0;
  for (const r of rows) for (let i = 0; i < r.name.length; i++) h = (h * 31 + r.name.charCodeAt(i)) | 0;
  return h;
}
function priceTable(n) {
  const rows = [];
  for (let i = 0; i < n; i++) rows.push({ name: `item ${i}`, price: Math.round(Math.sin(i) * 1e4) / 100 });
  rows.sort((a, b) => a.price - b.price || a.name.localeCompare(b.name));
  return { rows: rows.length, cheapest: rows[0], checksum: checksum(rows) };
}
router.get('/report', (ctx) => {
  ctx.body = render(priceTable(40_000));
});
router.post('/orders', (ctx) => {
  ctx.status = Math.random() < 0.1 ? 503 : 201;
});
app.use(router.routes());

const port = Number(process.env.PORT ?? 9481);
app.listen(port, '127.0.0.1', () => console.log(`koa example on http://127.0.0.1:${port}`));
load(`http://127.0.0.1:${port}`, ['GET /api/users/7', 'GET /api/users', 'GET /api/report', 'POST /api/orders', 'GET /missing']);
process.on('SIGTERM', () => collector.shutdown().then(() => process.exit(0)));
