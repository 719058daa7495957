import type { Middleware } from 'koa';
import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../model/clock.js';
import type { Component } from '../model/component.js';
import { M } from '../model/metric-names.js';
import { CustomSeries, type CustomExporter } from '../store/custom-series.js';
import type { SeriesStore } from '../store/series-store.js';
import { BatchParser } from './batch-parser.js';
import { createIngestRouter } from './routes.js';

export interface IngestOptions {
  config: { max_series: number; ttl: number; max_batch: number };
  bodyLimit: number;
  store: SeriesStore;
  /** Where exported custom series go (/metrics' custom families). */
  exporter: CustomExporter;
  registry: Registry;
  clock: Clock;
  writeAuth: Middleware;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * Custom-metric ingest, a source of samples: the series registry (cap, TTL), the batch worker thread, the two POST
 * routes, and `perfwatch_custom_series`. Its part stops the worker; `custom.sweep(now)` runs in the store stage.
 */
export function createIngest(o: IngestOptions): { custom: CustomSeries; router: ReturnType<typeof createIngestRouter>; component: Component } {
  const custom = new CustomSeries({ store: o.store, exporter: o.exporter, maxSeries: o.config.max_series, ttlMs: o.config.ttl });
  // route ids are bounded: enough for every series several times over, and for a whole batch of new ones
  const batches = new BatchParser({ maxRoutes: Math.max(4 * o.config.max_series, 2 * o.config.max_batch, 1024) });
  new Gauge({ name: M.customSeries, help: 'Custom series held (live and past their TTL).', registers: [o.registry], collect() {
    this.set(custom.count);
  } });
  const router = createIngestRouter({ custom, writeAuth: o.writeAuth, clock: o.clock, bodyLimit: o.bodyLimit, maxBatch: o.config.max_batch, batches });
  const component: Component = {
    name: 'ingest',
    // after the history restore (which comes earlier in the start order): series restored from the checkpoint rejoin /metrics
    start() {
      const unadopted = custom.adoptRestored();
      if (unadopted.length) o.log('warn', 'restored custom series conflict with another once exported; their history stays queryable, they leave /metrics until sent again', { series: unadopted.slice(0, 20), count: unadopted.length });
    },
    stop: () => batches.close(),
  };
  return { custom, router, component };
}
