/**
 * Typed client for perfwatch's JSON API (`perfwatch/client`): the calls of the legacy document's JavaScript example
 * (`getPerformanceStats`, `getPerformanceHistory`, `addMetric`) and the rest of the routes. Uses global fetch (Node 18+,
 * browsers). Errors throw PerfwatchApiError with the HTTP status and the API's error code.
 */

export interface ClientOptions {
  /** Admin token, for writes and the plugin metrics routes. */
  token?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class PerfwatchApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'PerfwatchApiError';
    this.status = status;
    this.code = code;
  }
}

export interface PerformanceStats {
  cpu: { percent: number; cores: number; frequency: number };
  memory: { total: number; available: number; used: number; percent: number; cached: number };
  disk: { total: number; free: number; used: number; percent: number; read_bytes: number; write_bytes: number };
  network: { bytes_sent: number; bytes_recv: number; packets_sent: number; packets_recv: number };
  processes: { total: number; running: number; sleeping: number; zombie: number };
  connections: { active: number; listening: number; established: number };
  timestamp: string;
}

export interface PerformanceHistory {
  metrics: Array<{ timestamp: string } & Record<string, number | string>>;
  summary: { avg_cpu: number; max_cpu: number; min_cpu: number; avg_memory: number; max_memory: number; min_memory: number };
}

export interface GaugeSummary {
  current: number;
  average: number;
  maximum: number;
  minimum: number;
  trend: 'increasing' | 'decreasing' | 'stable';
}

export interface PerformanceSummary {
  period: '1h' | '6h' | '24h' | '7d';
  cpu?: GaugeSummary;
  memory?: GaugeSummary;
  disk?: GaugeSummary;
  network?: { throughput_upload: number; throughput_download: number; total_upload: number; total_download: number };
  alerts: { total: number; critical: number; warning: number };
}

export interface MetricInput {
  name: string;
  value: number;
  unit?: string;
  category?: string;
  tags?: Record<string, string>;
}

export interface BatchResult {
  accepted: number;
  rejected: number;
  metric_ids: string[];
  errors: Array<{ index: number; code: string; field: string; message: string }>;
}

export interface PluginInfo {
  id: string;
  name: string;
  version: string;
  description: string;
  status: string;
  enabled: boolean;
}

export interface PluginSampleJson {
  pid: number;
  cpu_percent: number;
  memory_mb: number;
  memory_percent: number;
  num_threads: number;
  timestamp: string;
}

export type PluginHealthStatus = 'healthy' | 'unhealthy' | 'degraded' | 'unknown';

/** `GET /plugin/{id}/service-metrics`: seed 003's fields, then perfwatch's (docs/service-metrics.md). */
export interface ServiceMetricsDoc {
  service_name: string;
  status: string;
  uptime: number;
  tools_count: number;
  active_connections: number;
  total_calls: number;
  failed_calls: number;
  avg_response_time: number;
  last_activity: string | null;
  error_rate: number;
  last_error: string | null;
  consecutive_failures: number;
  health: PluginHealthStatus;
  window: { seconds: number | null; calls: number; calls_per_second: number; error_rate: number | null; avg_response_time: number | null; p95_response_time: number | null };
  tools: Array<{ name: string; total_calls: number; failed_calls: number; avg_response_time: number }>;
  declared_tools: string[] | null;
  last_error_tool: string | null;
}

/** `GET /plugin/{id}/health` (docs/health.md). */
export interface PluginHealthDoc {
  plugin_id: string;
  status: string;
  health: PluginHealthStatus;
  checks: Array<{
    name: string;
    type: 'http' | 'tcp' | 'exec' | 'heartbeat';
    role: 'liveness' | 'readiness' | 'dependency';
    status: 'unknown' | 'passing' | 'failing';
    consecutive_failures: number;
    consecutive_successes: number;
    runs: number;
    failures: number;
    last_run: { time: string; ok: boolean; error: string | null; duration_ms: number } | null;
  }>;
  last_heartbeat: { time: string; status: 'pass' | 'warn' | 'fail'; note: string } | null;
  time: string;
}

