// An Express app with @perfwatch/sdk (docs/profiling.md), run by `npm start` as a plugin of examples/perfwatch.yaml.
import { Collector, express as profile } from '@perfwatch/sdk';
import express from 'express';
import { load, sleep } from './load.mjs';

const collector = new Collector({ flush_interval: 2 });
const search = collector.monitor(async function search(q) {
  await sleep(8);
  return [q];
});

const app = express();
app.use(profile(collector));
const shop = express.Router();
shop.get('/products/:id', async (req, res) => res.json(await search(req.params.id)));
app.use('/shops/:shop', shop); // the shop id is templated in the route: /shops/:param/products/:id
app.get('/health', (_req, res) => res.send('ok'));

const port = Number(process.env.PORT ?? 9482);
app.listen(port, '127.0.0.1', () => console.log(`express example on http://127.0.0.1:${port}`));
load(`http://127.0.0.1:${port}`, ['GET /shops/12/products/3', 'GET /health']);
process.on('SIGTERM', () => collector.shutdown().then(() => process.exit(0)));
