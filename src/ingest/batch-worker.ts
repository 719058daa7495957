import { parentPort, workerData } from 'node:worker_threads';
import { parseBatch, RouteTable } from './batch-parse.js';

/**
 * Worker thread of BatchParser: parses each posted batch body and answers with its route ids, values and indices in
 * transferred typed arrays (no copy), one message per request, in order.
 */
const table = new RouteTable((workerData as { maxRoutes: number }).maxRoutes);

parentPort!.on('message', (msg: { seq: number; body: Uint8Array; maxBatch: number }) => {
  const result = parseBatch(msg.body, msg.maxBatch, table);
  if ('fatal' in result) parentPort!.postMessage({ seq: msg.seq, result });
  else parentPort!.postMessage({ seq: msg.seq, result }, [result.ids.buffer as ArrayBuffer, result.values.buffer as ArrayBuffer, result.indices.buffer as ArrayBuffer]);
});
