// A Fastify app with @perfwatch/sdk (docs/profiling.md), run by `npm start` as a plugin of examples/perfwatch.yaml.
import { Collector, fastify as profile } from '@perfwatch/sdk';
import Fastify from 'fastify';
import { load, sleep } from './load.mjs';

const collector = new Collector({ flush_interval: 2 });
const price = collector.monitor(async function price(sku) {
  await sleep(2);
  return sku.length * 10;
});

const app = Fastify();
await app.register(profile(collector));
app.get('/quotes/:sku', async (req) => ({ price: await Promise.all([price(req.params.sku), price(`${req.params.sku}-tax`)]) }));

const port = Number(process.env.PORT ?? 9483);
await app.listen({ port, host: '127.0.0.1' });
console.log(`fastify example on http://127.0.0.1:${port}`);
load(`http://127.0.0.1:${port}`, ['GET /quotes/abc']);
process.on('SIGTERM', () => collector.shutdown().then(() => process.exit(0)));
