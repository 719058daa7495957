/**
 * The profiling query worker's module (started by store.ts through threads/worker.ts): per-route statistics over a
 * window, read through a read-only connection of its own (WAL lets it read beside the main thread's writes), so the
 * event loop does not hold while every record of the window is read and sorted.
 */
import Database from 'better-sqlite3';
import { serve } from '../threads/worker.js';
import { routeStats, type RoutesJob } from './store.js';

/** One connection per database file, kept while the thread lives (it ends 5 s after its last job). */
const open = new Map<string, Database.Database>();

serve(({ file, ...window }: RoutesJob) => {
  let db = open.get(file);
  if (!db) open.set(file, (db = new Database(file, { readonly: true, fileMustExist: true })));
  return [routeStats(db, window), []];
});
