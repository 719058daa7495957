import type { Registry } from 'prom-client';
import type { Lookup, SeriesSample } from './evaluator.js';

/**
 * The rules' view of one cycle: the values /metrics exposes, read from the registry after the cycle's update, so the
 * in-process evaluator and a Prometheus scraping /metrics see the same numbers (one source of truth). Only the names
 * the rules read are fetched.
 */
export async function registryLookup(registry: Registry, names: Iterable<string>): Promise<Lookup> {
  const byName = new Map<string, SeriesSample[]>();
  for (const name of new Set(names)) {
    const metric = registry.getSingleMetric(name);
    if (!metric) continue;
    const got = await metric.get();
    const samples: SeriesSample[] = [];
    for (const v of got.values as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>) {
      if (v.metricName !== undefined && v.metricName !== name) continue;
      const labels: Record<string, string> = {};
      for (const k in v.labels) labels[k] = String(v.labels[k]);
      samples.push({ labels, value: v.value });
    }
    byName.set(name, samples);
  }
  return (name) => byName.get(name) ?? [];
}
