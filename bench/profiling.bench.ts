/**
 * Request profiling (issue 15): what @perfwatch/sdk costs a Koa app per request, with the span tree only and with
 * the CPU sampler, next to the same app under OpenTelemetry's http + koa instrumentation exporting to a local OTLP
 * receiver, in the same run; and perfwatch's ingest throughput with four clients, with /metrics p99 during it next to
 * idle.
 *
 * The app (bench/apps/koa-app.cjs) runs in two workloads (minimal, ~50 µs of CPU per request; light, ~0.6 ms as the
 * reference's) and four modes: bare; the SDK's middleware and three wrapped functions per request, sending every
 * record (no sampling) to a real `perfwatch serve`; the same with the sampler; bare code under OTel
 * (bench/apps/otel-preload.cjs, BatchSpanProcessor, OTLP/HTTP to a receiver here). Four keep-alive clients send GET
 * /items/:id.
 *
 * Paired blocks: the four apps of a workload run at once, and each cycle sends a block of requests to each in turn
 * (the order rotates), in PROFILING_SPLIT parts (4), so each app's requests are spread over the cycle. Each app's CPU
 * over the whole cycle (the sum of its threads' run time from /proc/<pid>/task/<tid>/schedstat, in ns) over the
 * requests of its block is its figure for the cycle: its sends, timers and sampler while the others run are in it. A mode's overhead is the median over cycles of its figure against
 * bare's in the same cycle, so the VM's drift, seconds long, cancels out; apps measured one after another, minutes
 * apart, moved 10–30 % between rounds, more than the 2 % asked about.
 *
 * An app waits through three blocks of each cycle for one of its own, and what it spends while idle (the sampler's
 * profiler ticks on: each app's idle CPU per second is measured first, PROFILING_IDLE_S after PROFILING_SETTLE_S) is
 * charged to its block's requests four times over, where an app under steady load pays it over all its requests. So
 * a second design follows, the reference's harness (../shared/reference/profiling.md §7): one app at a time under
 * continuous load for PROFILING_WINDOW_S, the apps pinned to CPU 0 and perfwatch and the clients to CPU 1, the order
 * rotating over PROFILING_PINNED_CYCLES; an app's figure is its CPU within its own window over the requests served in
 * it. Periodic work (flushes, takes) falls in a window at its steady-load rate.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { cpuNsOf, have, median, paced, pct, readyUrl, scrape, waitHttp, startServe } from './harness.js';

const CYCLES = Number(process.env.PROFILING_CYCLES ?? 16);
const IDLE_S = Number(process.env.PROFILING_IDLE_S ?? 10);
const SETTLE_S = Number(process.env.PROFILING_SETTLE_S ?? 15);
/** Parts of a block: each app's requests in a cycle come in this many turns, so a cycle's drift falls on all alike. */
const SPLIT = Number(process.env.PROFILING_SPLIT ?? 4);
const PINNED_CYCLES = Number(process.env.PROFILING_PINNED_CYCLES ?? 12);
const WINDOW_S = Number(process.env.PROFILING_WINDOW_S ?? 4);
const CLIENTS = 4;
const KEY = 'bench-project-key-0123456789';
const TOKEN = 'bench-token-0123456789';

type Mode = 'bare' | 'sdk' | 'sampler' | 'otel';
const MODES: Mode[] = ['bare', 'sdk', 'sampler', 'otel'];
/**
 * The minimal app (about 50 µs of CPU per request) and the reference's "light" workload (about 0.6 ms:
 * ../shared/reference/profiling.md §1.1); `block`: requests per app per cycle, about half a second of its CPU.
 */
const WORKLOADS = [
  { name: 'minimal', work: 0, block: Number(process.env.PROFILING_BLOCK ?? 4000) },
  { name: 'light', work: 120_000, block: Number(process.env.PROFILING_BLOCK ?? 1000) },
];

/** What an SDK app's collector counted, printed when it shuts down (`stats {...}`). */
type AppStats = Record<'sent' | 'dropped_queue_full' | 'dropped_send_failed' | 'rejected' | 'takes_failed', number> & { app?: string };

function startApp(mode: Mode, env: Record<string, string>, onStats: (s: AppStats) => void = () => undefined): Promise<{ child: ChildProcess; url: string }> {
  const args = mode === 'otel' ? ['--require', path.resolve('bench/apps/otel-preload.cjs'), 'bench/apps/koa-app.cjs'] : ['bench/apps/koa-app.cjs'];
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env, MODE: mode }, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout!.on('data', (d: Buffer) => {
    const st = /^stats (.*)$/m.exec(d.toString());
    if (st) onStats(JSON.parse(st[1]!) as AppStats);
  });
  return readyUrl(child, `${mode} app`).then((url) => ({ child, url }));
}

