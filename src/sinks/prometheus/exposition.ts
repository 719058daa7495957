import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric, type OpenMetricsContentType } from 'prom-client';
import { CALL_BUCKETS, PLUGIN_HEALTH, PLUGIN_STATES, type PluginState, type Snapshot, type ToolTotals } from '../../model/plugin.js';
import { CounterValues } from './counter-values.js';
import { M } from '../../model/metric-names.js';

const gzip = promisify(gzipCb);

export interface ExpositionOptions {
  version: string;
  /** Include prom-client's process_* and nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
}

interface Rendered {
  generation: number;
  classic: Buffer;
  classicGzip?: Promise<Buffer>;
  openMetrics?: Promise<Buffer>;
  openMetricsGzip?: Promise<Buffer>;
}

/** Plugin resource gauges: present only while the plugin has a process and a sample. */
type ResourceGauge = Gauge<'plugin_id'>;

/**
 * The /metrics registry (never prom-client's global one) and its rendered bytes. `update()` applies one tick's
 * snapshot; `render()` serializes once; scrapes are served from the cached buffers, so N concurrent scrapers cost one
 * render per tick, not N. Gzip and OpenMetrics variants are made on first demand per tick and then shared.
 */
export class Exposition {
  readonly registry = new Registry();
  #rendered: Rendered | null = null;
  #generation = 0;
  #renderChain: Promise<unknown> = Promise.resolve();
  #inFlight: Promise<void> | null = null;

  readonly cpuRatio: ResourceGauge;
  readonly cpuSeconds: Counter<'plugin_id' | 'mode'>;
  readonly rss: ResourceGauge;
  readonly memRatio: ResourceGauge;
  readonly threads: ResourceGauge;
  readonly processes: ResourceGauge;
  readonly up: Gauge<'plugin_id'>;
  readonly state: Gauge<'plugin_id' | 'state'>;
  readonly restarts: Counter<'plugin_id'>;
  readonly startTime: Gauge<'plugin_id'>;
  readonly lastExitCode: Gauge<'plugin_id'>;
  readonly info: Gauge<'plugin_id' | 'name' | 'version'>;
  readonly healthy: Gauge<'plugin_id'>;
  readonly health: Gauge<'plugin_id' | 'status'>;
  readonly checkSuccess: Gauge<'plugin_id' | 'check'>;
  readonly checkDuration: Gauge<'plugin_id' | 'check'>;
  readonly checkRuns: Counter<'plugin_id' | 'check' | 'outcome'>;
  readonly calls: Counter<'plugin_id' | 'tool' | 'outcome'>;
  readonly callsDropped: Counter<'plugin_id'>;
  readonly callErrorRatio: Gauge<'plugin_id'>;
  readonly callAverage: Gauge<'plugin_id'>;
  readonly activeConnections: Gauge<'plugin_id'>;
  readonly toolsDeclared: Gauge<'plugin_id'>;
  readonly lastCall: Gauge<'plugin_id'>;
  readonly callDuration: CallDurationHistogram;
  readonly collectorDuration: Gauge<'collector'>;
  readonly cycleDuration: Histogram;
  readonly renderDuration: Gauge;
  readonly dropped: Counter<'sink' | 'reason'>;
  readonly ringBytes: Gauge;

  /** The collector and supervisor report absolute totals; these turn them into counter increments. */
  #cpuTotals: CounterValues<'plugin_id' | 'mode'>;
  #restartTotals: CounterValues<'plugin_id'>;
  /** Plugins whose counters exist (at 0 until their first sample), so every registered plugin has them. */
  #countersFor = new Set<string>();
  #infoLabels = new Map<string, { name: string; version: string }>();
  #withResources = new Set<string>();
  #checkRunTotals: CounterValues<'plugin_id' | 'check' | 'outcome'>;
  /** `plugin_id\0check` of every check with series, so a check a reload removed loses them. */
  #checkSeries = new Set<string>();
  #callTotals: CounterValues<'plugin_id' | 'tool' | 'outcome'>;
  #droppedTotals: CounterValues<'plugin_id'>;