/** A rule as `POST alerts/rules` takes it (docs/alerting.md#rule-fields). */
export interface AlertRuleInput {
  name: string;
  metric: string;
  operator: 'greater_than' | 'less_than' | 'greater_equal' | 'less_equal' | 'equal' | 'not_equal' | '>' | '<' | '>=' | '<=' | '==' | '!=';
  threshold: number;
  level?: 'info' | 'warning' | 'error' | 'critical';
  unit?: string;
  selector?: Record<string, string>;
  clear_threshold?: number;
  for?: string | number;
  keep_firing_for?: string | number;
  cooldown?: string | number;
  description?: string;
  message?: string;
  suggestion?: string;
  enabled?: boolean;
  actions?: Array<'log' | 'webhook' | 'alertmanager'>;
}

export interface AlertJson {
  id: string;
  type: string;
  level: string;
  title: string;
  message: string;
  value: number | null;
  threshold: number;
  status: 'active' | 'resolved';
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
  resolved_by: string | null;
  rule_id: string;
  labels: Record<string, string>;
  metadata: { affected_processes?: string[]; suggestion?: string; [k: string]: unknown };
}

export class PerfwatchClient {
  readonly baseUrl: string;
  #opts: ClientOptions;

  constructor(baseUrl: string, opts: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#opts = opts;
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.#opts.token) headers.Authorization = `Bearer ${this.#opts.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await (this.#opts.fetch ?? fetch)(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new PerfwatchApiError(res.status, 'INVALID_RESPONSE', `${method} ${path}: answer is not JSON`);
    }
    if (!res.ok) {
      const code = json?.error?.code ?? json?.code ?? 'HTTP_ERROR';
      const message = json?.error?.message ?? json?.detail ?? `${method} ${path}: HTTP ${res.status}`;
      throw new PerfwatchApiError(res.status, code, message);
    }
    return json as T;
  }

  #perf<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.#call<{ data: T }>(method, `/api/v1/performance${path}`, body).then((r) => r.data);
  }

  getPerformanceStats(): Promise<PerformanceStats> {
    return this.#perf('GET', '/stats');
  }

  getSystemInfo(): Promise<Record<string, unknown>> {
    return this.#perf('GET', '/system');
  }

  getPerformanceHistory(q: { minutes?: number; interval?: number; metrics?: string[] } = {}): Promise<PerformanceHistory> {
    const p = new URLSearchParams();
    if (q.minutes !== undefined) p.set('minutes', String(q.minutes));
    if (q.interval !== undefined) p.set('interval', String(q.interval));
    if (q.metrics) p.set('metrics', q.metrics.join(','));
    const qs = p.toString();
    return this.#perf('GET', `/history${qs ? `?${qs}` : ''}`);
  }

  getPerformanceSummary(q: { period?: PerformanceSummary['period']; metrics?: string[] } = {}): Promise<PerformanceSummary> {
    const p = new URLSearchParams();
    if (q.period) p.set('period', q.period);
    if (q.metrics) p.set('metrics', q.metrics.join(','));
    const qs = p.toString();
    return this.#perf('GET', `/summary${qs ? `?${qs}` : ''}`);
  }

  addMetric(m: MetricInput): Promise<{ metric_id: string; created_at: string }> {
    return this.#perf('POST', '/metrics', m);
  }

  addMetrics(metrics: MetricInput[]): Promise<BatchResult> {
    return this.#perf('POST', '/metrics/batch', { metrics });
  }

  getAlerts(q: { level?: string; type?: string; limit?: number; resolved?: boolean } = {}): Promise<{ alerts: AlertJson[]; summary: { total: number; active: number; resolved: number; by_level: Record<string, number> } }> {
    const p = new URLSearchParams();
    if (q.level) p.set('level', q.level);
    if (q.type) p.set('type', q.type);
    if (q.limit !== undefined) p.set('limit', String(q.limit));
    if (q.resolved !== undefined) p.set('resolved', String(q.resolved));
    const qs = p.toString();
    return this.#perf('GET', `/alerts${qs ? `?${qs}` : ''}`);
  }

  /** The Python SDK's `set_alert_rule(name, metric, operator, threshold, level)`, as an object. */
  setAlertRule(rule: AlertRuleInput): Promise<{ rule_id: string; created_at: string }> {
    return this.#perf('POST', '/alerts/rules', rule);
  }

  getAlertRules(): Promise<{ rules: Array<Record<string, unknown> & { id: string; name: string; trigger_count: number; last_triggered: string | null }> }> {
    return this.#perf('GET', '/alerts/rules');
  }

  updateAlertRule(ruleId: string, rule: AlertRuleInput): Promise<{ rule: Record<string, unknown> }> {
    return this.#perf('PUT', `/alerts/rules/${encodeURIComponent(ruleId)}`, rule);
  }

  deleteAlertRule(ruleId: string): Promise<{ deleted: true; rule_id: string }> {
    return this.#perf('DELETE', `/alerts/rules/${encodeURIComponent(ruleId)}`);
  }

  resolveAlert(alertId: string, body: { resolution?: string; resolved_by?: string } = {}): Promise<{ resolved: true; resolved_at: string }> {
    return this.#perf('POST', `/alerts/${encodeURIComponent(alertId)}/resolve`, body);
  }

  listPlugins(): Promise<{ plugins: PluginInfo[]; message: string }> {
    return this.#call('GET', '/plugins');
  }

  pluginStatus(pluginId?: string): Promise<Record<string, unknown>> {
    return this.#call('GET', `/plugin/status${pluginId ? `?plugin_id=${encodeURIComponent(pluginId)}` : ''}`);
  }

  /** Every plugin's status with perfwatch's `details=true`: health, restarts and enabled besides the document's fields. */
  pluginStatusDetails(): Promise<{ plugins: Record<string, { status: string; pid?: number; uptime?: number; health: PluginHealthStatus; restarts: number; enabled: boolean }>; time: string }> {
    return this.#call('GET', '/plugin/status?details=true');
  }

  /** Seed 003's service metrics of every plugin (admin): calls, failures, response times (docs/service-metrics.md). */
  servicesMetrics(): Promise<{ services: ServiceMetricsDoc[]; time: string }> {
    return this.#call('GET', '/plugins/service-metrics');
  }

  /** Seed 003's service metrics of one plugin (admin). */
  serviceMetrics(id: string): Promise<ServiceMetricsDoc & { time: string }> {
    return this.#call('GET', `/plugin/${encodeURIComponent(id)}/service-metrics`);
  }

  /** A plugin's health and every check's last run (admin). */
  pluginHealth(id: string): Promise<PluginHealthDoc> {
    return this.#call('GET', `/plugin/${encodeURIComponent(id)}/health`);
  }

  /** The last lines of a plugin's stdout or stderr log (admin). */
  pluginLogs(id: string, q: { stream?: 'stdout' | 'stderr'; lines?: number } = {}): Promise<{ plugin_id: string; stream: string; lines: string[] }> {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
    const qs = p.toString();
    return this.#call('GET', `/plugin/${encodeURIComponent(id)}/logs${qs ? `?${qs}` : ''}`);
  }

  startPlugin(id: string): Promise<{ plugin_id: string; status: string; message: string; pid: number }> {
    return this.#call('POST', `/plugin/${encodeURIComponent(id)}/start`);
  }

  stopPlugin(id: string): Promise<{ plugin_id: string; status: string; message: string }> {
    return this.#call('POST', `/plugin/${encodeURIComponent(id)}/stop`);
  }

  reloadPlugin(id: string): Promise<{ plugin_id: string; status: string; message: string; pid: number }> {
    return this.#call('POST', `/plugin/${encodeURIComponent(id)}/reload`);
  }

  pluginMetrics(id?: string): Promise<Record<string, unknown>> {
    return this.#call('GET', id ? `/plugin/metrics/${encodeURIComponent(id)}` : '/plugin/metrics');
  }

  pluginHistory(id: string, q: { limit?: number; start_time?: string; end_time?: string } = {}): Promise<{ plugin_id: string; history: Array<Omit<PluginSampleJson, 'pid'>>; count: number; time: string }> {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
    const qs = p.toString();
    return this.#call('GET', `/plugin/metrics/${encodeURIComponent(id)}/history${qs ? `?${qs}` : ''}`);
  }
}

/** The document's SDK name, for clients ported from `qbittorrent-monitor-js`. */
export { PerfwatchClient as QBittorrentMonitorAPI };
