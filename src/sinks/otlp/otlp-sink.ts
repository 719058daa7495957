import { Metadata } from '@grpc/grpc-js';
import { ValueType, type Attributes, type BatchObservableResult, type Counter, type Histogram, type Meter, type Observable } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { AppRequest, AppRouteCpu } from '../../model/app-requests.js';
import type { HostSample } from '../../model/host.js';
import { CALL_BUCKETS, type CallReport, type PluginSample, type PluginStatusView } from '../../model/plugin.js';
import type { OtlpSettings } from './otlp-settings.js';

/** One exported custom series: its OTel name, unit, attributes and value in base units. */
export interface CustomPoint {
  name: string;
  unit: string;
  attributes: Attributes;
  value: number;
}

/** What the sink reads at each export: the latest samples the collectors produced (no second collection). */
export interface OtlpSource {
  host(): HostSample | null;
  plugins(): Array<{ status: PluginStatusView; sample: PluginSample | undefined }>;
  custom(): CustomPoint[];
}

export interface OtlpSinkOptions extends OtlpSettings {
  resource: { serviceInstanceId: string; hostName: string; version: string };
  /** Data points of a failed export (collector down, slow, refusing): dropped, never retried or buffered. */
  onExport: (result: 'success' | 'failed', points: number) => void;
  onError?: (err: unknown) => void;
}

function countPoints(rm: ResourceMetrics): number {
  let n = 0;
  for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.dataPoints.length;
  return n;
}

/** Counts what each export carried and whether it arrived; a failure drops the batch (bounded memory). */
class CountingExporter implements PushMetricExporter {
  constructor(
    private inner: PushMetricExporter,
    private onExport: OtlpSinkOptions['onExport'],
    private onError?: (err: unknown) => void,
  ) {}

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    const points = countPoints(metrics);
    this.inner.export(metrics, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.onExport('success', points);
      else {
        this.onExport('failed', points);
        this.onError?.(result.error ?? new Error('OTLP export failed'));
      }
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(type: Parameters<NonNullable<PushMetricExporter['selectAggregationTemporality']>>[0]) {
    return this.inner.selectAggregationTemporality!(type);
  }
}

type Obs = Observable<Attributes>;

/**
 * OTLP push of every host, plugin and custom series, named after the OpenTelemetry semantic conventions for `system.*`
 * and `process.*` (as the Collector's hostmetrics receiver names them), with the plugin identity as attributes
 * (`perfwatch.plugin.id`, `perfwatch.plugin.name`, `process.pid`) and resource `service.name=perfwatch`,
 * `service.instance.id`, `host.name`. Values are read from the latest samples at export time; exporting never touches
 * the collectors, and a collector that is down costs one pending export (the SDK's reader exports one at a time, with a
 * timeout), its data points dropped and counted.
 */
export class OtlpSink {
  #provider: MeterProvider;
  #meter: Meter;
  #source: OtlpSource;
  #custom = new Map<string, Obs>();
  #callback: ((r: BatchObservableResult) => void) | null = null;
  #fixed: Obs[] = [];
  #g: Record<string, Obs> = {};
  #callDuration: Histogram | null = null;
  #appDuration: Histogram | null = null;
  #appCpu: Counter | null = null;
  #pluginAttributes = new Map<string, Attributes>();

