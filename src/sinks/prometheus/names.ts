/**
 * Every metric name perfwatch exposes on /metrics, in one place (docs/metrics.md lists them; a test runs
 * `promtool check metrics` on real output). Base units, `_total` only on counters, label `plugin_id`.
 */
export const M = {
  pluginCpuUsageRatio: 'perfwatch_plugin_cpu_usage_ratio',
  pluginCpuSecondsTotal: 'perfwatch_plugin_cpu_seconds_total',
  pluginResidentMemoryBytes: 'perfwatch_plugin_resident_memory_bytes',
  pluginMemoryUsageRatio: 'perfwatch_plugin_memory_usage_ratio',
  pluginThreads: 'perfwatch_plugin_threads',
  pluginProcesses: 'perfwatch_plugin_processes',
  pluginUp: 'perfwatch_plugin_up',
  pluginState: 'perfwatch_plugin_state',
  pluginRestartsTotal: 'perfwatch_plugin_restarts_total',
  pluginStartTimeSeconds: 'perfwatch_plugin_start_time_seconds',
  pluginLastExitCode: 'perfwatch_plugin_last_exit_code',
  pluginInfo: 'perfwatch_plugin_info',
  buildInfo: 'perfwatch_build_info',
  collectorDurationSeconds: 'perfwatch_collector_duration_seconds',
  collectionCycleDurationSeconds: 'perfwatch_collection_cycle_duration_seconds',
  exporterRenderDurationSeconds: 'perfwatch_exposition_render_duration_seconds',
  samplesDroppedTotal: 'perfwatch_samples_dropped_total',
  ringBufferMemoryBytes: 'perfwatch_ring_buffer_memory_bytes',
} as const;

/** Process-level metrics prom-client adds (`collectDefaultMetrics`) are prefixed `process_` and `nodejs_`. */
export const DEFAULT_METRIC_PREFIXES = ['process_', 'nodejs_'] as const;
