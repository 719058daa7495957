// Demo plugin: keeps 64 MiB resident and runs one worker thread, so memory and thread counts show up.
import { Worker } from 'node:worker_threads';
const held = Buffer.alloc(64 * 1024 * 1024, 1);
const worker = new Worker('setInterval(() => {}, 1 << 30)', { eval: true });
setInterval(() => held[Math.floor(Math.random() * held.length)]++, 1000);
process.on('SIGTERM', () => worker.terminate().then(() => process.exit(0)));
