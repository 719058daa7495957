import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { WebSocket } from 'ws';
import { WsHub } from '../../src/sinks/ws/hub.js';
import { auth, nodePlugin, startApp } from '../helpers/index.js';
import { connect } from '../helpers/ws.js';

t.test('metric_update within two intervals, system_change on plugin state, subscribe narrows', async (t) => {
  const pw = await startApp(t, { collection: { interval: '300ms' }, plugins: [nodePlugin('p', 'idle.cjs', { autostart: false })] });
  const wsUrl = `${pw.url.replace('http', 'ws')}/ws/performance`;
  const a = await connect(wsUrl);
  t.teardown(() => a.ws.terminate());
  const t0 = Date.now();
  const m = await a.next((x) => x.type === 'metric_update' && x.metric.source === 'host', 700);
  t.ok(Date.now() - t0 <= 700, 'within two intervals');
  t.same(Object.keys(m).sort(), ['metric', 'timestamp', 'type']);
  t.type(m.metric.cpu.percent, 'number');
  t.type(m.metric.memory.total, 'number');

  await fetch(`${pw.url}/plugin/p/start`, { method: 'POST', headers: auth });
  const change = await a.next((x) => x.type === 'system_change' && x.change.plugin_id === 'p' && x.change.status === 'starting');
  t.same(change.change, { kind: 'plugin_state', plugin_id: 'p', status: 'starting', previous: 'stopped' });
  const pm = await a.next((x) => x.type === 'metric_update' && x.metric.source === 'plugins');
  t.equal(pm.metric.plugins[0].plugin_id, 'p');
  for (const k of ['cpu_percent', 'memory_mb', 'memory_percent']) {
    t.equal(pm.metric.plugins[0][k], Math.round(pm.metric.plugins[0][k] * 100) / 100, `${k} rounded to two decimals like /plugin/metrics`);
  }

  a.ws.send(JSON.stringify({ type: 'subscribe', events: ['system_change'] }));
  await a.next((x) => x.type === 'subscribed');
  const mark = a.messages.length;
  await pw.nextTick();
  await pw.nextTick();
  t.notOk(a.messages.slice(mark).some((x) => x.type === 'metric_update'), 'no metric_update after subscribing to system_change only');
  a.ws.send('not json');
  t.equal((await a.next((x) => x.type === 'error')).error.code, 'INVALID_JSON');
  a.ws.send(JSON.stringify({ type: 'subscribe', events: ['bogus'] }));
  t.equal((await a.next((x) => x.type === 'error' && x.error.code === 'INVALID_PARAMETER')).error.code, 'INVALID_PARAMETER');

  const refused = await new Promise<string>((resolve) => {
    const ws = new WebSocket(`${pw.url.replace('http', 'ws')}/ws/other`);
    ws.on('open', () => resolve('opened'));
    ws.on('error', (err) => resolve(String(err.message)));
  });
  t.match(refused, /404/, 'an upgrade on any other path is refused with 404');
});

t.test('a client that never reads is dropped with 1008 while another keeps receiving', async (t) => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const drops: string[] = [];
  const hub = new WsHub(server, { path: '/ws/performance', maxClients: 10, maxBufferedBytes: 256 * 1024, pingIntervalMs: 60_000, onDrop: (r) => drops.push(r) });
  t.teardown(async () => {
    await hub.close();
    server.close();
  });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws/performance`;
  const reader = await connect(url);
  const stalled = await connect(url);
  t.teardown(() => (reader.ws.terminate(), stalled.ws.terminate()));
  const closed = new Promise<number>((resolve) => stalled.ws.on('close', (code) => resolve(code)));
  // the stalled client stops reading its socket: kernel buffers fill, then perfwatch's queue for it
  (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const payload = 'x'.repeat(64 * 1024);
  let sent = 0;
  for (let i = 0; i < 400 && hub.size === 2; i++) {
    hub.broadcast('metric_update', { metric: { i, payload } });
    sent++;
    await new Promise((r) => setImmediate(r));
  }
  t.equal(hub.size, 1, `the stalled client was dropped after ${sent} messages (${((sent * 64) / 1024).toFixed(1)} MiB)`);
  t.same(drops, ['slow_consumer']);
  hub.broadcast('metric_update', { metric: { i: 'after' } });
  const last = await reader.next((m) => m.metric?.i === 'after');
  t.ok(last, 'the reading client still gets every message');
  t.equal(reader.messages.filter((m) => m.type === 'metric_update').length, sent + 1, 'none lost for the reader');
  (stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  t.equal(await closed, 1008, 'closed with 1008 (policy violation)');
});
