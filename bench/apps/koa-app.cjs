// The Koa workload of bench/profiling.bench.ts: GET /items/:id validates, awaits a lookup and renders, three
// functions; WORK=n makes the lookup spend n rounds of arithmetic (0: the minimal app). MODE=bare runs them plain;
// MODE=sdk wraps them with @perfwatch/sdk (and its middleware) sending to perfwatch at PERFWATCH_COLLECT; MODE=sampler
// is sdk with the CPU sampler on (10 ms, 5 s flush); MODE=otel is bare code under otel-preload.cjs. Prints "ready <port>".
const http = require('node:http');
const Koa = require('koa');
const Router = require('@koa/router');

async function main() {
  const mode = process.env.MODE ?? 'bare';
  let wrap = (fn) => fn;
  const app = new Koa();
  const work = Number(process.env.WORK ?? 0);
  if (mode === 'sdk' || mode === 'sampler') {
    const { Collector, koa } = await import('@perfwatch/sdk');
    const profiler = mode === 'sampler' ? { profiler: 'inspector', profiler_interval_ms: 10, flush_interval: 5 } : { flush_interval: 1 };
    const collector = new Collector({ project_key: process.env.PROJECT_KEY, api_endpoint: process.env.PERFWATCH_COLLECT, batch_size: 500, ...profiler }, {});
    wrap = (fn) => collector.monitor(fn);
    app.use(koa(collector));
    // the SDK's own account (sent, dropped, refused) for the bench, after the last flush
    process.on('SIGTERM', () => collector.shutdown().then(() => process.stdout.write(`stats ${JSON.stringify(collector.stats())}\n`, () => process.exit(0))));
  } else process.on('SIGTERM', () => process.exit(0));
  const validate = wrap(function validate(id) {
    if (!/^\d+$/.test(id)) throw Object.assign(new Error('bad id'), { status: 400 });
    return Number(id);
  });
  const lookup = wrap(async function lookup(id) {
    await Promise.resolve();
    let price = id;
    for (let i = 0; i < work; i++) price = (price * 31 + i) % 1000003;
    return { id, name: `item ${id}`, price, tags: ['a', 'b', 'c'] };
  });
  const render = wrap(function render(item) {
    return JSON.stringify(item);
  });
  const router = new Router();
  router.get('/items/:id', async (ctx) => {
    ctx.type = 'json';
    ctx.body = render(await lookup(validate(ctx.params.id)));
  });
  app.use(router.routes());
  const server = http.createServer(app.callback()).listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
}
main();
