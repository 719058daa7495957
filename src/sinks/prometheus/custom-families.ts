import { Gauge, type Registry } from 'prom-client';
import { SampleError } from '../../store/custom-metric.js';
import type { CustomExporter } from '../../store/custom-series.js';

/**
 * Custom series as prom-client gauges, one family per exported name. A family's label names are fixed by its first
 * series (Prometheus wants one label set per family); the family is unregistered when its last series leaves.
 */
export class CustomFamilies implements CustomExporter {
  #registry: Registry;
  #families = new Map<string, { gauge: Gauge<string>; series: Set<string> }>();

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /** A new family must not take a name another metric has; its label sets are CustomSeries' to check (live series). */
  check(promName: string, sourceName: string): void {
    if (!this.#families.has(promName) && this.#registry.getSingleMetric(promName)) {
      throw new SampleError('INVALID_METRIC', 'name', `name: "${sourceName}" would be exported as ${promName}, which is taken`);
    }
  }

  set(promName: string, help: string, labels: Record<string, string>, value: number): void {
    let f = this.#families.get(promName);
    if (!f) {
      const labelNames = Object.keys(labels);
      f = { gauge: new Gauge({ name: promName, help, labelNames, registers: [this.#registry] }), series: new Set() };
      this.#families.set(promName, f);
    }
    f.gauge.set(labels, value);
    f.series.add(JSON.stringify(labels));
  }

  remove(promName: string, labels: Record<string, string>): void {
    const f = this.#families.get(promName);
    if (!f) return;
    f.gauge.remove(labels);
    f.series.delete(JSON.stringify(labels));
    if (f.series.size === 0) {
      this.#registry.removeSingleMetric(promName);
      this.#families.delete(promName);
    }
  }
}
