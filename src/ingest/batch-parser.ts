import { Worker } from 'node:worker_threads';
import type { CustomSample } from '../store/custom-metric.js';
import type { SeriesHandle } from '../store/custom-series.js';
import type { ParsedBatch } from './batch-parse.js';

/** The routes of one worker epoch, on the main thread: each route's description and, once resolved, its series. */
export interface Routes {
  samples: CustomSample[];
  handles: Array<SeriesHandle | undefined>;
}

type Fatal = Extract<ParsedBatch, { fatal: unknown }>;
type WireBatch = Exclude<ParsedBatch, Fatal>;

/** A parsed batch, with the routes (of the worker epoch it was parsed in) its ids refer to. */
export type ParsedOnMain = Fatal | (Omit<WireBatch, 'reset' | 'routes'> & { routes: Routes });

const here = import.meta.url;
/** The worker's entry next to this file (its TypeScript source when perfwatch runs from source, as in the tests). */
const WORKER_URL = new URL(here.endsWith('.ts') ? './batch-worker.ts' : './batch-worker.js', here);

/**
 * Parses batch bodies on a worker thread, so JSON.parse and validation (most of a batch's CPU) run beside the event
 * loop instead of on it, in a heap of their own with a young generation sized for parsing (the main process keeps its
 * small one). The worker starts with the first batch and stops after `idleMs` without one; replies are applied in the
 * order they arrive, so a route described in one reply is known before any later reply uses it.
 */
export class BatchParser {
  readonly #maxRoutes: number;
  readonly #idleMs: number;
  readonly #youngMb: number;
  #worker: Worker | null = null;
  #routes: Routes = { samples: [], handles: [] };
  #pending = new Map<number, { resolve: (r: ParsedOnMain) => void; reject: (e: Error) => void }>();
  #seq = 0;
  #idle: NodeJS.Timeout | null = null;
  #starts = 0;

  constructor(opts: { maxRoutes: number; idleMs?: number; youngGenerationMb?: number }) {
    this.#maxRoutes = opts.maxRoutes;
    this.#idleMs = opts.idleMs ?? 60_000;
    this.#youngMb = opts.youngGenerationMb ?? 32;
  }

  /** The worker is up. */
  get running(): boolean {
    return this.#worker !== null;
  }

  /** Workers started so far (the first batch starts one; so does the first batch after an idle stop). */
  get starts(): number {
    return this.#starts;
  }

  parse(body: Uint8Array, maxBatch: number): Promise<ParsedOnMain> {
    const worker = this.#worker ?? this.#start();
    const seq = ++this.#seq;
    this.#idle?.refresh();
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      worker.postMessage({ seq, body, maxBatch });
    });
  }

  /** Stops the worker; batches still being parsed fail. */
  async close(): Promise<void> {
    const w = this.#worker;
    if (!w) return;
    this.#stop(new Error('the batch parser was closed'));
    await w.terminate();
  }

  #start(): Worker {
    const worker = new Worker(WORKER_URL, {
      workerData: { maxRoutes: this.#maxRoutes },
      resourceLimits: { maxYoungGenerationSizeMb: this.#youngMb },
    });
    worker.unref();
    this.#starts++;
    this.#routes = { samples: [], handles: [] };
    worker.on('message', (msg: { seq: number; result: ParsedBatch }) => this.#reply(msg));
    const fail = (err: Error) => {
      if (this.#worker === worker) this.#stop(err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the batch parser thread exited (code ${code})`)));
    this.#idle = setTimeout(() => this.#idleCheck(), this.#idleMs);
    this.#idle.unref();
    this.#worker = worker;
    return worker;
  }

  #idleCheck(): void {
    if (this.#pending.size) {
      this.#idle?.refresh();
      return;
    }
    const w = this.#worker;
    this.#stop(new Error('idle'));
    void w?.terminate();
  }

  #stop(err: Error): void {
    this.#worker = null;
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }

  #reply({ seq, result }: { seq: number; result: ParsedBatch }): void {
    const p = this.#pending.get(seq);
    if (!p) return;
    this.#pending.delete(seq);
    if ('fatal' in result) {
      p.resolve({ fatal: result.fatal });
      return;
    }
    if (result.reset) this.#routes = { samples: [], handles: [] };
    const routes = this.#routes;
    for (const [id, sample] of result.routes) routes.samples[id] = sample;
    const { count, ids, values, indices, errors } = result;
    p.resolve({ routes, count, ids, values, indices, errors });
  }
}
