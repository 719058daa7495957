// OpenTelemetry's http and koa instrumentation, exporting to OTLP_URL (a local receiver in the bench): the peer the
// profiling bench compares @perfwatch/sdk with. Loaded with `node --require` before the app.
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { KoaInstrumentation } = require('@opentelemetry/instrumentation-koa');

const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.OTLP_URL }))] });
provider.register();
registerInstrumentations({ instrumentations: [new HttpInstrumentation(), new KoaInstrumentation()] });
