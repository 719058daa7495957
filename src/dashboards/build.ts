/**
 * The Grafana dashboards of dashboards/, as code. `npm run generate` writes them; a test fails when the committed JSON
 * differs, lints them (datasource/job/instance variables, units, $__rate_interval, descriptions) and, against a real
 * Prometheus scraping perfwatch, runs every panel and variable query and requires data.
 *
 * Plain typed builders rather than @grafana/grafana-foundation-sdk: the SDK is a 0.0.x prerelease line (11 MB) whose
 * output targets a newer schemaVersion than the Grafana 11 the deploy kit ships; the JSON model used here is small.
 */

import { M } from '../model/metric-names.js';

export const SCHEMA_VERSION = 39; // Grafana 10.4 – 11.x read it as is
const DS = { type: 'prometheus', uid: '${datasource}' };
export const SEL = 'job=~"$job", instance=~"$instance"';

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  format?: 'time_series' | 'table';
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: typeof DS;
  targets?: Target[];
  fieldConfig?: { defaults: Record<string, unknown>; overrides: unknown[] };
  options?: Record<string, unknown>;
  collapsed?: boolean;
  panels?: Panel[];
}

export interface Dashboard {
  id: null;
  uid: string;
  title: string;
  description: string;
  tags: string[];
  timezone: string;
  editable: boolean;
  graphTooltip: number;
  time: { from: string; to: string };
  refresh: string;
  schemaVersion: number;
  version: number;
  links: unknown[];
  annotations: { list: unknown[] };
  templating: { list: Array<Record<string, unknown>> };
  panels: Panel[];
}

interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  targets: Array<Omit<Target, 'refId'>>;
  w?: number;
  h?: number;
  min?: number;
  max?: number;
  thresholds?: Array<{ value: number | null; color: string }>;
  stack?: boolean;
}

class Layout {
  #panels: Panel[] = [];
  #x = 0;
  #y = 0;
  #rowH = 0;
  #id = 1;

  #place(w: number, h: number) {
    if (this.#x + w > 24) {
      this.#x = 0;
      this.#y += this.#rowH;
      this.#rowH = 0;
    }
    const pos = { x: this.#x, y: this.#y, w, h };
    this.#x += w;
    this.#rowH = Math.max(this.#rowH, h);
    return pos;
  }

  row(title: string): this {
    if (this.#x > 0) {
      this.#x = 0;
      this.#y += this.#rowH;
      this.#rowH = 0;
    }
    this.#panels.push({ id: this.#id++, type: 'row', title, description: '', collapsed: false, panels: [], gridPos: { x: 0, y: this.#y, w: 24, h: 1 } });
    this.#y += 1;
    return this;
  }

  #panel(type: string, s: PanelSpec, options: Record<string, unknown>, custom: Record<string, unknown> = {}): this {
    const defaults: Record<string, unknown> = { unit: s.unit, custom };
    if (s.min !== undefined) defaults.min = s.min;
    if (s.max !== undefined) defaults.max = s.max;
    if (s.thresholds) defaults.thresholds = { mode: 'absolute', steps: s.thresholds };
    this.#panels.push({
      id: this.#id++,
      type,
      title: s.title,
      description: s.description,
      gridPos: this.#place(s.w ?? 12, s.h ?? 8),
      datasource: DS,
      targets: s.targets.map((t, i) => ({ refId: String.fromCharCode(65 + i), ...t })),
      fieldConfig: { defaults, overrides: [] },
      options,
    });
    return this;
  }

  timeseries(s: PanelSpec): this {
    return this.#panel(
      'timeseries',
      { ...s, targets: s.targets.map((t) => ({ range: true, format: 'time_series', ...t })) },
      { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
      { drawStyle: 'line', lineWidth: 1, fillOpacity: s.stack ? 30 : 10, stacking: { mode: s.stack ? 'normal' : 'none', group: 'A' }, showPoints: 'never' },
    );
  }

  stat(s: PanelSpec): this {
    return this.#panel('stat', { w: 6, h: 4, ...s, targets: s.targets.map((t) => ({ instant: true, range: false, ...t })) }, { reduceOptions: { calcs: ['lastNotNull'], values: false, fields: '' }, colorMode: 'value', graphMode: 'area', textMode: 'auto' });
  }

  gauge(s: PanelSpec): this {
    return this.#panel('gauge', { w: 6, h: 4, ...s, targets: s.targets.map((t) => ({ instant: true, range: false, ...t })) }, { reduceOptions: { calcs: ['lastNotNull'], values: false, fields: '' }, showThresholdMarkers: true });
  }

  table(s: PanelSpec): this {
    return this.#panel('table', { ...s, targets: s.targets.map((t) => ({ instant: true, range: false, format: 'table', ...t })) }, { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '' } });
  }

  get panels(): Panel[] {
    return this.#panels;
  }
}

