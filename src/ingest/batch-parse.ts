import { SampleError, validateSample, type CustomSample } from '../store/custom-metric.js';

/**
 * The CPU-heavy half of `POST /api/v1/performance/metrics/batch` (decode, JSON.parse, validate every sample), written
 * to run in the batch worker (batch-worker.ts) while the main thread only appends values. Samples come back as numbers:
 * a route id per sample (the same id for every sample of the same name, unit, category and tags in the same order), its
 * value, and its index in the batch; each route is described once (`routes`), the first time it is seen.
 */

export interface BatchRejection {
  index: number;
  code: string;
  field: string;
  message: string;
}

export type ParsedBatch =
  | { fatal: { code: 'INVALID_JSON' | 'BATCH_TOO_LARGE'; message: string } }
  | {
      /** The route ids restarted from 0 with this batch: earlier descriptions no longer apply. */
      reset: boolean;
      /** Descriptions of the routes first seen in this batch: `[id, sample]` (the sample's value is not used). */
      routes: Array<[number, CustomSample]>;
      count: number;
      ids: Int32Array;
      values: Float64Array;
      indices: Int32Array;
      errors: BatchRejection[];
    };

interface RouteNode {
  id: number;
  next: Map<string, RouteNode> | null;
}

/**
 * Route ids of one parser: a trie over name, unit, category, then each tag key and value as sent, so a client that
 * keeps the same shape is matched with map lookups on the strings JSON.parse made. At most `maxRoutes` ids: past it the
 * table restarts (and says so), which bounds the memory on both sides whatever clients send.
 */
export class RouteTable {
  readonly maxRoutes: number;
  #root = new Map<string, RouteNode>();
  #next = 0;

  constructor(maxRoutes: number) {
    this.maxRoutes = maxRoutes;
  }

  get size(): number {
    return this.#next;
  }

  /** Restarts the ids when `incoming` more could pass the cap; true when it did. */
  makeRoom(incoming: number): boolean {
    if (this.#next + incoming <= this.maxRoutes) return false;
    this.#root = new Map();
    this.#next = 0;
    return true;
  }

  /** The route id of `s`, and whether it is new. */
  idOf(s: CustomSample): number {
    let node = step(this.#root, s.name);
    node = step((node.next ??= new Map()), s.unit);
    node = step((node.next ??= new Map()), s.category);
    const tags = s.tags;
    for (const k in tags) {
      node = step((node.next ??= new Map()), k);
      node = step((node.next ??= new Map()), tags[k]!);
    }
    if (node.id < 0) node.id = this.#next++;
    return node.id;
  }
}

function step(level: Map<string, RouteNode>, key: string): RouteNode {
  let node = level.get(key);
  if (!node) level.set(key, (node = { id: -1, next: null }));
  return node;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** Parses and validates one batch body. Errors of the whole body are `fatal`; a bad sample is rejected by index. */
export function parseBatch(body: Uint8Array, maxBatch: number, table: RouteTable): ParsedBatch {
  const text = decoder.decode(body);
  if (!text.trim()) return { fatal: { code: 'INVALID_JSON', message: 'request body is empty; expected JSON' } };
  let parsed: { metrics?: unknown };
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { fatal: { code: 'INVALID_JSON', message: `request body is not valid JSON: ${(err as Error).message}` } };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || !Array.isArray(parsed.metrics)) {
    return { fatal: { code: 'INVALID_JSON', message: 'expected {"metrics": [ … ]}' } };
  }
  if (Object.keys(parsed).some((k) => k !== 'metrics')) return { fatal: { code: 'INVALID_JSON', message: 'expected only the field "metrics"' } };
  const samples = parsed.metrics as unknown[];
  if (samples.length > maxBatch) {
    return { fatal: { code: 'BATCH_TOO_LARGE', message: `metrics: at most ${maxBatch} samples per batch (custom_metrics.max_batch); got ${samples.length}` } };
  }
  const reset = table.makeRoom(samples.length);
  const ids = new Int32Array(samples.length);
  const values = new Float64Array(samples.length);
  const indices = new Int32Array(samples.length);
  const routes: Array<[number, CustomSample]> = [];
  const errors: BatchRejection[] = [];
  let count = 0;
  for (let index = 0; index < samples.length; index++) {
    let s: CustomSample;
    try {
      s = validateSample(samples[index], index);
    } catch (err) {
      if (!(err instanceof SampleError)) throw err;
      errors.push({ index, code: err.code, field: err.field, message: err.message });
      continue;
    }
    const before = table.size;
    const id = table.idOf(s);
    if (table.size > before) routes.push([id, s]);
    ids[count] = id;
    values[count] = s.value;
    indices[count++] = index;
  }
  return { reset, routes, count, ids, values, indices, errors };
}
