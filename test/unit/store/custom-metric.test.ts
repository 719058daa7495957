import t from 'tap';
import { promLabelFor, promNameFor, SampleError, seriesKey, validateSample } from '../../../src/store/custom-metric.js';

t.test('name and unit mapping', async (t) => {
  const cases: Array<[string, string, string, number]> = [
    ['custom_api_calls', 'count', 'perfwatch_custom_custom_api_calls', 1],
    ['api_response_time', 'ms', 'perfwatch_custom_api_response_time_seconds', 0.001],
    ['api_response_time_ms', 'ms', 'perfwatch_custom_api_response_time_seconds', 0.001],
    ['heap', 'MB', 'perfwatch_custom_heap_bytes', 1048576],
    ['cacheHitRate', '%', 'perfwatch_custom_cache_hit_rate_ratio', 0.01],
    ['api_requests_count', 'count', 'perfwatch_custom_api_requests_count_value', 1],
    ['jobs_total', '', 'perfwatch_custom_jobs_total_value', 1],
    ['request_counter', 'count', 'perfwatch_custom_request', 1],
    ['queue_length', 'items', 'perfwatch_custom_queue_length', 1],
    ['uptime_seconds', 's', 'perfwatch_custom_uptime_seconds', 1],
    ['ms', 'ms', 'perfwatch_custom_value_seconds', 0.001],
  ];
  for (const [name, unit, expected, factor] of cases) t.same(promNameFor(name, unit), { name: expected, factor }, `${name} [${unit}]`);
});

t.test('labels', async (t) => {
  t.equal(promLabelFor('endpoint'), 'endpoint');
  t.equal(promLabelFor('serviceName'), 'service_name');
  for (const k of ['le', 'quantile', 'job', 'instance']) t.equal(promLabelFor(k), `tag_${k}`);
  t.equal(promLabelFor('__name'), 'tag_name');
});

t.test('validation names the field', async (t) => {
  const ok = validateSample({ name: 'x', value: 1.5, unit: 'ms', category: 'performance', tags: { a: 'b' } });
  t.same(ok, { name: 'x', value: 1.5, unit: 'ms', category: 'performance', tags: { a: 'b' } });
  t.same(validateSample({ name: 'y', value: 0 }), { name: 'y', value: 0, unit: '', category: '', tags: {} });
  const bad: Array<[unknown, string, string]> = [
    [{ name: 'x', value: 'NaN' }, 'INVALID_METRIC_VALUE', 'value'],
    [{ name: 'x', value: Number.NaN }, 'INVALID_METRIC_VALUE', 'value'],
    [{ name: 'x', value: Number.POSITIVE_INFINITY }, 'INVALID_METRIC_VALUE', 'value'],
    [{ name: 'x', value: 1e308, unit: 'GB' }, 'INVALID_METRIC_VALUE', 'value'], // would be exported as +Inf bytes
    [{ name: '__proto__', value: 1 }, 'INVALID_METRIC', 'name'],
    [{ name: '__x', value: 1 }, 'INVALID_METRIC', 'name'],
    [{ name: 'x' }, 'INVALID_METRIC_VALUE', 'value'],
    [{ name: '1x', value: 1 }, 'INVALID_METRIC', 'name'],
    [{ name: 'a-b', value: 1 }, 'INVALID_METRIC', 'name'],
    [{ name: 'x'.repeat(201), value: 1 }, 'INVALID_METRIC', 'name'],
    [{ name: 'x', value: 1, tags: { 'bad key': 'v' } }, 'INVALID_METRIC', 'tags.bad key'],
    [{ name: 'x', value: 1, tags: { k: 5 } }, 'INVALID_METRIC', 'tags.k'],
    [{ name: 'x', value: 1, tags: { k: { nested: 'x' } } }, 'INVALID_METRIC', 'tags.k'],
    [{ name: 'x', value: 1, tags: ['a'] }, 'INVALID_METRIC', 'tags'],
    [{ name: 'x', value: 1, tags: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, 'INVALID_METRIC', 'tags'],
    [{ name: 'x', value: 1, unit: 7 }, 'INVALID_METRIC', 'unit'],
    [{ name: 'x', value: 1, extra: true }, 'INVALID_METRIC', 'extra'],
    [[1, 2], 'INVALID_METRIC', 'body'],
  ];
  for (const [body, code, field] of bad) {
    const err = (() => {
      try {
        validateSample(body);
        return null;
      } catch (e) {
        return e as SampleError;
      }
    })();
    t.type(err, SampleError, JSON.stringify(body).slice(0, 60));
    t.equal(err?.code, code);
    t.equal(err?.field, field);
  }
});

t.test('series identity ignores tag order', async (t) => {
  t.equal(seriesKey({ name: 'a', tags: { y: '1', x: '2' } }), seriesKey({ name: 'a', tags: { x: '2', y: '1' } }));
  t.not(seriesKey({ name: 'a', tags: {} }), seriesKey({ name: 'a', tags: { x: '' } }));
});

t.test('units are looked up as own keys: constructor and __proto__ are free-text units', async (t) => {
  t.same(promNameFor('q', 'constructor'), { name: 'perfwatch_custom_q', factor: 1 });
  t.same(promNameFor('q', 'toString'), { name: 'perfwatch_custom_q', factor: 1 });
  t.equal(validateSample({ name: 'q', value: 1e308, unit: 'constructor' }).value, 1e308);
});
