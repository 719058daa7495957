/** Lifecycle states of a supervised plugin, as the plugin-management document names them. */
export const PLUGIN_STATES = ['stopped', 'starting', 'running', 'stopping', 'error'] as const;
export type PluginState = (typeof PLUGIN_STATES)[number];

/** One measurement of a plugin's whole process tree, taken once per collection tick and read by every sink. */
export interface PluginSample {
  pluginId: string;
  /** Main pid of the plugin (the process perfwatch spawned). */
  pid: number;
  /** Epoch milliseconds with sub-millisecond precision. */
  timestampMs: number;
  /** 100 = one core fully busy, summed over the tree. */
  cpuPercent: number;
  /** Cumulative CPU seconds of the tree, including reaped children; never decreases for the plugin's lifetime in perfwatch. */
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  rssBytes: number;
  /** Share of host RAM, 0–100. */
  memoryPercent: number;
  threads: number;
  processes: number;
}

/** Everything the collectors measured in one tick. */
export interface Snapshot {
  timestampMs: number;
  plugins: PluginSample[];
  /** Wall time each collector took, in seconds, by collector name. */
  collectorSeconds: Record<string, number>;
  cycleSeconds: number;
}
