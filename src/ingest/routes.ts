import Router from '@koa/router';
import type { Middleware } from 'koa';
import { ApiError } from '../http/api-error.js';
import { readBody, readJson } from '../http/body.js';
import { successEnvelope } from '../http/envelope.js';
import type { Clock } from '../model/clock.js';
import { isoUtc } from '../model/time.js';
import { SampleError, validateSample } from '../store/custom-metric.js';
import { SeriesLimitError, type CustomSeries } from '../store/custom-series.js';
import type { BatchRejection } from './batch-parse.js';
import type { BatchParser } from './batch-parser.js';

export interface IngestDeps {
  custom: CustomSeries;
  /** Admin check for writes, or a pass-through when `auth.open_writes` is set. */
  writeAuth: Middleware;
  clock: Clock;
  bodyLimit: number;
  maxBatch: number;
  /** Parses and validates batch bodies off the event loop. */
  batches: BatchParser;
}

/** Samples of a batch ingested between two yields to the event loop (~0.2 ms of work). */
const INGEST_SLICE = 200;

/**
 * Custom-metric ingest, the write half of seed 001's performance API (`POST metrics`, `POST metrics/batch`): a source
 * of samples, not a sink. Writes take the admin token unless `auth.open_writes`.
 */
export function createIngestRouter(d: IngestDeps): Router {
  const router = new Router({ prefix: '/api/v1/performance' });
  const ok = successEnvelope(d.clock);

  router.post('/metrics', d.writeAuth, async (ctx) => {
    const sample = validateSample(await readJson(ctx, d.bodyLimit));
    const now = d.clock.now();
    const id = d.custom.ingest(sample, now);
    ctx.body = ok({ metric_id: id, created_at: isoUtc(now) });
  });

  router.post('/metrics/batch', d.writeAuth, async (ctx) => {
    // parsing and validation run on the batch worker; this thread only appends the values
    const batch = await d.batches.parse(await readBody(ctx, d.bodyLimit), d.maxBatch);
    if ('fatal' in batch) throw new ApiError(batch.fatal.code, batch.fatal.message);
    const now = d.clock.now();
    const { routes, count, ids: routeIds, values, indices } = batch;
    const ids: string[] = [];
    const errors: BatchRejection[] = [];
    for (let j = 0; j < count; j++) {
      // a large batch yields to the event loop every INGEST_SLICE samples, so scrapes and other requests are answered
      // between its slices rather than after the whole batch (and the batches of other clients)
      if (j && j % INGEST_SLICE === 0) await new Promise(setImmediate);
      const route = routeIds[j]!;
      const handle = routes.handles[route];
      let id = handle ? d.custom.append(handle, values[j]!, now) : null;
      if (id === null) {
        // first sample of this route, or its series was evicted since: resolve (create) it
        try {
          const resolved = d.custom.resolve(routes.samples[route]!, now);
          routes.handles[route] = resolved;
          id = d.custom.append(resolved, values[j]!, now)!;
        } catch (err) {
          const index = indices[j]!;
          // the series' shape conflicts with another (`tags: …`, `name: …`): named like the worker's errors, by index
          if (err instanceof SampleError) errors.push({ index, code: err.code, field: `metrics[${index}].${err.field}`, message: `metrics[${index}].${err.message}` });
          else if (err instanceof SeriesLimitError) errors.push({ index, code: 'SERIES_LIMIT_EXCEEDED', field: `metrics[${index}]`, message: err.message });
          else throw err;
          continue;
        }
      }
      ids.push(id);
    }
    // samples rejected here and those the worker rejected, by index
    const all = errors.length ? [...batch.errors, ...errors].sort((a, b) => a.index - b.index) : batch.errors;
    ctx.body = ok({ accepted: ids.length, rejected: all.length, metric_ids: ids, errors: all });
  });

  return router;
}
