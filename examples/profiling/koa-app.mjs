// A Koa app with @perfwatch/sdk (docs/profiling.md). `npm start` runs it as a plugin of examples/perfwatch.yaml; the
// SDK reads its project key and perfwatch's URL from PERFORMANCE_MONITOR_* in the plugin's environment.
import Router from '@koa/router';
import { Collector, koa } from '@perfwatch/sdk';
import Koa from 'koa';
import { load, sleep } from './load.mjs';

const collector = new Collector({ flush_interval: 2 });
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
router.post('/orders', (ctx) => {
  ctx.status = Math.random() < 0.1 ? 503 : 201;
});
app.use(router.routes());

const port = Number(process.env.PORT ?? 9481);
app.listen(port, '127.0.0.1', () => console.log(`koa example on http://127.0.0.1:${port}`));
load(`http://127.0.0.1:${port}`, ['GET /api/users/7', 'GET /api/users', 'POST /api/orders', 'GET /missing']);
process.on('SIGTERM', () => collector.shutdown().then(() => process.exit(0)));
