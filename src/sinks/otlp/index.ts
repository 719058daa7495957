import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Counter, type Registry } from 'prom-client';
import type { AppRequestListener } from '../../model/app-requests.js';
import type { Component } from '../../model/component.js';
import { M } from '../../model/metric-names.js';
import type { CallReport, Snapshot } from '../../model/plugin.js';
import type { Sink } from '../../pipeline/pipeline.js';
import type { CustomSeries } from '../../store/custom-series.js';
import { resolveOtlpSettings } from './otlp-settings.js';
import type { CustomPoint, OtlpSink } from './otlp-sink.js';

export interface OtlpOptions {
  config: Parameters<typeof resolveOtlpSettings>[0];
  env: NodeJS.ProcessEnv;
  version: string;
  registry: Registry;
  /** Data points of failed exports are counted as dropped here. */
  onDropped: (points: number) => void;
  custom: CustomSeries;
  /** Reported calls, for the call-duration histogram. */
  onCalls?: (fn: (pluginId: string, calls: readonly CallReport[]) => void) => void;
  /** The apps' requests (request profiling), for the HTTP server duration histogram and the routes' sampled CPU. */
  onAppRequests?: (fn: AppRequestListener) => void;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

const unitOf = (promName: string) => (promName.endsWith('_seconds') ? 's' : promName.endsWith('_bytes') ? 'By' : '1');

/**
 * The OTLP push, or null when no endpoint is configured (`otlp.endpoint` or `OTEL_EXPORTER_OTLP_*`). Its sink keeps the
 * latest snapshot, which the periodic reader observes at export time; its part loads the SDK (only then: the
 * OpenTelemetry SDK, its exporters and gRPC add 4-6 MB of RSS that an agent without OTLP does not need) and, on stop,
 * makes a final export.
 */
export function createOtlp(o: OtlpOptions): { sink: Sink; component: Component; get exporter(): OtlpSink | null } | null {
  const settings = resolveOtlpSettings(o.config, o.env);
  if (!settings) return null;
  const exports = new Counter({ name: M.otlpExportsTotal, help: 'OTLP exports by result; a failed export\'s data points are dropped (perfwatch_samples_dropped_total{sink="otlp"}).', labelNames: ['result'], registers: [o.registry] });
  exports.inc({ result: 'success' }, 0);
  exports.inc({ result: 'failed' }, 0);
  let latest: Snapshot | null = null;
  let exporter: OtlpSink | null = null;
  const sink: Sink = {
    name: 'otlp',
    onTick(s) {
      latest = s;
      exporter?.refreshCustom();
    },
  };
  o.onCalls?.((id, calls) => exporter?.recordCalls(id, calls));
  o.onAppRequests?.((project, requests, cpu) => exporter?.recordAppRequests(project, requests, cpu));
  const component: Component = {
    name: 'otlp',
    async start() {
      const { OtlpSink } = await import('./otlp-sink.js');
      o.log('info', 'OTLP push on', { url: settings.url, protocol: settings.protocol, interval_ms: settings.intervalMs });
      exporter = new OtlpSink(
        {
          ...settings,
          resource: { serviceInstanceId: o.env.PERFWATCH_INSTANCE_ID ?? `${os.hostname()}-${randomUUID().slice(0, 8)}`, hostName: os.hostname(), version: o.version },
          onExport: (result, points) => {
            exports.inc({ result });
            if (result === 'failed') o.onDropped(points);
          },
          onError: (err) => o.log('warn', 'OTLP export failed', { err: String(err) }),
        },
        {
          host: () => latest?.host ?? null,
          plugins: () => {
            const samples = new Map((latest?.plugins ?? []).map((p) => [p.pluginId, p]));
            return (latest?.statuses ?? []).map((status) => ({ status, sample: samples.get(status.id) }));
          },
          custom: () => {
            const out: CustomPoint[] = [];
            for (const c of o.custom.exported()) out.push({ name: `perfwatch.custom.${c.sourceName}`, unit: unitOf(c.promName), attributes: c.labels, value: c.value });
            return out;
          },
        },
      );
    },
    async stop() {
      await exporter?.stop();
      exporter = null;
    },
  };
  return { sink, component, get exporter() {
    return exporter;
  } };
}
