import { Gauge, type Registry } from 'prom-client';
import { SampleError } from '../../store/custom-metric.js';
import type { CustomExporter } from '../../store/custom-series.js';

/**
 * Custom series as prom-client gauges, one family per exported name. A family's label names are fixed by its first
 * series (Prometheus wants one label set per family); the family is unregistered when its last series leaves.
 */
export class CustomFamilies implements CustomExporter {
  #registry: Registry;
  #families = new Map<string, { gauge: Gauge<string>; labelNames: string[]; sourceName: string; series: Set<string> }>();

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  check(promName: string, sourceName: string, labelNames: string[]): void {
    const f = this.#families.get(promName);
    if (!f) {
      if (this.#registry.getSingleMetric(promName)) throw new SampleError('INVALID_METRIC', 'name', `name: "${sourceName}" would be exported as ${promName}, which is taken`);
      return;
    }
    if (f.sourceName !== sourceName) {
      throw new SampleError('INVALID_METRIC', 'name', `name: "${sourceName}" and "${f.sourceName}" would both be exported as ${promName}; rename one`);
    }
    const want = [...f.labelNames].sort().join(',');
    if ([...labelNames].sort().join(',') !== want) {
      throw new SampleError('INVALID_METRIC', 'tags', `tags: every series of "${sourceName}" needs the same tag keys (${f.labelNames.join(', ') || 'none'})`);
    }
  }

  set(promName: string, sourceName: string, help: string, labels: Record<string, string>, value: number): void {
    let f = this.#families.get(promName);
    if (!f) {
      const labelNames = Object.keys(labels);
      f = { gauge: new Gauge({ name: promName, help, labelNames, registers: [this.#registry] }), labelNames, sourceName, series: new Set() };
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
