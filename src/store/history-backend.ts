import { Counter, type Registry } from 'prom-client';
import type { Component } from '../model/component.js';
import { StartupError } from '../model/errors.js';
import { M } from '../model/metric-names.js';
import { localReaders, type HistoryReaders, type LocalHistoryReader } from './history-reader.js';
import { BackendError, PrometheusApi, readBackendFiles } from './prometheus-api.js';
import { prometheusReaders, type BackendOptions } from './prometheus-history.js';

/** `history.prometheus` of the configuration, paths already resolved. */
export interface BackendConfig {
  url: string;
  timeout: number;
  headers: Readonly<Record<string, string>>;
  basic_auth?: { username: string; password_file: string } | undefined;
  bearer_token_file?: string | undefined;
  tls: { ca_file?: string | undefined; cert_file?: string | undefined; key_file?: string | undefined; server_name?: string | undefined; insecure_skip_verify: boolean };
  job: string;
  instance?: string | undefined;
  scrape_interval?: number | undefined;
  max_points: number;
  retry_after: number;
}

export interface HistoryBackendOptions {
  backend: 'local' | 'prometheus';
  prometheus?: BackendConfig | undefined;
  local: LocalHistoryReader;
  retentionDays: number;
  hostname: string;
  /** This agent's listening port once known: the default `instance` is `<hostname>:<port>`. */
  port: () => number;
  collectionIntervalMs: number;
  mountpoint: string;
  registry: Registry;
  env: NodeJS.ProcessEnv;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

const OUTCOMES = ['ok', 'timeout', 'unavailable', 'bad_response'] as const;

/**
 * The history readers of the JSON API (history.backend), and their metrics: every backend query counted by outcome,
 * every fallback to the local ring by reason (docs/fleet.md). The metrics exist, at zero, with the local backend too.
 */
export function createHistoryBackend(o: HistoryBackendOptions): { readers: HistoryReaders; component: Component } {
  const registers = [o.registry];
  const requests = new Counter({ name: M.historyBackendRequestsTotal, help: 'Queries sent to the history backend (history.backend: prometheus), by outcome: ok, timeout, unavailable, bad_response.', labelNames: ['outcome'], registers });
  const fallbacks = new Counter({ name: M.historyBackendFallbacksTotal, help: 'History requests about this agent answered from the local ring because the backend failed (timeout, unavailable, bad_response) or was resting after a failure (backend_down, history.prometheus.retry_after).', labelNames: ['reason'], registers });
  for (const outcome of OUTCOMES) requests.inc({ outcome }, 0);
  for (const reason of [...OUTCOMES.slice(1), 'backend_down']) fallbacks.inc({ reason }, 0);

  const p = o.prometheus;
  if (o.backend === 'local' || !p) {
    return { readers: localReaders(o.local, { retentionDays: o.retentionDays, hostname: o.hostname }), component: { name: 'history-backend', stop: async () => {} } };
  }
  let secrets: ReturnType<typeof readBackendFiles>;
  try {
    secrets = readBackendFiles({ ...p, env: o.env });
  } catch (err) {
    throw new StartupError(`history.prometheus: cannot read ${(err as NodeJS.ErrnoException).path ?? 'a file it names'}: ${(err as Error).message}`);
  }
  const api = new PrometheusApi({ url: p.url, timeoutMs: p.timeout, headers: p.headers, ...secrets });
  const instance = () => p.instance ?? `${o.hostname}:${o.port()}`;
  let lastWarnMs = 0;
  const base: Omit<BackendOptions, 'instance'> = {
    api,
    job: p.job,
    hostname: o.hostname,
    scrapeIntervalMs: p.scrape_interval ?? o.collectionIntervalMs,
    maxPoints: p.max_points,
    mountpoint: o.mountpoint,
    local: o.local,
    retryAfterMs: p.retry_after,
    health: { downUntilMs: 0, lastError: null },
    onQuery: (outcome) => requests.inc({ outcome }),
    onFallback: (reason: BackendError['reason'], err: BackendError) => {
      fallbacks.inc({ reason });
      // one line per 10 s at most: a dead backend under a busy dashboard must not flood the log
      const now = Date.now();
      if (now - lastWarnMs < 10_000) return;
      lastWarnMs = now;
      o.log('warn', `history backend failed (${reason}): answering from the local ring`, { url: p.url, reason, err: err.message });
    },
  };
  const readers = prometheusReaders({ ...base, get instance() {
    return instance();
  } });
  return {
    readers,
    component: {
      name: 'history-backend',
      async start() {
        o.log('info', `history from ${p.url} (job="${p.job}", instance="${instance()}")`, { backend: 'prometheus', url: p.url, job: p.job, instance: instance() });
      },
      async stop() {
        api.close();
      },
    },
  };
}
