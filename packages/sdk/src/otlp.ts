import { randomBytes } from 'node:crypto';
import type { Frame, PerfRecord } from './index.js';

type AnyValue = { stringValue: string } | { intValue: string };
const attr = (key: string, v: string | number) => ({ key, value: (typeof v === 'number' ? { intValue: String(Math.round(v)) } : { stringValue: v }) as AnyValue });
const nanos = (ms: number) => `${BigInt(Math.round(ms * 1000)) * 1000n}`;

// a span's frame leaves out what perfwatch defaults to: read back as perfwatch reads it
const childrenOf = (f: Frame): Frame[] => f.children ?? [];
const callsOf = (f: Frame): number => f.calls ?? 1;
const selfTime = (f: Frame): number => f.self_time ?? Math.max(0, f.time - childrenOf(f).reduce((s, c) => s + c.time, 0));

/**
 * Records as an OTLP/HTTP JSON trace export (`ExportTraceServiceRequest`): the request is a SERVER span with the HTTP
 * semantic-convention attributes, each span-tree node an INTERNAL child. A node stands for all its merged calls: it
 * starts at the first call and lasts their total, with `perfwatch.calls` saying how many.
 */
export function toOtlp(records: PerfRecord[], serviceName: string): unknown {
  const spans: unknown[] = [];
  for (const r of records) {
    const traceId = randomBytes(16).toString('hex');
    const startMs = r.start_time * 1000;
    const visit = (f: Frame, parent: string | null, offsetMs: number) => {
      const spanId = randomBytes(8).toString('hex');
      const start = startMs + offsetMs;
      spans.push({
        traceId,
        spanId,
        ...(parent ? { parentSpanId: parent } : {}),
        name: parent ? f.function : `${r.method} ${r.route}`,
        kind: parent ? 1 : 2,
        startTimeUnixNano: nanos(start),
        endTimeUnixNano: nanos(start + f.time * 1000),
        attributes: parent
          ? [attr('perfwatch.calls', callsOf(f)), attr('perfwatch.self_time_ms', selfTime(f) * 1000)]
          : [attr('http.request.method', r.method), attr('http.route', r.route), attr('http.response.status_code', r.status), ...(r.path ? [attr('url.path', r.path)] : []), attr('perfwatch.cpu_time_ms', r.cpu_time_ms)],
        status: { code: !parent && r.status >= 500 ? 2 : 0 },
      });
      for (const c of childrenOf(f)) visit(c, spanId, c.start_offset_ms ?? offsetMs);
    };
    visit(r.tree.root_frame, null, 0);
  }
  return { resourceSpans: [{ resource: { attributes: [attr('service.name', serviceName), attr('telemetry.sdk.name', '@perfwatch/sdk')] }, scopeSpans: [{ scope: { name: '@perfwatch/sdk', version: '0.1.0' }, spans }] }] };
}
