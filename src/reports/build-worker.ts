/**
 * The report build worker's module (started by build.ts through threads/worker.ts, SCHED_IDLE): makes a report's content
 * from what the main thread gathered, and writes its file (JSON, CSV, or a PDF printed by Chromium).
 */
import { writeFile } from 'node:fs/promises';
import { composeReport } from './content.js';
import type { BuildJob } from './build.js';
import { reportCsv } from './csv.js';
import { printPdf } from './pdf.js';
import { serve } from '../threads/worker.js';

serve(async ({ input, pdf, file }: BuildJob) => {
  const content = composeReport(input);
  const bytes = input.req.format === 'json' ? Buffer.from(JSON.stringify(content, null, 2)) : input.req.format === 'csv' ? reportCsv(content) : await printPdf(content, pdf!);
  // written here: the bytes (1.4 MB for a 7-day CSV) never reach the main thread, where each arriving buffer counted
  // toward its next collection
  await writeFile(file, bytes, { mode: 0o600 });
  return [bytes.length, []];
});