/** GETs from `CLIENTS` kept-alive connections (the app's, kept across calls) while `more()` says so; returns how many. */
async function load(url: string, agent: http.Agent, more: () => boolean): Promise<number> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (more()) {
        const r = await scrape(`${url}/items/${sent++ % 1000}`, agent);
        if (r.status !== 200) throw new Error(`app answered ${r.status}`);
      }
    }),
  );
  return sent;
}

/** `n` GETs; returns the wall seconds. */
async function drive(url: string, agent: http.Agent, n: number): Promise<number> {
  const t0 = performance.now();
  let left = n;
  await load(url, agent, () => left-- > 0);
  return (performance.now() - t0) / 1000;
}

/** GETs until `seconds` have passed; returns how many were answered. */
function driveFor(url: string, agent: http.Agent, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  return load(url, agent, () => performance.now() < until);
}

/** Sets the CPUs a process' threads (all of them) may run on. */
const pin = (pid: number, cpus: string) => execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });

export async function runProfilingBench(log: (l: string) => void): Promise<string> {
  for (const w of WORKLOADS) if (w.block % SPLIT) throw new Error(`PROFILING_BLOCK (${w.block}) must be a multiple of PROFILING_SPLIT (${SPLIT})`);
  const serveConfig = { log: { level: 'warn' }, profiling: { projects: [{ name: 'bench', key: KEY }], max_batch: 1000, max_records: 10_000_000 } };
  let { dir, base, server } = await startServe('pw-profiling-', serveConfig, TOKEN);
  /** Requests the SDK apps answered, each a record sent. */
  let sdkRequests = 0;
  const appStats: AppStats[] = [];
  const sdkMode = (m: Mode) => m === 'sdk' || m === 'sampler';
  let spans = 0;
  const receiver = http.createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      spans++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const otlpUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/v1/traces`;
  try {
    await waitHttp(`${base}/readyz`);
    const env = { PROJECT_KEY: KEY, PERFWATCH_COLLECT: `${base}/api/v1/performance/collect`, OTLP_URL: otlpUrl };
    /** Per cycle: CPU µs per request over the whole cycle, and one at a time pinned (own window); req/s. */
    type Runs = Record<Mode, { cpuUs: number[]; pinnedUs: number[]; rps: number[]; idleMsPerS: number }>;
    const results = new Map<string, Runs>(WORKLOADS.map((w) => [w.name, Object.fromEntries(MODES.map((m) => [m, { cpuUs: [], pinnedUs: [], rps: [], idleMsPerS: 0 }])) as unknown as Runs]));
    const canPin = availableParallelism() >= 2 && have('taskset');
    for (const w of WORKLOADS) {
      const apps = new Map<Mode, { child: ChildProcess; url: string; agent: http.Agent }>();
      try {
        for (const mode of MODES) apps.set(mode, { ...(await startApp(mode, { ...env, WORK: String(w.work) }, (st) => appStats.push({ ...st, app: `${w.name} ${mode}` }))), agent: new http.Agent({ keepAlive: true, maxSockets: CLIENTS }) });
        for (const mode of MODES) await drive(apps.get(mode)!.url, apps.get(mode)!.agent, 2000); // warm-up: JIT, connections, the first batches
        sdkRequests += 2 * 2000;
        const runs = results.get(w.name)!;
        // V8 keeps working for seconds after a load stops (the memory reducer's GCs, compiling): a bare app spent ~5 ms/s
        // in the first 10 s after its warm-up. The idle rate is measured after that settles
        await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
        const idle0 = new Map(MODES.map((m) => [m, cpuNsOf(apps.get(m)!.child.pid!)]));
        const idleT0 = performance.now();
        await new Promise((r) => setTimeout(r, IDLE_S * 1000));
        const idleS = (performance.now() - idleT0) / 1000;
        for (const mode of MODES) runs[mode].idleMsPerS = (cpuNsOf(apps.get(mode)!.child.pid!) - idle0.get(mode)!) / 1e6 / idleS;
        log(`profiling: ${w.name} idle: ${MODES.map((m) => `${m} ${runs[m].idleMsPerS.toFixed(2)}`).join(', ')} ms CPU/s`);
        for (let cycle = 0; cycle < CYCLES; cycle++) {
          const order = MODES.map((_, i) => MODES[(i + cycle) % MODES.length]!);
          const ns0 = new Map(MODES.map((m) => [m, cpuNsOf(apps.get(m)!.child.pid!)]));
          const blockS = new Map<Mode, number>(MODES.map((m) => [m, 0]));
          // each app's block in SPLIT parts, taken in turn: its requests spread over the cycle, as the others' are
          for (let part = 0; part < SPLIT; part++) {
            for (const mode of order) blockS.set(mode, blockS.get(mode)! + (await drive(apps.get(mode)!.url, apps.get(mode)!.agent, w.block / SPLIT)));
          }
          for (const mode of MODES) runs[mode].rps.push(w.block / blockS.get(mode)!);
          sdkRequests += 2 * w.block;
          for (const mode of MODES) runs[mode].cpuUs.push((cpuNsOf(apps.get(mode)!.child.pid!) - ns0.get(mode)!) / 1000 / w.block);
          log(`profiling: ${w.name} cycle ${cycle + 1}: ${MODES.map((m) => `${m} ${runs[m].cpuUs.at(-1)!.toFixed(1)}`).join(', ')} µs CPU/request`);
        }
        if (canPin) {
          const all = `0-${availableParallelism() - 1}`;
          for (const mode of MODES) pin(apps.get(mode)!.child.pid!, '0');
          pin(server.pid!, '1');
          pin(process.pid, '1');
          try {
            for (let cycle = 0; cycle < PINNED_CYCLES; cycle++) {
              for (const mode of MODES.map((_, i) => MODES[(i + cycle) % MODES.length]!)) {
                const app = apps.get(mode)!;
                const ns0 = cpuNsOf(app.child.pid!);
                const n = await driveFor(app.url, app.agent, WINDOW_S);
                if (sdkMode(mode)) sdkRequests += n;
                runs[mode].pinnedUs.push((cpuNsOf(app.child.pid!) - ns0) / 1000 / n);
              }
              log(`profiling: ${w.name} pinned cycle ${cycle + 1}: ${MODES.map((m) => `${m} ${runs[m].pinnedUs.at(-1)!.toFixed(1)}`).join(', ')} µs CPU/request`);
            }
          } finally {
            pin(server.pid!, all);
            pin(process.pid, all);
          }
        }
      } finally {
        for (const app of apps.values()) {
          app.agent.destroy();
          app.child.kill('SIGTERM');
          await new Promise((r) => app.child.once('close', r)); // close: after its stdout, with the stats, is read
        }
      }
    }
    const records = (await (await fetch(`${base}/api/v1/performance/routes?minutes=60`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { data: { routes: Array<{ count: number }> } };
    const stored = records.data.routes.reduce((s, r) => s + r.count, 0);
    // the ingest and the statistics after it get a perfwatch of their own: the SDK part's records (over a million with
    // the pinned windows) would make the store, and so the statistics' window, depend on how long that part ran
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
    ({ dir, base, server } = await startServe('pw-profiling-', serveConfig, TOKEN));
    await waitHttp(`${base}/readyz`);

    // ingest: four clients posting batches of 100 records (each with a 4-node tree), /metrics every 100 ms meanwhile
    const idle = await paced(`${base}/metrics`, 100, 10_000);
    const frame = (name: string, children: object[] = []) => ({ function: name, time: 0.002, self_time: 0.001, calls: 1, children });
    const batch = JSON.stringify({ records: Array.from({ length: 100 }, (_, i) => ({ route: `/r/${i % 20}`, method: 'GET', status: 200, start_time: Date.now() / 1000, duration_ms: 2 + (i % 7), cpu_time_ms: 1, tree: { kind: 'instrumented', root_frame: frame('GET /r', [frame('a', [frame('b')]), frame('c')]) } })) });
    let sent = 0;
    let stop = false;
    const c0 = cpuNsOf(server.pid!);
    const t0 = performance.now();
    const load = Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        while (!stop) {
          const res = await new Promise<number>((resolve, reject) => {
            const req = http.request(`${base}/api/v1/performance/batch`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-project-key': KEY } }, (r) => {
              r.resume();
              r.on('end', () => resolve(r.statusCode ?? 0));
            });
            req.on('error', reject);
            req.end(batch);
          });
          if (res !== 200) throw new Error(`batch answered ${res}`);
          sent += 100;
        }
        agent.destroy();
      }),
    );
    const during = await paced(`${base}/metrics`, 100, 10_000);
    stop = true;
    await load;
    const seconds = (performance.now() - t0) / 1000;
    const ingestCpu = (cpuNsOf(server.pid!) - c0) / 1e6 / seconds;
    log(`profiling: ingest ${(sent / seconds).toFixed(0)} records/s, /metrics p99 ${during.p99.toFixed(2)} ms (idle ${idle.p99.toFixed(2)})`);

    // the console's profiling page polls the per-route statistics of the last hour: every record the ingest stored is
    // in that window. The query runs one after another for 10 s while /metrics is fetched every 100 ms
    const stats = async (q: string) => (await (await fetch(`${base}/api/v1/performance/${q}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { data: { routes: Array<{ count: number }> } };
    const inWindow = (await stats('routes?minutes=60')).data.routes.reduce((n, r) => n + r.count, 0);
    let polling = true;
    const routeLat: number[] = [];
    const poll = (async () => {
      while (polling) {
        const t0 = performance.now();
        await stats('routes?minutes=60');
        routeLat.push(performance.now() - t0);
      }
    })();
    const duringRoutes = await paced(`${base}/metrics`, 100, 10_000);
    polling = false;
    await poll;
    log(`profiling: routes over ${inWindow} records: ${median(routeLat).toFixed(0)} ms; /metrics p99 meanwhile ${duringRoutes.p99.toFixed(2)} ms`);

    const table = (w: (typeof WORKLOADS)[number]) => {
      const per = results.get(w.name)!;
      // each cycle's figure against bare's in the same cycle, in percent
      const over = (mode: Mode, key: 'cpuUs' | 'pinnedUs') => {
        if (!per[mode][key].length) return 'not run (no taskset or one CPU)';
        const p = per[mode][key].map((v, i) => (v / per.bare[key][i]! - 1) * 100);
        return `${median(p).toFixed(1)} % (${pct(p, 25).toFixed(1)} to ${pct(p, 75).toFixed(1)})`;
      };
      const pinned = (mode: Mode) => (per[mode].pinnedUs.length ? median(per[mode].pinnedUs).toFixed(1) : '–');
      const row = (name: string, mode: Mode) =>
        `| ${name} | ${median(per[mode].cpuUs).toFixed(1)} | ${mode === 'bare' ? '–' : over(mode, 'cpuUs')} | ${per[mode].idleMsPerS.toFixed(2)} | ${pinned(mode)} | ${mode === 'bare' ? '–' : over(mode, 'pinnedUs')} | ${median(per[mode].rps).toFixed(0)} |`;
      return [
        `| ${w.name} Koa app (WORK=${w.work}); paired: ${CYCLES} cycles of ${w.block} requests per app in ${SPLIT} parts; pinned: ${PINNED_CYCLES} cycles of ${WINDOW_S} s windows; ${CLIENTS} clients | paired: app CPU µs / request (median of cycles) | paired: over bare, median of the cycles' ratios (quartiles) | app CPU while idle, ms/s | one at a time, pinned: app CPU µs / request | pinned: over bare (quartiles) | req/s (paired) |`,
        '|---|---|---|---|---|---|---|',
        row('bare', 'bare'),
        row('@perfwatch/sdk: middleware + 3 wrapped calls, every record sent to perfwatch', 'sdk'),
        row('the same with the CPU sampler (inspector, 10 ms, 5 s flush)', 'sampler'),
        row('OpenTelemetry http + koa instrumentation, BatchSpanProcessor, OTLP/HTTP', 'otel'),
        '',
      ];
    };
    const sum = (k: Exclude<keyof AppStats, 'app'>) => appStats.reduce((n, st) => n + (st[k] ?? 0), 0);
    const dropsBy = appStats.filter((st) => st.dropped_queue_full + st.dropped_send_failed > 0).map((st) => `${st.app}: ${st.dropped_queue_full + st.dropped_send_failed}`);
    return [
      ...WORKLOADS.flatMap(table),
      `Records stored by perfwatch from the SDK apps: ${stored} (of ${sdkRequests} requests answered); the apps' SDKs counted ${sum('sent')} sent, ${sum('dropped_queue_full')} dropped with a full queue, ${sum('dropped_send_failed')} dropped after failed sends, ${sum('rejected')} refused by perfwatch, ${sum('takes_failed')} failed takes (${appStats.length} of 4 apps reported${dropsBy.length ? `; drops by app: ${dropsBy.join(', ')}` : ''}); OTLP export requests received: ${spans}.`,
      '',
      '| ingest, 4 clients posting batches of 100 records; then the per-route statistics over them | figure |',
      '|---|---|',
      `| records / s | ${(sent / seconds).toFixed(0)} |`,
      `| perfwatch CPU ms / s during it | ${ingestCpu.toFixed(0)} |`,
      `| /metrics p50 / p99 ms, every 100 ms, idle | ${idle.p50.toFixed(2)} / ${idle.p99.toFixed(2)} |`,
      `| /metrics p50 / p99 ms, every 100 ms, during ingest | ${during.p50.toFixed(2)} / ${during.p99.toFixed(2)} (max ${Math.max(...during.lat).toFixed(1)}, p99.9 ${pct(during.lat, 99.9).toFixed(1)}) |`,
      `| GET /performance/routes?minutes=60 over the ${inWindow} records stored, one after another for 10 s: p50 ms | ${median(routeLat).toFixed(0)} (${routeLat.length} queries) |`,
      `| /metrics p50 / p99 ms, every 100 ms, during those queries | ${duringRoutes.p50.toFixed(2)} / ${duringRoutes.p99.toFixed(2)} (max ${Math.max(...duringRoutes.lat).toFixed(1)}) |`,
      '',
    ].join('\n');
  } finally {
    receiver.close();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