  constructor(opts: ExpositionOptions) {
    const registers = [this.registry];
    const g = <L extends string>(name: string, help: string, labelNames: L[]) => new Gauge<L>({ name, help, labelNames, registers });
    this.cpuRatio = g(M.pluginCpuUsageRatio, 'CPU used by the plugin process tree over the last interval; 1 = one core busy.', ['plugin_id']);
    this.cpuSeconds = new Counter({
      name: M.pluginCpuSecondsTotal,
      help: 'CPU time of the plugin process tree, including reaped children, since perfwatch started.',
      labelNames: ['plugin_id', 'mode'],
      registers,
    });
    this.rss = g(M.pluginResidentMemoryBytes, 'Resident memory of the plugin process tree.', ['plugin_id']);
    this.memRatio = g(M.pluginMemoryUsageRatio, 'Resident memory of the plugin process tree as a share of host RAM (0-1).', ['plugin_id']);
    this.threads = g(M.pluginThreads, 'Threads in the plugin process tree.', ['plugin_id']);
    this.processes = g(M.pluginProcesses, 'Processes in the plugin process tree.', ['plugin_id']);
    this.up = g(M.pluginUp, '1 when the plugin is running, else 0; present for every registered plugin.', ['plugin_id']);
    this.state = g(M.pluginState, 'Plugin lifecycle state, one-hot.', ['plugin_id', 'state']);
    this.restarts = new Counter({ name: M.pluginRestartsTotal, help: 'Restarts done by the restart policy.', labelNames: ['plugin_id'], registers });
    this.#cpuTotals = new CounterValues(this.cpuSeconds);
    this.#restartTotals = new CounterValues(this.restarts);
    this.startTime = g(M.pluginStartTimeSeconds, 'Start time of the plugin\'s current process, seconds since the epoch.', ['plugin_id']);
    this.lastExitCode = g(M.pluginLastExitCode, 'Exit code of the plugin\'s last process; 128 + signal number when killed by a signal.', ['plugin_id']);
    this.info = g(M.pluginInfo, 'Plugin identity; always 1.', ['plugin_id', 'name', 'version']);
    this.healthy = g(M.pluginHealthy, '1 when every health check of the plugin passes, else 0 (unhealthy, degraded, or unknown: no process, no check, no verdict yet).', ['plugin_id']);
    this.health = g(M.pluginHealth, 'Plugin health from its checks, one-hot: healthy, unhealthy, degraded, unknown.', ['plugin_id', 'status']);
    this.checkSuccess = g(M.pluginHealthCheckSuccess, '1 when the last run of the health check passed, else 0 (like blackbox_exporter\'s probe_success).', ['plugin_id', 'check']);
    this.checkDuration = g(M.pluginHealthCheckDurationSeconds, 'How long the last run of the health check took.', ['plugin_id', 'check']);
    this.checkRuns = new Counter({ name: M.pluginHealthChecksTotal, help: 'Health check runs by outcome (pass, fail).', labelNames: ['plugin_id', 'check', 'outcome'], registers });
    this.#checkRunTotals = new CounterValues(this.checkRuns);
    this.calls = new Counter({ name: M.pluginCallsTotal, help: 'Calls the plugin reported, by tool and outcome (ok, error); tools past service_metrics.max_tools count as "other".', labelNames: ['plugin_id', 'tool', 'outcome'], registers });
    this.#callTotals = new CounterValues(this.calls);
    this.callsDropped = new Counter({ name: M.pluginCallsDroppedTotal, help: 'Calls the plugin dropped before reporting them (its reporting queue was full), as it said in its reports.', labelNames: ['plugin_id'], registers });
    this.#droppedTotals = new CounterValues(this.callsDropped);
    this.callDuration = new CallDurationHistogram();
    this.registry.registerMetric(this.callDuration as unknown as Metric);
    this.callErrorRatio = g(M.pluginCallErrorRatio, 'Share of the plugin\'s calls that failed over the last service_metrics.window; absent without calls in it.', ['plugin_id']);
    this.callAverage = g(M.pluginCallAverageDurationSeconds, 'Mean duration of the plugin\'s calls over the last service_metrics.window; absent without calls in it.', ['plugin_id']);
    this.activeConnections = g(M.pluginActiveConnections, 'Active connections the plugin last reported.', ['plugin_id']);
    this.toolsDeclared = g(M.pluginTools, 'Tools the plugin declared (or, without a declaration, the distinct tools it reported calls for).', ['plugin_id']);
    this.lastCall = g(M.pluginLastCallTimestampSeconds, 'When the plugin last reported a call, seconds since the epoch.', ['plugin_id']);
    new Gauge({ name: M.buildInfo, help: 'perfwatch build; always 1.', labelNames: ['version', 'nodejs_version'], registers }).set(
      { version: opts.version, nodejs_version: process.version },
      1,
    );
    this.collectorDuration = g(M.collectorDurationSeconds, 'Wall time of each collector in the last collection cycle.', ['collector']);
    this.cycleDuration = new Histogram({
      name: M.collectionCycleDurationSeconds,
      help: 'Wall time of whole collection cycles.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.renderDuration = new Gauge({ name: M.exporterRenderDurationSeconds, help: 'Time the last /metrics render spent serializing (its families, summed; it yields between them).', registers });
    this.dropped = new Counter({
      name: M.samplesDroppedTotal,
      help: 'Data dropped rather than buffered without bound, by sink and reason.',
      labelNames: ['sink', 'reason'],
      registers,
    });
    // the known drop reasons exist at 0 from the start, so rate() and dashboards have a series before the first drop
    for (const [sink, reason] of [['plugin_logs', 'backpressure'], ['websocket', 'slow_consumer'], ['websocket', 'no_pong']] as const) this.dropped.inc({ sink, reason }, 0);
    this.ringBytes = new Gauge({ name: M.ringBufferMemoryBytes, help: 'Bytes held by the in-memory sample history.', registers });
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      this.#dropNonCounterTotals();
    }
  }

  /**
   * prom-client's default `nodejs_active_{handles,requests,resources}_total` are gauges, which `promtool check metrics`
   * rejects ("non-counter metrics should not have _total suffix"). Each is only the sum of the per-type gauge of the
   * same name without the suffix (`sum(nodejs_active_handles)`), so it is dropped rather than renamed.
   */
  #dropNonCounterTotals(): void {
    const all = this.registry.getMetricsAsArray() as unknown as Array<{ name: string; type: string }>;
    for (const m of all) {
      if (m.name.endsWith('_total') && m.type !== 'counter') this.registry.removeSingleMetric(m.name);
    }
  }

