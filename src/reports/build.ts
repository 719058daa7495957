import { transferables, type ReportInput } from './content.js';
import { runWorker, workerModule } from '../threads/worker.js';

/** A job for the build worker: what the report is made from, for a PDF the Chromium to print with, and the file to write. */
export interface BuildJob {
  input: ReportInput;
  pdf: { executablePath: string; timeoutMs: number } | null;
  file: string;
}

const ENTRY = workerModule('build-worker', import.meta.url);

/**
 * Makes a report's file in the build worker thread, and resolves with its size in bytes: the content (the plugin pass over half a million samples, the
 * recommendations), the CSV rows, the HTML, the charts, the printing. Built on the main thread, even in slices, its
 * garbage alone paused the event loop that answers /metrics (bench/README.md, "Reports"); the main thread now only
 * reads the history (gatherReport) and hands the columns over.
 */
export function buildInWorker(input: ReportInput, pdf: BuildJob['pdf'], file: string): Promise<number> {
  const job: BuildJob = { input, pdf, file };
  return runWorker<number>(ENTRY, job, transferables(input), { idle: true });
}
