import t from 'tap';
import { resolveOtlpSettings } from '../../../src/sinks/otlp/otlp-settings.js';

t.test('OTLP settings: config first, then the standard OTEL_* variables', async (t) => {
  t.equal(resolveOtlpSettings(undefined, {}), null, 'off without an endpoint');
  t.same(resolveOtlpSettings({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_HEADERS: 'a=1, b=x%20y', OTEL_METRIC_EXPORT_INTERVAL: '30000', OTEL_EXPORTER_OTLP_TIMEOUT: '5000' }), {
    url: 'http://c:4318/v1/metrics',
    protocol: 'http/protobuf',
    intervalMs: 30_000,
    timeoutMs: 5000,
    headers: { a: '1', b: 'x y' },
  });
  const s = resolveOtlpSettings({ endpoint: 'http://mine:4317', protocol: 'grpc', interval: 2000, headers: { a: '2' } }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_HEADERS: 'a=1' });
  t.match(s, { url: 'http://mine:4317', protocol: 'grpc', intervalMs: 2000, timeoutMs: 10_000, headers: { a: '2' } }, 'config wins; gRPC URLs get no path');
  t.equal(resolveOtlpSettings({}, { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://c:4318/custom/path', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://other' })?.url, 'http://c:4318/custom/path', 'the signal-specific endpoint is used as is');
  t.equal(resolveOtlpSettings({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json' })?.protocol, 'http/json');
  t.equal(resolveOtlpSettings({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'bogus' })?.protocol, 'http/protobuf', 'an unknown protocol falls back to the default');
});