const datasourceVar = { type: 'datasource', name: 'datasource', label: 'Data Source', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', includeAll: false, multi: false };

function queryVar(name: string, label: string, query: string): Record<string, unknown> {
  return {
    type: 'query',
    name,
    label,
    datasource: DS,
    definition: query,
    query: { query, refId: `PrometheusVariableQueryEditor-VariableQuery` },
    refresh: 2,
    multi: true,
    includeAll: true,
    allValue: '.+',
    current: {},
    sort: 1,
    regex: '',
    hide: 0,
  };
}

const JOB = queryVar('job', 'job', `label_values(${M.buildInfo}, job)`);
const INSTANCE = queryVar('instance', 'instance', `label_values(${M.buildInfo}{job=~"$job"}, instance)`);

function dashboard(uid: string, title: string, description: string, panels: Panel[], extraVars: Array<Record<string, unknown>> = []): Dashboard {
  return {
    id: null,
    uid,
    title,
    description,
    tags: ['perfwatch'],
    timezone: 'browser',
    editable: false,
    graphTooltip: 1,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    links: [{ type: 'dashboards', tags: ['perfwatch'], asDropdown: true, title: 'perfwatch', includeVars: true, keepTime: true }],
    annotations: { list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }] },
    templating: { list: [datasourceVar, JOB, INSTANCE, ...extraVars] },
    panels,
  };
}

const PCT = [
  { value: null, color: 'green' },
  { value: 0.8, color: 'orange' },
  { value: 0.9, color: 'red' },
];

