import t from 'tap';
import { bucketIndex, CALL_BUCKETS, quantile, ServiceMetrics } from '../../../src/store/service-metrics.js';

t.test('buckets and quantiles as Prometheus reads them', async (t) => {
  t.equal(bucketIndex(0), 0);
  t.equal(bucketIndex(0.005), 0, 'le is inclusive');
  t.equal(bucketIndex(0.0051), 1);
  t.equal(bucketIndex(10), CALL_BUCKETS.length - 1);
  t.equal(bucketIndex(11), CALL_BUCKETS.length, '+Inf');
  const b = new Array(CALL_BUCKETS.length + 1).fill(0);
  t.equal(quantile(0.95, b), null, 'no calls, no quantile');
  b[bucketIndex(0.3)] = 100; // all in (0.25, 0.5]
  t.equal(quantile(0.5, b), 0.375, 'interpolated inside the bucket');
  b[CALL_BUCKETS.length] = 100;
  t.equal(quantile(0.99, b), 10, 'the +Inf bucket answers its lower bound');
});

t.test('totals, the window, the tool cap, last error and consecutive failures', async (t) => {
  const now = { ms: 1_000_000 };
  const m = new ServiceMetrics({ maxTools: 2, windowMs: 10_000, clock: { now: () => now.ms } });
  const seen: number[] = [];
  m.onCalls((_id, calls) => seen.push(calls.length));
  t.equal(m.snapshot('p'), null);
  m.record('p', { calls: [{ tool: 'a', durationMs: 100, ok: true }, { tool: 'b', durationMs: 300, ok: false, error: 'boom' }], activeConnections: 4, tools: ['a', 'b', 'b', 'c'] });
  let s = m.snapshot('p')!;
  t.match(s, { totalCalls: 2, failedCalls: 1, consecutiveFailures: 1, activeConnections: 4, declaredTools: ['a', 'b', 'c'], lastError: { message: 'boom', tool: 'b' } });
  t.equal(s.window.errorRatio, 0.5);
  t.equal(s.window.averageSeconds, 0.2);
  t.equal(s.window.perSecond, 0.2, '2 calls over a 10 s window');
  m.record('p', { calls: [{ tool: 'c', durationMs: 1, ok: true }, { tool: 'd', durationMs: 1, ok: true }] });
  s = m.snapshot('p')!;
  t.same(s.tools.map((x) => x.tool), ['a', 'b', 'other'], 'past two tools: other');
  t.equal(s.tools[2]!.ok, 2);
  t.equal(s.consecutiveFailures, 0, 'a success resets consecutive failures');
  now.ms += 9_000;
  t.equal(m.snapshot('p')!.window.calls, 4, 'still in the window');
  now.ms += 1_000;
  s = m.snapshot('p')!;
  t.equal(s.window.calls, 0, 'out of the window');
  t.equal(s.window.errorRatio, null);
  t.equal(s.totalCalls, 4, 'totals stay');
  m.record('p', { calls: [], activeConnections: 0 });
  t.equal(m.snapshot('p')!.activeConnections, 0, 'a report of gauges alone');
  t.same(seen, [2, 2], 'listeners see each batch of calls');
});
