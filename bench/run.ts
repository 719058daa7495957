// `npm run bench`: every benchmark, peers in the same run; prints markdown tables for bench/README.md.
// BENCH=plugins, BENCH=host, BENCH=checkpoint, BENCH=fleet, BENCH=export, BENCH=top, BENCH=health, BENCH=service, BENCH=reports, BENCH=console, BENCH=profiling, BENCH=sdk-micro, BENCH=soak or BENCH=ingest (the ingest row of the host part alone) runs one part; BENCH_N=10,100
// limits the plugin counts.
import { machine } from './harness.js';
import { runCheckpointBench } from './checkpoint.bench.js';
import { runConsoleBench } from './console.bench.js';
import { runExportBench } from './export.bench.js';
import { runFleetBench } from './fleet.bench.js';
import { runHealthBench } from './health.bench.js';
import { runHostBench, runIngestBench } from './host.bench.js';
import { runReportsBench } from './reports.bench.js';
import { runServiceBench } from './service.bench.js';
import { runPluginsBench } from './plugins.bench.js';
import { runProfilingBench } from './profiling.bench.js';
import { runTopBench } from './top.bench.js';
import { runSoakBench } from './soak.bench.js';
import { runSdkMicroBench } from './sdk-micro.bench.js';

const which = process.env.BENCH ?? 'plugins,host,checkpoint,fleet,export,top,health,service,reports,console,profiling,sdk-micro';
console.log(`# perfwatch bench, ${new Date().toISOString()}\n${machine()}\n`);
if (which.includes('plugins')) {
  const ns = (process.env.BENCH_N ?? '10,100,500').split(',').map(Number);
  const table = await runPluginsBench(ns, (l) => console.error(l));
  console.log('## Plugins: collection cycle and /metrics, next to the fd-reuse floor and prometheus-process-exporter\n');
  console.log(table, '\n');
}
const log = (l: string) => console.error(l);
/** The parts after the plugins one, in run order: the name `BENCH` selects, the section title, the run. */
const PARTS: Array<[string, string, () => Promise<string>]> = [
  ['ingest', 'Batch ingest', () => runIngestBench(log)],
  ['host', 'Host collector, history, ingest', () => runHostBench(log)],
  ['checkpoint', 'History checkpoint (default retention)', () => runCheckpointBench(log)],
  ['fleet', 'Fleet history through a Prometheus backend', () => runFleetBench(log)],
  ['export', 'Export: a week of 500 plugins, streamed', () => runExportBench(log)],
  ['top', 'perfwatch top: its cost to the server and its own', () => runTopBench(log)],
  ['health', 'Health checks: CPU per probe next to blackbox_exporter, /metrics with checks running', () => runHealthBench(log)],
  ['service', 'Service metrics: CPU per reported call, /metrics while calls arrive', () => runServiceBench(log)],
  ['reports', 'Reports: a 7-day detailed PDF and CSV, and /metrics while they are built', () => runReportsBench(log)],
  ['console', 'Console: first load next to Netdata\'s, /metrics with ten consoles open', () => runConsoleBench(log)],
  ['profiling', 'Request profiling: SDK cost per request next to OpenTelemetry, ingest throughput', () => runProfilingBench(log)],
  ['sdk-micro', 'Request profiling: the SDK\'s own CPU per request, in one process', () => runSdkMicroBench(log)],
  // not in the default run (minutes long): BENCH=soak [SOAK_SECONDS=180] [SOAK_PLUGINS=500]
  ['soak', 'Load and soak', () => runSoakBench(log)],
];
for (const [name, title, run] of PARTS) {
  if (!which.split(',').includes(name)) continue;
  console.log(`## ${title}\n`);
  console.log(await run());
}
