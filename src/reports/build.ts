import { transferables, type ReportInput } from './content.js';
import { runWorker, workerModule } from './worker.js';

/** A job for the build worker: what the report is made from, and for a PDF, the Chromium to print with. */
export interface BuildJob {
  input: ReportInput;
  pdf: { executablePath: string; timeoutMs: number } | null;
}

const ENTRY = workerModule('build-worker', import.meta.url);

/**
 * Makes a report's file in the build worker thread: the content (the plugin pass over half a million samples, the
 * recommendations), the CSV rows, the HTML, the charts, the printing. Built on the main thread, even in slices, its
 * garbage alone paused the event loop that answers /metrics (bench/README.md, "Reports"); the main thread now only
 * reads the history (gatherReport) and hands the columns over.
 */
export async function buildInWorker(input: ReportInput, pdf: BuildJob['pdf']): Promise<Buffer> {
  const job: BuildJob = { input, pdf };
  return Buffer.from(await runWorker<ArrayBuffer>(ENTRY, null, job, transferables(input)));
}
