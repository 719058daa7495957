// `npm run bench`: every benchmark, peers in the same run; prints markdown tables for bench/README.md.
import { machine } from './harness.js';
import { runPluginsBench } from './plugins.bench.js';

const ns = (process.env.BENCH_N ?? '10,100,500').split(',').map(Number);
console.log(`# perfwatch bench, ${new Date().toISOString()}\n${machine()}\n`);
const table = await runPluginsBench(ns, (l) => console.error(l));
console.log('## Plugins: collection cycle and /metrics, next to the fd-reuse floor and prometheus-process-exporter\n');
console.log(table);
