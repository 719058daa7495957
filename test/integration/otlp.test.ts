import * as grpc from '@grpc/grpc-js';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { auth, getJson, nodePlugin, startApp, waitFor } from '../helpers/index.js';

// The official OTLP protobuf schema (opentelemetry-proto), compiled with protobufjs, as @opentelemetry/otlp-transformer
// 0.200 shipped it: the receiver decodes what perfwatch sends with it, independently of the exporter's own encoder.
const require = createRequire(import.meta.url);
const root = require('otlp-schema/build/src/generated/root.js');
const v1 = root.opentelemetry.proto.collector.metrics.v1;
const Request = v1.ExportMetricsServiceRequest;
const Response = v1.ExportMetricsServiceResponse;

interface Point {
  metric: string;
  unit: string;
  attributes: Record<string, unknown>;
  value: number;
  time: number;
}
interface Received {
  resource: Record<string, unknown>;
  points: Point[];
}

const attrs = (list: any[] = []) => Object.fromEntries(list.map((a) => [a.key, a.value.stringValue ?? a.value.intValue ?? a.value.doubleValue ?? a.value.boolValue]));
const num = (v: unknown) => (typeof v === 'object' && v !== null && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : Number(v));

/** Flattens a decoded (protobuf.js object, or OTLP/JSON) ExportMetricsServiceRequest. */
function flatten(req: any): Received[] {
  return (req.resourceMetrics ?? []).map((rm: any) => ({
    resource: attrs(rm.resource?.attributes),
    points: (rm.scopeMetrics ?? []).flatMap((sm: any) =>
      (sm.metrics ?? []).flatMap((m: any) => {
        const data = m.gauge ?? m.sum;
        return (data?.dataPoints ?? []).map((p: any) => ({
          metric: m.name,
          unit: m.unit,
          attributes: attrs(p.attributes),
          value: p.asDouble ?? num(p.asInt),
          time: num(p.timeUnixNano) / 1e6,
        }));
      }),
    ),
  }));
}

async function httpReceiver(t: { teardown(fn: () => unknown): void }, decode: (body: Buffer, type: string) => any) {
  const got: Received[] = [];
  const types: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      types.push(`${req.url} ${req.headers['content-type']} ${req.headers['x-tenant'] ?? ''}`);
      got.push(...flatten(decode(Buffer.concat(chunks), String(req.headers['content-type']))));
      res.writeHead(200, { 'content-type': String(req.headers['content-type']) });
      res.end(String(req.headers['content-type']).includes('json') ? '{}' : Buffer.from(Response.encode(Response.create({})).finish()));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, types };
}

function pointsOf(got: Received[], name: string): Point[] {
  return got.flatMap((r) => r.points.filter((p) => p.metric === name));
}

const EXPECTED = [
  'system.cpu.utilization',
  'system.cpu.time',
  'system.cpu.logical.count',
  'system.memory.usage',
  'system.memory.limit',
  'system.memory.utilization',
  'system.filesystem.usage',
  'system.filesystem.utilization',
  'system.network.io',
  'system.process.count',
  'system.cpu.load_average.1m',
  'process.cpu.utilization',
  'process.cpu.time',
  'process.memory.usage',
  'process.thread.count',
  'perfwatch.plugin.up',
  'perfwatch.plugin.restarts',
  'perfwatch.custom.api_latency',
];

