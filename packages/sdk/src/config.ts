import { readFileSync } from 'node:fs';
import path from 'node:path';

/** What the SDK takes (seed 004's `performance_monitor` keys). */
export interface SdkConfig {
  /** The project's key, as perfwatch's `profiling.projects` lists it. */
  project_key: string;
  /** perfwatch's collect URL (`http://host:9470/api/v1/performance/collect`); batches go to `…/batch` beside it. */
  api_endpoint: string;
  /** Share of requests recorded, 0–1. */
  sampling_rate: number;
  /** Records per batch. */
  batch_size: number;
  /** true: records wait in the queue and leave in batches; false: each leaves as soon as it is recorded (still never awaited by the request). */
  async_send: boolean;
  /** Seconds between flushes of a partial batch. */
  flush_interval: number;
  /** Records held at most while perfwatch is unreachable; past it new ones are dropped and counted. */
  max_queue: number;
  /** Span nodes per request at most; past it calls count into their parent. */
  max_nodes: number;
  /** Seconds a send may take. */
  timeout: number;
  /** Tries per batch (with backoff 0.5 s, 1 s, 2 s …) before it is dropped and counted. */
  max_retries: number;
  enabled: boolean;
  /** An OTLP/HTTP endpoint (`http://collector:4318`): each record also leaves as a trace, to Tempo, Jaeger or any collector. */
  otlp_endpoint?: string | undefined;
  /** `service.name` of those traces (OTEL_SERVICE_NAME), default the project key's project. */
  service_name?: string | undefined;
  /**
   * `inspector`: one CPU sampler for the whole process (node:inspector), its samples given to the request that ran
   * when each was taken; records with at least `profiler_min_samples` carry a sampled tree, and every batch carries
   * the samples merged per route (a route flame graph). `off` (default): the span tree only.
   */
  profiler: 'off' | 'inspector';
  /** Milliseconds between samples (10 = 100 Hz, as Sentry, Pyroscope and Datadog sample). */
  profiler_interval_ms: number;
  /** Samples a request needs before its record carries its own sampled tree (fewer say nothing; they still count in the route's). */
  profiler_min_samples: number;
}

export const DEFAULTS: Omit<SdkConfig, 'project_key' | 'api_endpoint'> = {
  sampling_rate: 1,
  batch_size: 100,
  async_send: true,
  flush_interval: 5,
  max_queue: 10_000,
  max_nodes: 1000,
  timeout: 5,
  max_retries: 3,
  enabled: true,
  profiler: 'off',
  profiler_interval_ms: 10,
  profiler_min_samples: 5,
};

const ENV: Record<string, keyof SdkConfig> = {
  PERFORMANCE_MONITOR_PROJECT_KEY: 'project_key',
  PERFORMANCE_MONITOR_API_ENDPOINT: 'api_endpoint',
  PERFORMANCE_MONITOR_SAMPLING_RATE: 'sampling_rate',
  PERFORMANCE_MONITOR_BATCH_SIZE: 'batch_size',
  PERFORMANCE_MONITOR_ASYNC_SEND: 'async_send',
  PERFORMANCE_MONITOR_FLUSH_INTERVAL: 'flush_interval',
  PERFORMANCE_MONITOR_ENABLED: 'enabled',
  PERFORMANCE_MONITOR_OTLP_ENDPOINT: 'otlp_endpoint',
  PERFORMANCE_MONITOR_PROFILER: 'profiler',
  PERFORMANCE_MONITOR_PROFILER_INTERVAL_MS: 'profiler_interval_ms',
  PERFORMANCE_MONITOR_PROFILER_MIN_SAMPLES: 'profiler_min_samples',
};