  /** Applies one tick: samples for the plugins that have one, status for every registered plugin. */
  update(snapshot: Snapshot, ringBytes: number): void {
    const plugins = snapshot.statuses;
    const sampled = new Set<string>();
    for (const s of snapshot.plugins) {
      const l = { plugin_id: s.pluginId };
      sampled.add(s.pluginId);
      this.cpuRatio.set(l, s.cpuPercent / 100);
      this.rss.set(l, s.rssBytes);
      this.memRatio.set(l, s.memoryPercent / 100);
      this.threads.set(l, s.threads);
      this.processes.set(l, s.processes);
      this.#cpuTotals.set({ plugin_id: s.pluginId, mode: 'user' }, s.cpuUserSeconds);
      this.#cpuTotals.set({ plugin_id: s.pluginId, mode: 'system' }, s.cpuSystemSeconds);
      this.#countersFor.add(s.pluginId);
    }
    for (const id of this.#withResources) if (!sampled.has(id)) this.#removeResources(id);
    this.#withResources = sampled;

    for (const p of plugins) {
      const l = { plugin_id: p.id };
      this.up.set(l, p.state === 'running' ? 1 : 0);
      for (const st of PLUGIN_STATES) this.state.set({ plugin_id: p.id, state: st }, st === p.state ? 1 : 0);
      this.#restartTotals.set(l, p.restarts);
      if (!this.#countersFor.has(p.id)) {
        this.#cpuTotals.set({ plugin_id: p.id, mode: 'user' }, 0);
        this.#cpuTotals.set({ plugin_id: p.id, mode: 'system' }, 0);
        this.#countersFor.add(p.id);
      }
      if (p.startedAtMs !== null) this.startTime.set(l, p.startedAtMs / 1000);
      else this.startTime.remove(l);
      if (p.lastExit) this.lastExitCode.set(l, exitCodeOf(p.lastExit));
      this.#updateHealth(p);
      this.#updateService(p);
      const info = this.#infoLabels.get(p.id);
      if (!info || info.name !== p.name || info.version !== p.version) {
        if (info) this.info.remove({ plugin_id: p.id, ...info });
        this.info.set({ plugin_id: p.id, name: p.name, version: p.version }, 1);
        this.#infoLabels.set(p.id, { name: p.name, version: p.version });
      }
    }
    for (const [name, seconds] of Object.entries(snapshot.collectorSeconds)) this.collectorDuration.set({ collector: name }, seconds);
    this.cycleDuration.observe(snapshot.cycleSeconds);
    this.ringBytes.set(ringBytes);
  }

  #updateHealth(p: Snapshot['statuses'][number]): void {
    const h = p.health;
    this.healthy.set({ plugin_id: p.id }, h.status === 'healthy' ? 1 : 0);
    for (const st of PLUGIN_HEALTH) this.health.set({ plugin_id: p.id, status: st }, st === h.status ? 1 : 0);
    const now = new Set<string>();
    for (const c of h.checks) {
      const l = { plugin_id: p.id, check: c.name };
      now.add(`${p.id}\0${c.name}`);
      this.#checkRunTotals.set({ ...l, outcome: 'pass' }, c.runs - c.failures);
      this.#checkRunTotals.set({ ...l, outcome: 'fail' }, c.failures);
      if (c.last) {
        this.checkSuccess.set(l, c.last.ok ? 1 : 0);
        this.checkDuration.set(l, c.last.durationMs / 1000);
      }
    }
    for (const key of this.#checkSeries) {
      if (!key.startsWith(`${p.id}\0`) || now.has(key)) continue;
      const l = { plugin_id: p.id, check: key.slice(p.id.length + 1) };
      this.checkSuccess.remove(l);
      this.checkDuration.remove(l);
      this.#checkRunTotals.remove({ ...l, outcome: 'pass' });
      this.#checkRunTotals.remove({ ...l, outcome: 'fail' });
      this.#checkSeries.delete(key);
    }
    for (const key of now) this.#checkSeries.add(key);
  }