t.test('OTLP http/protobuf: names, units, attributes and values decoded with the official schema', async (t) => {
  const rx = await httpReceiver(t, (body) => Request.toObject(Request.decode(body), { longs: Number }));
  const pw = await startApp(t, {
    collection: { interval: '250ms' },
    otlp: { endpoint: rx.url, interval: '1s', headers: { 'x-tenant': 'team-a' } },
    plugins: [nodePlugin('echo', 'hold-memory.cjs', { env: { MEGABYTES: '20' }, start_grace: '100ms' })],
  });
  await fetch(`${pw.url}/api/v1/performance/metrics`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'api_latency', value: 150, unit: 'ms', tags: { endpoint: '/x' } }) });
  await waitFor(() => pointsOf(rx.got, 'process.memory.usage').length > 0 && pointsOf(rx.got, 'perfwatch.custom.api_latency').length > 0, { timeoutMs: 15_000, what: 'an export with plugin and custom points' });
  t.match(rx.types[0], /^\/v1\/metrics application\/x-protobuf team-a$/, 'base URL gets /v1/metrics; headers are sent');

  const last = rx.got.at(-1)!;
  t.equal(last.resource['service.name'], 'perfwatch');
  t.equal(last.resource['host.name'], hostname());
  t.match(last.resource['service.instance.id'], /\S/);
  const names = new Set(rx.got.flatMap((r) => r.points.map((p) => p.metric)));
  for (const n of EXPECTED) t.ok(names.has(n), n);

  const unit = (n: string) => pointsOf(rx.got, n)[0]!.unit;
  t.equal(unit('system.memory.usage'), 'By');
  t.equal(unit('system.cpu.utilization'), '1');
  t.equal(unit('process.cpu.time'), 's');
  t.equal(unit('perfwatch.custom.api_latency'), 's');

  const memTotal = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
  t.equal(pointsOf(rx.got, 'system.memory.limit').at(-1)!.value, memTotal, 'system.memory.limit = MemTotal');
  t.same(
    new Set(pointsOf(rx.got, 'system.memory.usage').map((p) => p.attributes['system.memory.state'])),
    new Set(['used', 'free', 'cached']),
  );
  const latency = pointsOf(rx.got, 'perfwatch.custom.api_latency').at(-1)!;
  t.equal(latency.value, 0.15, 'custom value in base units (150 ms → 0.15 s)');
  t.same(latency.attributes, { endpoint: '/x' });

  const rss = pointsOf(rx.got, 'process.memory.usage').at(-1)!;
  t.match(rss.attributes, { 'perfwatch.plugin.id': 'echo', 'perfwatch.plugin.name': 'echo', 'process.pid': Number });
  t.ok(rss.value > 20 * 1048576, `the plugin's RSS (holds 20 MiB): ${rss.value}`);
  // The export lags /plugin/metrics by up to an export interval, and a young node process's RSS still moves by a few MiB:
  // the two must agree (within 2 MiB, so MB-vs-MiB or bytes-vs-MiB mix-ups fail) once an export and a read coincide.
  let seen = '';
  const agreed = await waitFor(async () => {
    const exported = pointsOf(rx.got, 'process.memory.usage').at(-1)!.value / 1048576;
    const read = (await getJson(`${pw.url}/plugin/metrics/echo`, auth)).body.metrics.memory_mb;
    seen = `OTLP ${exported.toFixed(2)} MiB, /plugin/metrics ${read} MB`;
    return Math.abs(exported - read) < 2;
  }, { timeoutMs: 15_000, what: 'agreeing RSS' }).catch(() => false);
  t.ok(agreed, `process.memory.usage agrees with /plugin/metrics memory_mb: ${seen}`);
  t.same(new Set(pointsOf(rx.got, 'process.cpu.time').map((p) => p.attributes['cpu.mode'])), new Set(['user', 'system']));
  t.equal(pointsOf(rx.got, 'perfwatch.plugin.up').at(-1)!.value, 1);
  await waitFor(async () => /perfwatch_otlp_exports_total\{result="success"\} [1-9]/.test(await (await fetch(`${pw.url}/metrics`)).text()), { what: 'successful exports counted' });
});

t.test('OTLP http/json', async (t) => {
  const rx = await httpReceiver(t, (body) => JSON.parse(body.toString('utf8')));
  const pw = await startApp(t, { collection: { interval: '250ms' }, otlp: { endpoint: `${rx.url}/v1/metrics`, protocol: 'http/json', interval: '1s' } });
  await waitFor(() => pointsOf(rx.got, 'system.memory.limit').length > 0, { timeoutMs: 15_000, what: 'a JSON export' });
  t.match(rx.types[0], /^\/v1\/metrics application\/json/);
  t.equal(rx.got[0]!.resource['service.name'], 'perfwatch');
  t.ok(pw.otlp);
});

t.test('OTLP gRPC, to a @grpc/grpc-js server decoding with the official schema', async (t) => {
  const got: Received[] = [];
  const metadata: string[] = [];
  const server = new grpc.Server();
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: (x: any) => Buffer.from(Request.encode(x).finish()),
        requestDeserialize: (b: Buffer) => Request.toObject(Request.decode(b), { longs: Number }),
        responseSerialize: (x: any) => Buffer.from(Response.encode(x).finish()),
        responseDeserialize: (b: Buffer) => Response.decode(b),
      },
    } as grpc.ServiceDefinition,
    {
      Export: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
        got.push(...flatten(call.request));
        metadata.push(String(call.metadata.get('x-tenant')[0] ?? ''));
        cb(null, Response.create({}));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  t.teardown(() => server.forceShutdown());
  await startApp(t, { collection: { interval: '250ms' }, otlp: { endpoint: `http://127.0.0.1:${port}`, protocol: 'grpc', interval: '1s', headers: { 'x-tenant': 'team-b' } } });
  await waitFor(() => pointsOf(got, 'system.cpu.utilization').length > 0, { timeoutMs: 15_000, what: 'a gRPC export' });
  t.equal(got[0]!.resource['service.name'], 'perfwatch');
  t.equal(metadata[0], 'team-b', 'headers go as gRPC metadata');
  const util = pointsOf(got, 'system.cpu.utilization')[0]!.value;
  t.ok(util >= 0 && util <= 1, `utilization is a ratio: ${util}`);
});

t.test('a collector that is down costs dropped points, counted, and never stops collection', async (t) => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const pw = await startApp(t, { collection: { interval: '200ms' }, otlp: { endpoint: `http://127.0.0.1:${port}`, interval: '1s', timeout: '500ms' } });
  const text = await waitFor(
    async () => {
      const body = await (await fetch(`${pw.url}/metrics`)).text();
      // both counters: /metrics renders one family at a time, so one scrape can fall between the two increments
      return /perfwatch_otlp_exports_total\{result="failed"\} [1-9]/.test(body) && /perfwatch_samples_dropped_total\{sink="otlp",reason="export_failed"\} [1-9]/.test(body) ? body : null;
    },
    { timeoutMs: 15_000, what: 'a failed export counted, and its points counted as dropped' },
  );
  t.match(text, /perfwatch_samples_dropped_total\{sink="otlp",reason="export_failed"\} [1-9]/);
  const before = Date.now();
  await pw.nextTick();
  await pw.nextTick();
  t.ok(Date.now() - before < 2000, 'collection keeps its pace');
});