/** A scalar as YAML or an environment variable writes it: true/false, numbers, quoted or bare strings. */
function scalar(raw: string): string | number | boolean {
  const v = raw.trim();
  if (/^(['"]).*\1$/.test(v)) return v.slice(1, -1);
  if (/^(true|yes|on)$/i.test(v)) return true;
  if (/^(false|no|off)$/i.test(v)) return false;
  if (v !== '' && Number.isFinite(Number(v))) return Number(v);
  return v;
}

/**
 * The `performance_monitor:` block of a YAML file: the flat `key: value` map the seed's example has. Not a YAML
 * parser (the SDK takes no dependency): nested maps, lists and anchors are refused with the line that has them.
 */
export function parseYamlBlock(text: string, file: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let inside = false;
  let indent = -1;
  text.split(/\r?\n/).forEach((line, i) => {
    const clean = line.replace(/\s+#.*$/, '').replace(/^#.*$/, '');
    if (!clean.trim()) return;
    const lead = clean.length - clean.trimStart().length;
    if (lead === 0) {
      inside = /^performance_monitor:\s*$/.test(clean);
      indent = -1;
      return;
    }
    if (!inside) return;
    if (indent === -1) indent = lead;
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*):\s*(.*)$/.exec(clean);
    if (lead !== indent || !m || m[2] === '' || /^[[{&*|>-]/.test(m[2]!)) throw new Error(`${file}:${i + 1}: the SDK reads flat "key: value" lines under performance_monitor`);
    out[m[1]!] = scalar(m[2]!);
  });
  return out;
}

/** The file's `performance_monitor` block: `PERFORMANCE_MONITOR_CONFIG`, else performance_monitor.{yaml,yml,json} in the working directory. */
function fromFile(env: NodeJS.ProcessEnv, cwd: string): Record<string, unknown> {
  const candidates = env.PERFORMANCE_MONITOR_CONFIG ? [env.PERFORMANCE_MONITOR_CONFIG] : ['performance_monitor.yaml', 'performance_monitor.yml', 'performance_monitor.json'].map((f) => path.join(cwd, f));
  for (const file of candidates) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8'); // once, when the collector is made, never on a request
    } catch (err) {
      if (env.PERFORMANCE_MONITOR_CONFIG) throw new Error(`PERFORMANCE_MONITOR_CONFIG ${file}: ${(err as Error).message}`);
      continue;
    }
    if (file.endsWith('.json')) {
      const doc = JSON.parse(text) as { performance_monitor?: Record<string, unknown> };
      return doc.performance_monitor ?? {};
    }
    return parseYamlBlock(text, file);
  }
  return {};
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') out[key] = key === 'project_key' || key === 'api_endpoint' || key === 'otlp_endpoint' ? v : scalar(v);
  }
  return out;
}

/**
 * The configuration, from the seed's four places. Precedence, highest first: the object given in code, the
 * environment (`PERFORMANCE_MONITOR_*`), the file, the defaults. Each key is checked and a bad one throws with its
 * name, when the collector is made (at start-up, not on a request).
 */
export function resolveConfig(code: Partial<SdkConfig> = {}, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SdkConfig {
  const merged: Record<string, unknown> = { ...DEFAULTS, ...fromFile(env, cwd), ...fromEnv(env), ...code };
  const bad = (key: string, want: string) => new Error(`performance_monitor.${key}: expected ${want}, got ${JSON.stringify(merged[key])}`);
  if (typeof merged.project_key !== 'string' || !merged.project_key) throw bad('project_key', 'a non-empty string');
  if (typeof merged.api_endpoint !== 'string' || !/^https?:\/\//.test(merged.api_endpoint)) throw bad('api_endpoint', 'an http(s) URL');
  const num = (key: keyof SdkConfig, min: number, max: number) => {
    const v = merged[key];
    if (typeof v !== 'number' || !(v >= min && v <= max)) throw bad(key, `a number from ${min} to ${max}`);
  };
  num('sampling_rate', 0, 1);
  num('batch_size', 1, 10_000);
  num('flush_interval', 0.05, 3600);
  num('max_queue', 1, 1_000_000);
  num('max_nodes', 1, 100_000);
  num('timeout', 0.1, 600);
  num('max_retries', 1, 20);
  num('profiler_interval_ms', 1, 1000);
  num('profiler_min_samples', 1, 10_000);
  if (merged.profiler === false) merged.profiler = 'off'; // YAML and the environment read a bare `off` as false
  if (merged.profiler !== 'off' && merged.profiler !== 'inspector') throw bad('profiler', '"off" or "inspector"');
  for (const key of ['async_send', 'enabled'] as const) if (typeof merged[key] !== 'boolean') throw bad(key, 'true or false');
  // the OpenTelemetry variables apply when the SDK's own are not set
  merged.otlp_endpoint ??= env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  merged.service_name ??= env.OTEL_SERVICE_NAME;
  // sampled trees are attached while records wait for their batch: a record sent at once has none yet
  if (merged.profiler !== 'off' && merged.async_send === false) throw bad('async_send', 'true while the profiler is on (sampled trees ride with batches)');
  if (merged.otlp_endpoint !== undefined && (typeof merged.otlp_endpoint !== 'string' || !/^https?:\/\//.test(merged.otlp_endpoint))) throw bad('otlp_endpoint', 'an http(s) URL');
  return merged as unknown as SdkConfig;
}