  constructor(opts: OtlpSinkOptions, source: OtlpSource) {
    this.#source = source;
    const common = { url: opts.url, headers: opts.headers, timeoutMillis: opts.timeoutMs, concurrencyLimit: 2 };
    const inner: PushMetricExporter =
      opts.protocol === 'grpc'
        ? new GrpcExporter({ url: opts.url, timeoutMillis: opts.timeoutMs, metadata: grpcMetadata(opts.headers) })
        : opts.protocol === 'http/json'
          ? new JsonExporter(common)
          : new ProtoExporter(common);
    this.#provider = new MeterProvider({
      resource: resourceFromAttributes({
        'service.name': 'perfwatch',
        'service.version': opts.resource.version,
        'service.instance.id': opts.resource.serviceInstanceId,
        'host.name': opts.resource.hostName,
      }),
      readers: [
        new PeriodicExportingMetricReader({
          exporter: new CountingExporter(inner, opts.onExport, opts.onError),
          exportIntervalMillis: opts.intervalMs,
          exportTimeoutMillis: Math.min(opts.timeoutMs, opts.intervalMs),
        }),
      ],
    });
    this.#meter = this.#provider.getMeter('perfwatch', opts.resource.version);
    this.#defineFixed();
    this.#register();
  }

  #defineFixed(): void {
    const m = this.#meter;
    const gauge = (name: string, unit: string, description: string) => (this.#g[name] = m.createObservableGauge(name, { unit, description, valueType: ValueType.DOUBLE }));
    const counter = (name: string, unit: string, description: string) => (this.#g[name] = m.createObservableCounter(name, { unit, description, valueType: ValueType.DOUBLE }));
    const updown = (name: string, unit: string, description: string) => (this.#g[name] = m.createObservableUpDownCounter(name, { unit, description, valueType: ValueType.INT }));
    gauge('system.cpu.utilization', '1', 'Share of all CPUs busy over the last interval (0-1).');
    counter('system.cpu.time', 's', 'CPU seconds by mode, summed over CPUs.');
    updown('system.cpu.logical.count', '{cpu}', 'Logical CPUs.');
    gauge('system.cpu.frequency', 'Hz', 'Average CPU frequency.');
    updown('system.memory.usage', 'By', 'Memory in use by state (used, free, cached).');
    updown('system.memory.limit', 'By', 'Total memory.');
    gauge('system.memory.utilization', '1', 'Memory in use by state, as a share of the total.');
    updown('system.paging.usage', 'By', 'Swap by state (used, free).');
    updown('system.filesystem.usage', 'By', 'Filesystem space by state (used, free).');
    gauge('system.filesystem.utilization', '1', 'Used share of the filesystem (as df computes it).');
    counter('system.disk.io', 'By', 'Bytes read and written per disk.');
    counter('system.network.io', 'By', 'Bytes received and transmitted per interface.');
    counter('system.network.packets', '{packet}', 'Packets received and transmitted per interface.');
    updown('system.network.connections', '{connection}', 'TCP connections by state.');
    updown('system.process.count', '{process}', 'Processes by status.');
    gauge('system.cpu.load_average.1m', '{thread}', 'Load average over 1 minute.');
    gauge('system.cpu.load_average.5m', '{thread}', 'Load average over 5 minutes.');
    gauge('system.cpu.load_average.15m', '{thread}', 'Load average over 15 minutes.');
    gauge('process.cpu.utilization', '1', 'CPU used by the plugin process tree over the last interval; 1 = one core busy.');
    counter('process.cpu.time', 's', 'CPU seconds of the plugin process tree by mode (user, system), reaped children included.');
    updown('process.memory.usage', 'By', 'Resident memory of the plugin process tree.');
    gauge('process.memory.utilization', '1', 'Resident memory of the plugin process tree as a share of host memory.');
    updown('process.thread.count', '{thread}', 'Threads in the plugin process tree.');
    updown('perfwatch.plugin.process.count', '{process}', 'Processes in the plugin process tree.');
    updown('perfwatch.plugin.up', '1', '1 when the plugin is running, else 0; for every registered plugin.');
    counter('perfwatch.plugin.restarts', '{restart}', 'Restarts done by the restart policy.');
    gauge('perfwatch.plugin.healthy', '1', '1 when every health check of the plugin passes, else 0.');
    gauge('perfwatch.plugin.health_check.success', '1', '1 when the last run of the health check passed, else 0.');
    gauge('perfwatch.plugin.health_check.duration', 's', 'How long the last run of the health check took.');
    counter('perfwatch.plugin.calls', '{call}', 'Calls the plugin reported, by tool and outcome.');
    gauge('perfwatch.plugin.call.error_ratio', '1', 'Share of failed calls over the last service_metrics.window.');
    gauge('perfwatch.plugin.call.average_duration', 's', 'Mean call duration over the last service_metrics.window.');
    updown('perfwatch.plugin.active_connections', '{connection}', 'Active connections the plugin last reported.');
    this.#fixed = Object.values(this.#g);
    this.#callDuration = m.createHistogram('perfwatch.plugin.call.duration', {
      unit: 's',
      description: 'Duration of the calls plugins report (docs/service-metrics.md).',
      advice: { explicitBucketBoundaries: [...CALL_BUCKETS] },
    });
    // the apps' requests (request profiling) under the semantic conventions' HTTP server metric and buckets
    this.#appDuration = m.createHistogram('http.server.request.duration', {
      unit: 's',
      description: 'Duration of the requests the apps reported through @perfwatch/sdk (docs/profiling.md), by route template.',
      advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
    });
    this.#appCpu = m.createCounter('perfwatch.profiling.sampled_cpu', { unit: 's', description: 'CPU time the apps\' samplers saw in each route (samples × interval).', valueType: ValueType.DOUBLE });
  }

  /** (Re-)registers the one batch callback over the fixed instruments and the custom ones known so far. */
  #register(): void {
    if (this.#callback) this.#meter.removeBatchObservableCallback(this.#callback, [...this.#fixed, ...this.#custom.values()]);
    this.#callback = (r) => this.#observe(r);
    this.#meter.addBatchObservableCallback(this.#callback, [...this.#fixed, ...this.#custom.values()]);
  }

  /** Called each collection cycle: creates instruments for custom metrics that appeared. Cheap when none did. */
  refreshCustom(): void {
    let added = false;
    for (const p of this.#source.custom()) {
      if (this.#custom.has(p.name)) continue;
      this.#custom.set(p.name, this.#meter.createObservableGauge(p.name, { unit: p.unit, description: 'Custom metric ingested through the API.', valueType: ValueType.DOUBLE }));
      added = true;
    }
    if (added) this.#register();
  }

  #observe(r: BatchObservableResult): void {
    const g = this.#g;
    const h = this.#source.host();
    if (h) {
      r.observe(g['system.cpu.utilization']!, h.cpu.percent / 100);
      for (const [mode, s] of Object.entries(h.cpu.secondsByMode)) r.observe(g['system.cpu.time']!, s, { 'cpu.mode': mode });
      r.observe(g['system.cpu.logical.count']!, h.cpu.cores);
      if (h.cpu.frequencyMhz !== null) r.observe(g['system.cpu.frequency']!, h.cpu.frequencyMhz * 1e6);
      const mem = h.memory;
      r.observe(g['system.memory.usage']!, mem.used, { 'system.memory.state': 'used' });
      r.observe(g['system.memory.usage']!, mem.free, { 'system.memory.state': 'free' });
      r.observe(g['system.memory.usage']!, mem.cached, { 'system.memory.state': 'cached' });
      r.observe(g['system.memory.limit']!, mem.total);
      if (mem.total > 0) r.observe(g['system.memory.utilization']!, mem.used / mem.total, { 'system.memory.state': 'used' });
      r.observe(g['system.paging.usage']!, mem.swapTotal - mem.swapFree, { 'system.paging.state': 'used' });
      r.observe(g['system.paging.usage']!, mem.swapFree, { 'system.paging.state': 'free' });
      for (const f of h.filesystems) {
        const a = { 'system.device': f.device, 'system.filesystem.mountpoint': f.mountpoint, 'system.filesystem.type': f.fstype };
        r.observe(g['system.filesystem.usage']!, f.usedBytes, { ...a, 'system.filesystem.state': 'used' });
        r.observe(g['system.filesystem.usage']!, f.availBytes, { ...a, 'system.filesystem.state': 'free' });
        r.observe(g['system.filesystem.utilization']!, f.percent / 100, a);
      }
      for (const d of h.disks) {
        r.observe(g['system.disk.io']!, d.readBytes, { 'system.device': d.device, 'disk.io.direction': 'read' });
        r.observe(g['system.disk.io']!, d.writtenBytes, { 'system.device': d.device, 'disk.io.direction': 'write' });
      }
      for (const n of h.network.devices) {
        const rx = { 'network.interface.name': n.device, 'network.io.direction': 'receive' };
        const tx = { 'network.interface.name': n.device, 'network.io.direction': 'transmit' };
        r.observe(g['system.network.io']!, n.rxBytes, rx);
        r.observe(g['system.network.io']!, n.txBytes, tx);
        r.observe(g['system.network.packets']!, n.rxPackets, rx);
        r.observe(g['system.network.packets']!, n.txPackets, tx);
      }
      for (const [state, n] of Object.entries(h.tcp)) r.observe(g['system.network.connections']!, n, { 'network.transport': 'tcp', 'network.connection.state': state });
      r.observe(g['system.process.count']!, h.processes.running, { 'process.status': 'running' });
      r.observe(g['system.process.count']!, h.processes.sleeping, { 'process.status': 'sleeping' });
      r.observe(g['system.process.count']!, h.processes.zombie, { 'process.status': 'defunct' });
      r.observe(g['system.cpu.load_average.1m']!, h.load.load1);
      r.observe(g['system.cpu.load_average.5m']!, h.load.load5);
      r.observe(g['system.cpu.load_average.15m']!, h.load.load15);
    }
    for (const { status, sample } of this.#source.plugins()) {
      const a: Attributes = { 'perfwatch.plugin.id': status.id, 'perfwatch.plugin.name': status.name, 'perfwatch.plugin.version': status.version };
      r.observe(g['perfwatch.plugin.up']!, status.state === 'running' ? 1 : 0, a);
      r.observe(g['perfwatch.plugin.restarts']!, status.restarts, a);
      r.observe(g['perfwatch.plugin.healthy']!, status.health.status === 'healthy' ? 1 : 0, { ...a, 'perfwatch.plugin.health': status.health.status });
      for (const c of status.health.checks) {
        if (!c.last) continue;
        const ca = { ...a, 'perfwatch.health_check.name': c.name, 'perfwatch.health_check.type': c.type, 'perfwatch.health_check.role': c.role };
        r.observe(g['perfwatch.plugin.health_check.success']!, c.last.ok ? 1 : 0, ca);
        r.observe(g['perfwatch.plugin.health_check.duration']!, c.last.durationMs / 1000, ca);
      }
      this.#pluginAttributes.set(status.id, a);
      const sv = status.service;
      if (sv) {
        for (const t of sv.tools) {
          r.observe(g['perfwatch.plugin.calls']!, t.ok, { ...a, 'perfwatch.plugin.tool': t.tool, outcome: 'ok' });
          r.observe(g['perfwatch.plugin.calls']!, t.failed, { ...a, 'perfwatch.plugin.tool': t.tool, outcome: 'error', 'error.type': 'tool_error' });
        }
        if (sv.window.errorRatio !== null) r.observe(g['perfwatch.plugin.call.error_ratio']!, sv.window.errorRatio, a);
        if (sv.window.averageSeconds !== null) r.observe(g['perfwatch.plugin.call.average_duration']!, sv.window.averageSeconds, a);
        if (sv.activeConnections !== null) r.observe(g['perfwatch.plugin.active_connections']!, sv.activeConnections, a);
      }
      if (!sample) continue;
      const pa = { ...a, 'process.pid': sample.pid };
      r.observe(g['process.cpu.utilization']!, sample.cpuPercent / 100, pa);
      r.observe(g['process.cpu.time']!, sample.cpuUserSeconds, { ...pa, 'cpu.mode': 'user' });
      r.observe(g['process.cpu.time']!, sample.cpuSystemSeconds, { ...pa, 'cpu.mode': 'system' });
      r.observe(g['process.memory.usage']!, sample.rssBytes, pa);
      r.observe(g['process.memory.utilization']!, sample.memoryPercent / 100, pa);
      r.observe(g['process.thread.count']!, sample.threads, pa);
      r.observe(g['perfwatch.plugin.process.count']!, sample.processes, pa);
    }
    for (const p of this.#source.custom()) {
      const inst = this.#custom.get(p.name);
      if (inst) r.observe(inst, p.value, p.attributes);
    }
  }

  /** Records each reported call in the `perfwatch.plugin.call.duration` histogram (OTel histograms are synchronous). */
  recordCalls(pluginId: string, calls: readonly CallReport[]): void {
    const a = this.#pluginAttributes.get(pluginId) ?? { 'perfwatch.plugin.id': pluginId };
    for (const c of calls) this.#callDuration!.record(c.durationMs / 1000, c.ok ? { ...a, 'perfwatch.plugin.tool': c.tool } : { ...a, 'perfwatch.plugin.tool': c.tool, 'error.type': 'tool_error' });
  }

  /** Records the apps' requests and their routes' sampled CPU (synchronous instruments, as the calls). */
  recordAppRequests(project: string, requests: readonly AppRequest[], cpu: readonly AppRouteCpu[]): void {
    for (const r of requests) this.#appDuration!.record(r.seconds, { 'perfwatch.profiling.project': project, 'http.route': r.route, 'http.request.method': r.method, 'http.response.status_code': r.status, ...(r.status >= 500 ? { 'error.type': String(r.status) } : {}) });
    for (const c of cpu) this.#appCpu!.add(c.seconds, { 'perfwatch.profiling.project': project, 'http.route': c.route, 'http.request.method': c.method });
  }

  /** Exports now (tests, shutdown). */
  flush(): Promise<void> {
    return this.#provider.forceFlush();
  }

  /** Final export, then stop; bounded by the export timeout. */
  async stop(): Promise<void> {
    await this.#provider.shutdown().catch(() => undefined);
  }
}

function grpcMetadata(headers: Record<string, string>): Metadata | undefined {
  if (!Object.keys(headers).length) return undefined;
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k.toLowerCase(), v);
  return md;
}
