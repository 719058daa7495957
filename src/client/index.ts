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

  listPlugins(): Promise<{ plugins: PluginInfo[]; message: string }> {
    return this.#call('GET', '/plugins');
  }

  pluginStatus(pluginId?: string): Promise<Record<string, unknown>> {
    return this.#call('GET', `/plugin/status${pluginId ? `?plugin_id=${encodeURIComponent(pluginId)}` : ''}`);
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