  #updateService(p: Snapshot['statuses'][number]): void {
    const s = p.service;
    const l = { plugin_id: p.id };
    if (!s) return;
    for (const t of s.tools) {
      this.#callTotals.set({ plugin_id: p.id, tool: t.tool, outcome: 'ok' }, t.ok);
      this.#callTotals.set({ plugin_id: p.id, tool: t.tool, outcome: 'error' }, t.failed);
    }
    this.callDuration.set(p.id, s.tools);
    this.#droppedTotals.set(l, s.droppedCalls);
    if (s.window.errorRatio === null) this.callErrorRatio.remove(l);
    else this.callErrorRatio.set(l, s.window.errorRatio);
    if (s.window.averageSeconds === null) this.callAverage.remove(l);
    else this.callAverage.set(l, s.window.averageSeconds);
    if (s.activeConnections !== null) this.activeConnections.set(l, s.activeConnections);
    this.toolsDeclared.set(l, s.declaredTools?.length ?? s.tools.length);
    if (s.lastActivityMs !== null) this.lastCall.set(l, s.lastActivityMs / 1000);
  }

  #removeResources(id: string): void {
    const l = { plugin_id: id };
    this.cpuRatio.remove(l);
    this.rss.remove(l);
    this.memRatio.remove(l);
    this.threads.remove(l);
    this.processes.remove(l);
  }

  /** Serializes the registry once; scrapes until the next render get these bytes. */
  /**
   * Serializes the registry once; scrapes until the next render get these bytes. One family at a time, with the
   * event loop free in between: at 1000 plugins the whole text took 124 ms of one piece of main thread, which every
   * request arriving meanwhile waited for. Scrapes during a render are served the previous text. The same text as
   * prom-client's `metrics()`: each family as `getMetricsAsString` writes it, joined by an empty line.
   */
  render(): Promise<void> {
    const run = this.#serial(async () => {
      const registry = this.registry as unknown as { getMetricsAsString(m: Metric): Promise<string> };
      const parts: string[] = [];
      let busyMs = 0;
      for (const m of this.registry.getMetricsAsArray()) {
        const t0 = performance.now();
        parts.push(await registry.getMetricsAsString(m as unknown as Metric));
        busyMs += performance.now() - t0;
        await new Promise<void>((r) => setImmediate(r));
      }
      this.renderDuration.set(busyMs / 1000);
      this.#rendered = { generation: ++this.#generation, classic: Buffer.from(`${parts.join('\n\n')}\n`) };
    });
    this.#inFlight = run;
    void run.finally(() => {
      if (this.#inFlight === run) this.#inFlight = null;
    }).catch(() => undefined);
    return run;
  }

  /** The last rendered exposition; renders first if nothing has been rendered yet. */
  async get(format: 'classic' | 'openmetrics', gzipped: boolean): Promise<{ body: Buffer; contentType: string }> {
    // before the first text exists: wait for the render under way (the first tick's), or start one
    if (!this.#rendered) await (this.#inFlight ?? this.render());
    const r = this.#rendered!;
    if (format === 'classic') {
      const contentType = Registry.PROMETHEUS_CONTENT_TYPE;
      if (!gzipped) return { body: r.classic, contentType };
      r.classicGzip ??= gzip(r.classic);
      return { body: await r.classicGzip, contentType };
    }
    r.openMetrics ??= this.#serial(() => this.#renderOpenMetrics());
    const contentType = Registry.OPENMETRICS_CONTENT_TYPE;
    if (!gzipped) return { body: await r.openMetrics, contentType };
    r.openMetricsGzip ??= r.openMetrics.then((b) => gzip(b));
    return { body: await r.openMetricsGzip, contentType };
  }

  /**
   * prom-client renders OpenMetrics by renaming counter objects in place (`foo_total` → `foo`), which would make every
   * later classic render emit counters without `_total`. The names are put back as soon as the render is done.
   */
  async #renderOpenMetrics(): Promise<Buffer> {
    // At run time the registry holds the metric objects themselves; the typings only promise their plain fields.
    const metrics = this.registry.getMetricsAsArray() as unknown as Array<Metric & { name: string }>;
    // rebuilt per render: custom families come and go between ticks
    const om = new Registry<OpenMetricsContentType>();
    om.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    for (const m of metrics) om.registerMetric(m);
    const names = metrics.map((m) => m.name);
    try {
      return Buffer.from(await om.metrics());
    } finally {
      metrics.forEach((m, i) => {
        m.name = names[i]!;
      });
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#renderChain.then(fn, fn);
    this.#renderChain = run.catch(() => undefined);
    return run;
  }
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

/** Shell convention: 128 + signal number for a process killed by a signal. */
export function exitCodeOf(e: { code: number | null; signal: NodeJS.Signals | null }): number {
  if (e.code !== null) return e.code;
  if (e.signal) return 128 + (SIGNAL_NUMBERS[e.signal] ?? 0);
  return -1;
}

/**
 * `perfwatch_plugin_call_duration_seconds`: a histogram whose buckets the service-metrics store already counts, so it
 * is rendered from the tick's copy of those counts rather than observed call by call a second time. Registered in the
 * prom-client registry as a metric object of its own (`get()` is all a registry asks of one).
 */
export class CallDurationHistogram {
  readonly name = M.pluginCallDurationSeconds;
  readonly help = 'Duration of the calls the plugin reported, by tool (OpenTelemetry\'s advised boundaries).';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  #byPlugin = new Map<string, readonly ToolTotals[]>();

  set(pluginId: string, tools: readonly ToolTotals[]): void {
    this.#byPlugin.set(pluginId, tools);
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> } {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const [pluginId, tools] of this.#byPlugin) {
      for (const t of tools) {
        let cumulative = 0;
        CALL_BUCKETS.forEach((le, i) => {
          cumulative += t.buckets[i]!;
          values.push({ metricName: `${this.name}_bucket`, labels: { plugin_id: pluginId, tool: t.tool, le }, value: cumulative });
        });
        cumulative += t.buckets[CALL_BUCKETS.length]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { plugin_id: pluginId, tool: t.tool, le: '+Inf' }, value: cumulative });
        values.push({ metricName: `${this.name}_sum`, labels: { plugin_id: pluginId, tool: t.tool }, value: t.sumSeconds });
        values.push({ metricName: `${this.name}_count`, labels: { plugin_id: pluginId, tool: t.tool }, value: cumulative });
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
