/**
 * OTLP push settings, kept apart from the sink: resolving them needs none of the OpenTelemetry and gRPC modules, which
 * add 4-6 MB of RSS on top of the rest of perfwatch and are loaded only when an endpoint is set (main.ts imports the
 * sink dynamically).
 */

export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

export interface OtlpSettings {
  /** Full metrics URL for HTTP (`…/v1/metrics`), `http(s)://host:port` for gRPC. */
  url: string;
  protocol: OtlpProtocol;
  intervalMs: number;
  timeoutMs: number;
  headers: Record<string, string>;
}

/**
 * Resolves the OTLP settings: the config's `otlp` section first, then the standard `OTEL_EXPORTER_OTLP_*` and
 * `OTEL_METRIC_EXPORT_INTERVAL` variables. Null when neither names an endpoint (OTLP push off).
 */
export function resolveOtlpSettings(
  cfg: { endpoint?: string; protocol?: OtlpProtocol; interval?: number; timeout?: number; headers?: Record<string, string> } | undefined,
  env: NodeJS.ProcessEnv,
): OtlpSettings | null {
  const protocolEnv = env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  const protocol: OtlpProtocol = cfg?.protocol ?? (protocolEnv === 'grpc' || protocolEnv === 'http/json' || protocolEnv === 'http/protobuf' ? protocolEnv : 'http/protobuf');
  let url = cfg?.endpoint ?? env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT;
  if (!url && env.OTEL_EXPORTER_OTLP_ENDPOINT) url = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!url) return null;
  if (protocol !== 'grpc') {
    // a base endpoint (no path) gets the signal path, as the OTLP exporter spec says for OTEL_EXPORTER_OTLP_ENDPOINT
    const u = new URL(url);
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/metrics';
    url = u.toString();
  }
  const headers: Record<string, string> = {};
  for (const part of (env.OTEL_EXPORTER_OTLP_METRICS_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS ?? '').split(',')) {
    const i = part.indexOf('=');
    if (i > 0) headers[decodeURIComponent(part.slice(0, i).trim())] = decodeURIComponent(part.slice(i + 1).trim());
  }
  Object.assign(headers, cfg?.headers ?? {});
  const envMs = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : undefined);
  return {
    url,
    protocol,
    intervalMs: cfg?.interval ?? envMs(env.OTEL_METRIC_EXPORT_INTERVAL) ?? 15_000,
    timeoutMs: cfg?.timeout ?? envMs(env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT) ?? 10_000,
    headers,
  };
}
