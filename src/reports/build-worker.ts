/**
 * The report build worker's module (started by build.ts through worker.ts, SCHED_IDLE): makes a report's content
 * from what the main thread gathered, and its file (JSON, CSV, or a PDF printed by Chromium).
 */
import { composeReport } from './content.js';
import type { BuildJob } from './build.js';
import { reportCsv } from './csv.js';
import { printPdf } from './pdf.js';
import { serve } from './worker.js';

serve(async ({ input, pdf }: BuildJob) => {
  const content = composeReport(input);
  const file = input.req.format === 'json' ? Buffer.from(JSON.stringify(content, null, 2)) : input.req.format === 'csv' ? reportCsv(content) : await printPdf(content, pdf!);
  // the bytes alone (a Buffer may be a view into a shared pool), handed over rather than copied
  const bytes = file.buffer.slice(file.byteOffset, file.byteOffset + file.length) as ArrayBuffer;
  return [bytes, [bytes]];
});
