// `npm run bench`: every benchmark, peers in the same run; prints markdown tables for bench/README.md.
// BENCH=plugins, BENCH=host, BENCH=checkpoint, BENCH=fleet, BENCH=export, BENCH=top, BENCH=health, BENCH=service, BENCH=reports, BENCH=soak or BENCH=ingest (the ingest row of the host part alone) runs one part; BENCH_N=10,100
// limits the plugin counts.
import { machine } from './harness.js';
import { runCheckpointBench } from './checkpoint.bench.js';
import { runExportBench } from './export.bench.js';
import { runFleetBench } from './fleet.bench.js';
import { runHealthBench } from './health.bench.js';
import { runHostBench, runIngestBench } from './host.bench.js';
import { runReportsBench } from './reports.bench.js';
import { runServiceBench } from './service.bench.js';
import { runPluginsBench } from './plugins.bench.js';
import { runTopBench } from './top.bench.js';
import { runSoakBench } from './soak.bench.js';

const which = process.env.BENCH ?? 'plugins,host,checkpoint,fleet,export,top,health,service,reports';
console.log(`# perfwatch bench, ${new Date().toISOString()}\n${machine()}\n`);
if (which.includes('plugins')) {
  const ns = (process.env.BENCH_N ?? '10,100,500').split(',').map(Number);
  const table = await runPluginsBench(ns, (l) => console.error(l));
  console.log('## Plugins: collection cycle and /metrics, next to the fd-reuse floor and prometheus-process-exporter\n');
  console.log(table, '\n');
}
if (which.split(',').includes('ingest')) {
  console.log('## Batch ingest\n');
  console.log(await runIngestBench((l) => console.error(l)));
}
if (which.includes('host')) {
  console.log('## Host collector, history, ingest\n');
  console.log(await runHostBench((l) => console.error(l)));
}
if (which.includes('checkpoint')) {
  console.log('## History checkpoint (default retention)\n');
  console.log(await runCheckpointBench((l) => console.error(l)));
}
if (which.includes('fleet')) {
  console.log('## Fleet history through a Prometheus backend\n');
  console.log(await runFleetBench((l) => console.error(l)));
}
if (which.includes('export')) {
  console.log('## Export: a week of 500 plugins, streamed\n');
  console.log(await runExportBench((l) => console.error(l)));
}
if (which.split(',').includes('top')) {
  console.log('## perfwatch top: its cost to the server and its own\n');
  console.log(await runTopBench((l) => console.error(l)));
}
if (which.split(',').includes('health')) {
  console.log('## Health checks: CPU per probe next to blackbox_exporter, /metrics with checks running\n');
  console.log(await runHealthBench((l) => console.error(l)));
}
if (which.split(',').includes('service')) {
  console.log('## Service metrics: CPU per reported call, /metrics while calls arrive\n');
  console.log(await runServiceBench((l) => console.error(l)));
}
if (which.split(',').includes('reports')) {
  console.log('## Reports: a 7-day detailed PDF and CSV, and /metrics while they are built\n');
  console.log(await runReportsBench((l) => console.error(l)));
}
// not in the default run (minutes long): BENCH=soak [SOAK_SECONDS=180] [SOAK_PLUGINS=500]
if (which.split(',').includes('soak')) {
  console.log('## Load and soak\n');
  console.log(await runSoakBench((l) => console.error(l)));
}
