import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { PluginReporter } from '../../src/plugin-sdk/index.js';
import { freePort } from '../helpers/peers.js';

/** A perfwatch stand-in for the report route: answers with the statuses queued in `answers` (then 200), records bodies. */
async function receiver(t: { teardown(fn: () => unknown): void }) {
  const bodies: any[] = [];
  const answers: number[] = [];
  const server = createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      const status = answers.shift() ?? 200;
      if (status === 200) bodies.push({ auth: req.headers.authorization, url: req.url, ...JSON.parse(s) });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, answers };
}

t.test('outside perfwatch every call is a no-op', async (t) => {
  const r = new PluginReporter({ url: '', pluginId: '', token: '' });
  t.equal(r.enabled, false);
  r.record('x', 1, true);
  t.equal(await r.track('x', () => 42), 42, 'track still runs the function');
  await r.flush();
  t.equal(r.sent, 0);
});

t.test('batches, the token, gauges, heartbeat; track times and rethrows', async (t) => {
  const rx = await receiver(t);
  const r = new PluginReporter({ url: `${rx.url}/`, pluginId: 'my plugin', token: 'tok', flushIntervalMs: 60_000, maxBatch: 2 });
  r.declareTools(['a', 'b']);
  r.setActiveConnections(3);
  r.record('a', 5, true);
  await t.rejects(r.track('b', () => Promise.reject(new Error('nope'))), /nope/, 'the plugin sees its own error');
  r.record('a', -1, true);
  r.heartbeat('warn', 'slow disk');
  await r.close();
  t.equal(rx.bodies.length, 2, 'three calls in batches of two');
  t.equal(rx.bodies[0].auth, 'Bearer tok');
  t.equal(rx.bodies[0].url, '/plugin/my%20plugin/report');
  t.match(rx.bodies[0], { tools: ['a', 'b'], active_connections: 3, heartbeat: { status: 'warn', note: 'slow disk' } });
  t.match(rx.bodies[0].calls, [{ tool: 'a', duration_ms: 5, ok: true }, { tool: 'b', ok: false, error: 'nope' }]);
  t.same(rx.bodies[1].calls, [{ tool: 'a', duration_ms: 0, ok: true }], 'a negative duration is sent as 0');
  t.equal(rx.bodies[1].heartbeat.status, 'pass', 'a heartbeat is sent once, then pass again');
  t.equal(r.sent, 3);
});

t.test('bounded queue: drops counted and told; a 5xx keeps calls, a 4xx drops them; never throws', async (t) => {
  const rx = await receiver(t);
  const errors: string[] = [];
  const r = new PluginReporter({ url: rx.url, pluginId: 'p', token: 'tok', flushIntervalMs: 60_000, maxQueue: 3, onError: (e) => errors.push(e.message) });
  for (let i = 0; i < 5; i++) r.record('a', 1, true);
  t.equal(r.dropped, 2, 'past maxQueue');
  rx.answers.push(503);
  await r.flush();
  t.equal(r.sent, 0);
  t.match(errors, ['HTTP 503'], 'a 5xx is told, and the calls kept');
  await r.flush();
  t.equal(r.sent, 3, 'sent on the next flush');
  t.equal(rx.bodies[0].dropped_calls, 2, 'the drops go with the next report');
  r.record('a', 1, true);
  rx.answers.push(400);
  await r.flush();
  t.equal(r.dropped, 3, 'a refused report is dropped, not retried');
  r.record('a', 1, true);
  await r.flush();
  t.equal(rx.bodies.at(-1).dropped_calls, 1, 'and told');
  const down = new PluginReporter({ url: `http://127.0.0.1:${await freePort()}`, pluginId: 'p', token: 'tok', flushIntervalMs: 60_000, maxQueue: 2 });
  down.record('a', 1, true);
  down.record('a', 1, true);
  await down.flush();
  await down.flush();
  t.equal(down.sent, 0, 'an unreachable perfwatch: nothing thrown, calls kept');
  down.record('a', 1, true);
  t.equal(down.dropped, 1);
  await down.close();
});