function host(): Dashboard {
  const l = new Layout()
    .row('Now')
    .gauge({ title: 'CPU busy', description: 'Share of all CPUs busy over the last collection interval.', unit: 'percentunit', min: 0, max: 1, thresholds: [{ value: null, color: 'green' }, { value: 0.8, color: 'orange' }, { value: 0.95, color: 'red' }], targets: [{ expr: `avg by (instance) (${M.hostCpuUsageRatio}{${SEL}})`, legendFormat: '{{instance}}' }] })
    .gauge({ title: 'Memory used', description: 'Used memory (total minus available) over total. The default alert fires above 85 %.', unit: 'percentunit', min: 0, max: 1, thresholds: [{ value: null, color: 'green' }, { value: 0.85, color: 'red' }], targets: [{ expr: `${M.hostMemoryUsageRatio}{${SEL}}`, legendFormat: '{{instance}}' }] })
    .gauge({ title: 'Fullest filesystem', description: 'Highest usage among the sampled mount points (df\'s used / (used + avail)). The default alert fires above 90 %.', unit: 'percentunit', min: 0, max: 1, thresholds: PCT, targets: [{ expr: `max by (instance) (${M.hostFilesystemUsageRatio}{${SEL}})`, legendFormat: '{{instance}}' }] })
    .stat({ title: 'Load (1m)', description: 'Load average over one minute, next to the CPU count.', unit: 'short', targets: [{ expr: `${M.hostLoad1}{${SEL}}`, legendFormat: 'load1' }, { expr: `${M.hostCpus}{${SEL}}`, legendFormat: 'CPUs' }] })
    .row('CPU and memory')
    .timeseries({ title: 'CPU busy', description: 'Share of all CPUs busy, per collection interval.', unit: 'percentunit', min: 0, max: 1, targets: [{ expr: `${M.hostCpuUsageRatio}{${SEL}}`, legendFormat: '{{instance}}' }] })
    .timeseries({ title: 'CPU by mode', description: 'CPU seconds per second by mode, summed over CPUs (1 = one core).', unit: 'short', stack: true, targets: [{ expr: `sum by (mode) (rate(${M.hostCpuSecondsTotal}{${SEL}, mode!="idle"}[$__rate_interval]))`, legendFormat: '{{mode}}' }] })
    .timeseries({ title: 'Memory', description: 'Used, available and cached memory.', unit: 'bytes', targets: [{ expr: `${M.hostMemoryUsedBytes}{${SEL}}`, legendFormat: 'used' }, { expr: `${M.hostMemoryAvailableBytes}{${SEL}}`, legendFormat: 'available' }, { expr: `${M.hostMemoryCachedBytes}{${SEL}}`, legendFormat: 'cached' }] })
    .timeseries({ title: 'Load average', description: 'Load averages over 1, 5 and 15 minutes.', unit: 'short', targets: [{ expr: `${M.hostLoad1}{${SEL}}`, legendFormat: '1m' }, { expr: `${M.hostLoad5}{${SEL}}`, legendFormat: '5m' }, { expr: `${M.hostLoad15}{${SEL}}`, legendFormat: '15m' }] })
    .row('Disks and network')
    .timeseries({ title: 'Filesystem usage', description: 'Used share per sampled mount point.', unit: 'percentunit', min: 0, max: 1, targets: [{ expr: `${M.hostFilesystemUsageRatio}{${SEL}}`, legendFormat: '{{mountpoint}}' }] })
    .timeseries({ title: 'Disk I/O', description: 'Bytes read (positive) and written per second, per disk.', unit: 'Bps', targets: [{ expr: `sum by (device) (rate(${M.hostDiskReadBytesTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{device}} read' }, { expr: `sum by (device) (rate(${M.hostDiskWrittenBytesTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{device}} written' }] })
    .timeseries({ title: 'Network traffic', description: 'Bytes received and transmitted per second, per interface (loopback excluded).', unit: 'Bps', targets: [{ expr: `sum by (device) (rate(${M.hostNetworkReceiveBytesTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{device}} in' }, { expr: `sum by (device) (rate(${M.hostNetworkTransmitBytesTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{device}} out' }] })
    .timeseries({ title: 'Network packets', description: 'Packets received and transmitted per second.', unit: 'pps', targets: [{ expr: `sum by (device) (rate(${M.hostNetworkReceivePacketsTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{device}} in' }, { expr: `sum by (device) (rate(${M.hostNetworkTransmitPacketsTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{device}} out' }] })
    .row('Processes and connections')
    .timeseries({ title: 'Processes by state', description: 'Processes counted by state at the last census (host.slow_interval).', unit: 'short', targets: [{ expr: `${M.hostProcesses}{${SEL}}`, legendFormat: '{{state}}' }] })
    .timeseries({ title: 'TCP connections by state', description: 'TCP sockets (IPv4 and IPv6) by state at the last census.', unit: 'short', targets: [{ expr: `${M.hostTcpConnections}{${SEL}}`, legendFormat: '{{state}}' }] });
  return dashboard('perfwatch-host', 'perfwatch / Host', 'Host CPU, memory, disks, network, processes and connections as perfwatch measures them.', l.panels);
}

function plugins(): Dashboard {
  const P = `${SEL}, plugin_id=~"$plugin_id"`;
  const l = new Layout()
    .row('Now')
    .stat({ title: 'Plugins running', description: 'Registered plugins whose state is running.', unit: 'short', thresholds: [{ value: null, color: 'green' }], targets: [{ expr: `sum(${M.pluginUp}{${P}})`, legendFormat: 'running' }] })
    .stat({ title: 'Plugins not running', description: `Registered plugins that are stopped, starting, crashed or in error (${M.pluginUp} == 0).`, unit: 'short', thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'red' }], targets: [{ expr: `sum(1 - ${M.pluginUp}{${P}})`, legendFormat: 'not running' }] })
    .stat({ title: 'Restarts', description: 'Restarts done by the restart policy over the selected time range.', unit: 'short', thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'orange' }], targets: [{ expr: `sum(increase(${M.pluginRestartsTotal}{${P}}[$__range]))`, legendFormat: 'restarts' }] })
    .stat({ title: 'Plugin memory', description: 'Resident memory of every selected plugin tree together.', unit: 'bytes', targets: [{ expr: `sum(${M.pluginResidentMemoryBytes}{${P}})`, legendFormat: 'RSS' }] })
    .row('Per plugin')
    .timeseries({ title: 'CPU', description: 'CPU used by each plugin\'s process tree; 100 % = one core busy.', unit: 'percentunit', targets: [{ expr: `${M.pluginCpuUsageRatio}{${P}}`, legendFormat: '{{plugin_id}}' }] })
    .timeseries({ title: 'Memory', description: 'Resident memory of each plugin\'s process tree.', unit: 'bytes', targets: [{ expr: `${M.pluginResidentMemoryBytes}{${P}}`, legendFormat: '{{plugin_id}}' }] })
    .timeseries({ title: 'Threads', description: 'Threads in each plugin\'s process tree.', unit: 'short', targets: [{ expr: `${M.pluginThreads}{${P}}`, legendFormat: '{{plugin_id}}' }] })
    .timeseries({ title: 'Processes', description: 'Processes in each plugin\'s process tree.', unit: 'short', targets: [{ expr: `${M.pluginProcesses}{${P}}`, legendFormat: '{{plugin_id}}' }] })
    .timeseries({ title: 'Up', description: '1 while the plugin is running, 0 otherwise.', unit: 'bool', min: 0, max: 1, targets: [{ expr: `${M.pluginUp}{${P}}`, legendFormat: '{{plugin_id}}' }] })
    .timeseries({ title: 'Restarts', description: 'Restarts per plugin within each interval.', unit: 'short', targets: [{ expr: `sum by (plugin_id) (increase(${M.pluginRestartsTotal}{${P}}[$__rate_interval]))`, legendFormat: '{{plugin_id}}' }] })
    .row('Health (docs/health.md)')
    .stat({ title: 'Plugins unhealthy', description: 'Plugins failing a liveness or readiness health check now.', unit: 'short', thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'red' }], targets: [{ expr: `sum(${M.pluginHealth}{${P}, status="unhealthy"})`, legendFormat: 'unhealthy' }] })
    .stat({ title: 'Plugins degraded', description: 'Plugins whose dependency check fails now.', unit: 'short', thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'orange' }], targets: [{ expr: `sum(${M.pluginHealth}{${P}, status="degraded"})`, legendFormat: 'degraded' }] })
    .timeseries({ title: 'Check results', description: '1 when the last run of each health check passed, 0 when it failed.', unit: 'bool', min: 0, max: 1, targets: [{ expr: `${M.pluginHealthCheckSuccess}{${P}}`, legendFormat: '{{plugin_id}} {{check}}' }] })
    .timeseries({ title: 'Check duration', description: 'How long the last run of each health check took.', unit: 's', targets: [{ expr: `${M.pluginHealthCheckDurationSeconds}{${P}}`, legendFormat: '{{plugin_id}} {{check}}' }] })
    .timeseries({ title: 'Check failures', description: 'Failed health check runs per second.', unit: 'short', targets: [{ expr: `sum by (plugin_id, check) (rate(${M.pluginHealthChecksTotal}{${P}, outcome="fail"}[$__rate_interval]))`, legendFormat: '{{plugin_id}} {{check}}' }] })
    .row('Calls the plugins report (docs/service-metrics.md)')
    .timeseries({ title: 'Calls', description: 'Calls per second each plugin reports, by outcome.', unit: 'ops', targets: [{ expr: `sum by (plugin_id, outcome) (rate(${M.pluginCallsTotal}{${P}}[$__rate_interval]))`, legendFormat: '{{plugin_id}} {{outcome}}' }] })
    .timeseries({ title: 'Error ratio (last minute)', description: 'Share of each plugin\'s calls that failed over service_metrics.window: what the rule high_error_rate reads.', unit: 'percentunit', min: 0, max: 1, targets: [{ expr: `${M.pluginCallErrorRatio}{${P}}`, legendFormat: '{{plugin_id}}' }] })
    .timeseries({ title: 'Call latency p95', description: '95th percentile of call durations per plugin, from the histogram.', unit: 's', targets: [{ expr: `histogram_quantile(0.95, sum by (plugin_id, le) (rate(${M.pluginCallDurationSeconds}_bucket{${P}}[$__rate_interval])))`, legendFormat: '{{plugin_id}}' }] })
    .timeseries({ title: 'Mean call duration (last minute)', description: 'What the rule slow_response reads.', unit: 's', targets: [{ expr: `${M.pluginCallAverageDurationSeconds}{${P}}`, legendFormat: '{{plugin_id}}' }] })
    .row('Requests the apps report through @perfwatch/sdk (docs/profiling.md)')
    .timeseries({ title: 'Requests by route', description: 'Requests per second each app reports, by project and route template.', unit: 'reqps', targets: [{ expr: `sum by (project, route) (rate(${M.profilingRequestsTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{project}} {{route}}' }] })
    .timeseries({ title: '5xx share by route', description: 'Share of each route\'s requests that answered 5xx.', unit: 'percentunit', min: 0, max: 1, targets: [{ expr: `sum by (project, route) (rate(${M.profilingRequestsTotal}{${SEL}, status_class="5xx"}[$__rate_interval])) / sum by (project, route) (rate(${M.profilingRequestsTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{project}} {{route}}' }] })
    .timeseries({ title: 'Request latency p95 by route', description: '95th percentile of request durations per route, from the histogram.', unit: 's', targets: [{ expr: `histogram_quantile(0.95, sum by (project, route, le) (rate(${M.profilingRequestDurationSeconds}_bucket{${SEL}}[$__rate_interval])))`, legendFormat: '{{project}} {{route}}' }] })
    .row('Top plugins')
    .table({ title: 'Top CPU', description: 'The ten plugins using the most CPU now.', unit: 'percentunit', targets: [{ expr: `topk(10, ${M.pluginCpuUsageRatio}{${P}})`, legendFormat: '{{plugin_id}}' }] })
    .table({ title: 'Top memory', description: 'The ten plugins with the most resident memory now.', unit: 'bytes', targets: [{ expr: `topk(10, ${M.pluginResidentMemoryBytes}{${P}})`, legendFormat: '{{plugin_id}}' }] });
  return dashboard('perfwatch-plugins', 'perfwatch / Plugins', 'Supervised plugins: state, restarts, CPU, memory, threads and processes over each process tree.', l.panels, [
    queryVar('plugin_id', 'plugin', `label_values(${M.pluginUp}{job=~"$job", instance=~"$instance"}, plugin_id)`),
  ]);
}

function alerts(): Dashboard {
  const l = new Layout()
    .row('perfwatch\'s own evaluation')
    .stat({ title: 'Firing alerts', description: 'Alerts firing in perfwatch\'s in-process evaluator, all levels.', unit: 'short', thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'red' }], targets: [{ expr: `sum(${M.alertsFiring}{${SEL}})`, legendFormat: 'firing' }] })
    .stat({ title: 'Critical', description: 'Critical alerts firing in perfwatch.', unit: 'short', thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'red' }], targets: [{ expr: `sum(${M.alertsFiring}{${SEL}, severity="critical"})`, legendFormat: 'critical' }] })
    .stat({ title: 'Rules loaded', description: 'Enabled alert rules (defaults, rules file and API).', unit: 'short', targets: [{ expr: `sum(${M.alertRules}{${SEL}, enabled="true"})`, legendFormat: 'rules' }] })
    .stat({ title: 'Evaluation time', description: 'Time the last evaluation of all rules took, store writes included.', unit: 's', targets: [{ expr: `max(${M.alertEvaluationDurationSeconds}{${SEL}})`, legendFormat: 'evaluation' }] })
    .timeseries({ title: 'Firing by severity', description: 'Alerts firing in perfwatch by level.', unit: 'short', targets: [{ expr: `sum by (severity) (${M.alertsFiring}{${SEL}})`, legendFormat: '{{severity}}' }] })
    .timeseries({ title: 'Notifications', description: 'Notifications per second by action and result; failed webhook or Alertmanager deliveries show here.', unit: 'ops', targets: [{ expr: `sum by (action, result) (rate(${M.alertNotificationsTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{action}} {{result}}' }] })
    .timeseries({ title: 'Channel notifications', description: 'Email and chat notifications per second by channel and result: sent, failed, queue_full, suppressed by the cooldown (docs/alerting.md#channels).', unit: 'ops', targets: [{ expr: `sum by (channel, result) (rate(${M.alertChannelNotificationsTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{channel}} {{result}}' }] })
    .row('Prometheus rule states (alerts/perfwatch.rules.yml)')
    .table({ title: 'Firing in Prometheus', description: 'Alerts of the compiled perfwatch rules that Prometheus has firing now; empty when all is well.', unit: 'short', targets: [{ expr: `ALERTS{alertstate="firing", perfwatch_rule!="", ${SEL}}`, legendFormat: '{{alertname}}' }] })
    .table({ title: 'Pending in Prometheus', description: 'Alerts whose condition holds but whose `for` has not elapsed yet.', unit: 'short', targets: [{ expr: `ALERTS{alertstate="pending", perfwatch_rule!="", ${SEL}}`, legendFormat: '{{alertname}}' }] });
  return dashboard('perfwatch-alerts', 'perfwatch / Alerts', 'Alerts: perfwatch\'s in-process evaluation and the same rules in Prometheus.', l.panels);
}

function self(): Dashboard {
  const l = new Layout()
    .row('Collection')
    .timeseries({ title: 'Collection cycle (p99)', description: 'Wall time of whole collection cycles, 99th percentile.', unit: 's', targets: [{ expr: `histogram_quantile(0.99, sum by (le, instance) (rate(${M.collectionCycleDurationSeconds}_bucket{${SEL}}[$__rate_interval])))`, legendFormat: '{{instance}}' }] })
    .timeseries({ title: 'Collectors', description: 'Wall time of each collector in the last cycle.', unit: 's', targets: [{ expr: `${M.collectorDurationSeconds}{${SEL}}`, legendFormat: '{{collector}}' }] })
    .timeseries({ title: 'Scrape and render', description: 'How long Prometheus\' scrape took, and perfwatch\'s once-per-cycle render of /metrics.', unit: 's', targets: [{ expr: `scrape_duration_seconds{${SEL}}`, legendFormat: 'scrape {{instance}}' }, { expr: `${M.exporterRenderDurationSeconds}{${SEL}}`, legendFormat: 'render {{instance}}' }] })
    .timeseries({ title: 'Dropped data', description: 'Data dropped rather than buffered without bound, per second, by sink and reason.', unit: 'short', targets: [{ expr: `sum by (sink, reason) (rate(${M.samplesDroppedTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{sink}} {{reason}}' }] })
    .row('Memory and clients')
    .timeseries({ title: 'History buffer', description: 'Bytes held by the in-memory history (fixed per series).', unit: 'bytes', targets: [{ expr: `${M.ringBufferMemoryBytes}{${SEL}}`, legendFormat: '{{instance}}' }] })
    .timeseries({ title: 'perfwatch memory', description: 'Resident memory and heap of the perfwatch process.', unit: 'bytes', targets: [{ expr: `process_resident_memory_bytes{${SEL}}`, legendFormat: 'RSS' }, { expr: `nodejs_heap_size_used_bytes{${SEL}}`, legendFormat: 'heap used' }] })
    .timeseries({ title: 'Event loop lag (p99)', description: 'Event loop delay, 99th percentile: what a request may wait behind other work.', unit: 's', targets: [{ expr: `nodejs_eventloop_lag_p99_seconds{${SEL}}`, legendFormat: '{{instance}}' }] })
    .timeseries({ title: 'Clients and series', description: 'WebSocket clients and custom series held.', unit: 'short', targets: [{ expr: `${M.websocketClients}{${SEL}}`, legendFormat: 'websocket clients' }, { expr: `${M.customSeries}{${SEL}}`, legendFormat: 'custom series' }] })
    .row('OTLP push')
    .timeseries({ title: 'OTLP exports', description: 'OTLP exports per second by result (present when OTLP push is on); failed exports drop their points.', unit: 'ops', targets: [{ expr: `sum by (result) (rate(${M.otlpExportsTotal}{${SEL}}[$__rate_interval]))`, legendFormat: '{{result}}' }] });
  return dashboard('perfwatch-self', 'perfwatch / Self', 'perfwatch itself: collection cost, scrape and render time, dropped data, memory, clients, OTLP.', l.panels);
}

/** Every dashboard, keyed by file name. */
export function buildDashboards(): Record<string, Dashboard> {
  return { 'perfwatch-host.json': host(), 'perfwatch-plugins.json': plugins(), 'perfwatch-alerts.json': alerts(), 'perfwatch-self.json': self() };
}
