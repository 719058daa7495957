/**
 * Seed 003's `MonitoringConfig` (../shared/seeds/003, MCPStore's monitoring system), knob by knob, and where each
 * lives in perfwatch. docs/config.md renders this table; test/unit/config/seed-003.test.ts checks every `config` key
 * against the schema (path and default) and every `rule` against rules/default-rules.yaml (metric and threshold).
 */
export interface SeedKnob {
  /** As the seed writes it. */
  knob: string;
  /** The seed's value. */
  seed: string;
  /** `config`: a key of the config file (`[]` for list items); `rule`: a shipped rule's threshold; `cli`, `none`: see note. */
  kind: 'config' | 'rule' | 'cli' | 'none';
  /** The config key, the rule name, or the CLI flag. */
  target: string;
  /** perfwatch's default, as JSON for `config` keys (a duration in ms), the threshold for `rule`s. */
  value?: string;
  note: string;
}

export const SEED_003_KNOBS: readonly SeedKnob[] = [
  { knob: 'enabled', seed: 'True', kind: 'none', target: '', note: 'perfwatch always collects; `alerting.enabled` turns alert evaluation off.' },
  { knob: 'check_interval', seed: '30', kind: 'config', target: 'plugins[].health_checks[].interval', value: '10000', note: 'per check (docs/health.md); `30s` for the seed\'s value.' },
  { knob: 'health_check_timeout', seed: '10', kind: 'config', target: 'plugins[].health_checks[].timeout', value: '1000', note: 'per check; Kubernetes\' 1 s rather than 10 s.' },
  { knob: 'health_check_retries', seed: '3', kind: 'config', target: 'plugins[].health_checks[].failure_threshold', value: '3', note: 'failures in a row before the check fails.' },
  { knob: 'performance_monitoring', seed: 'True', kind: 'config', target: 'collection.interval', value: '5000', note: 'always on; how often plugins and the host are measured.' },
  { knob: 'metrics_retention_days', seed: '7', kind: 'config', target: 'retention.metrics_retention_days', value: '7', note: 'the local ring; longer through `history.backend: prometheus` (docs/fleet.md).' },
  { knob: 'alerts_enabled', seed: 'True', kind: 'config', target: 'alerting.enabled', value: 'true', note: '' },
  { knob: 'alert_cooldown', seed: '300', kind: 'config', target: 'alerting.channels[].cooldown', value: '0', note: 'per channel and rule; each rule also has its own `cooldown` field (docs/alerting.md), 300 s in the shipped rules.' },
  { knob: 'service_monitoring.status_check_interval', seed: '15', kind: 'config', target: 'plugins[].health_checks[].interval', value: '10000', note: 'as `check_interval`.' },
  { knob: 'service_monitoring.connection_timeout', seed: '5', kind: 'config', target: 'plugins[].health_checks[].timeout', value: '1000', note: 'as `health_check_timeout` (a `tcp` check is the connection test).' },
  { knob: 'service_monitoring.max_consecutive_failures', seed: '3', kind: 'config', target: 'plugins[].health_checks[].failure_threshold', value: '3', note: 'with `role: liveness`, reaching it restarts the plugin.' },
  { knob: 'performance_monitoring.response_time_threshold', seed: '1.0', kind: 'rule', target: 'slow_response', value: '5', note: 'the mean call duration over the last minute, in s (docs/service-metrics.md); the shipped rule keeps seed 001\'s 5 s: add a rule of your own for 1 s.' },
  { knob: 'performance_monitoring.cpu_threshold', seed: '80', kind: 'rule', target: 'high_cpu_usage', value: '80', note: '' },
  { knob: 'performance_monitoring.memory_threshold', seed: '85', kind: 'rule', target: 'high_memory_usage', value: '85', note: '' },
  { knob: 'performance_monitoring.disk_threshold', seed: '90', kind: 'rule', target: 'disk_almost_full', value: '90', note: '' },
  { knob: 'tool_monitoring.call_timeout', seed: '30', kind: 'none', target: '', note: 'the plugin times its own calls out; perfwatch records the duration and outcome it reports.' },
  { knob: 'tool_monitoring.error_rate_threshold', seed: '0.1', kind: 'rule', target: 'high_error_rate', value: '0.1', note: 'the share of failed calls over the last minute.' },
  { knob: 'tool_monitoring.slow_call_threshold', seed: '5.0', kind: 'rule', target: 'slow_response', value: '5', note: '' },
  { knob: 'data_collection.metrics_buffer_size', seed: '1000', kind: 'config', target: 'service_metrics.max_batch', value: '1000', note: 'calls per report; the Node SDK queues up to 10 000.' },
  { knob: 'data_collection.log_level', seed: "'INFO'", kind: 'config', target: 'log.level', value: '"info"', note: '' },
  { knob: 'data_collection.export_format', seed: "'json'", kind: 'cli', target: 'perfwatch export --format json|csv', note: 'and `GET /api/v1/performance/export?format=` (docs/api.md).' },
];

export function renderSeedTable(): string[] {
  const out = ['| seed 003 knob | seed value | perfwatch | perfwatch default | note |', '|---|---|---|---|---|'];
  for (const k of SEED_003_KNOBS) {
    const where = k.kind === 'config' ? `\`${k.target}\`` : k.kind === 'rule' ? `threshold of rule \`${k.target}\`` : k.kind === 'cli' ? `\`${k.target}\`` : '—';
    out.push(`| \`${k.knob}\` | ${k.seed} | ${where} | ${k.value === undefined ? '—' : `\`${k.value}\``} | ${k.note} |`);
  }
  return out;
}
