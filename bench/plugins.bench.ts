/**
 * Issue 2's benchmark: N idle supervised plugins (N = 10, 100, 500).
 *  1. CPU time of one plugin collection cycle (median over >= 100 cycles) next to the floor: re-reading
 *     /proc/<pid>/stat through fds kept open, for the same pids; and next to pidusage given the same pids.
 *  2. /metrics latency over 500 sequential scrapes and req/s under 16 concurrent scrapers, response bytes and RSS of a
 *     real `perfwatch serve` supervising the N plugins, next to prometheus-process-exporter (one group per plugin process)
 *     scraped the same way over the same processes.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import pidusage from 'pidusage';
import { stringify } from 'yaml';
import { PluginCollector } from '../src/collectors/plugin-collector.js';
import { ProcFiles } from '../src/proc/proc-files.js';
import { readSystemConstants } from '../src/collectors/system-constants.js';
import { concurrent, cpuMsOf, freePort, have, median, rssMbOf, sequential, waitHttp, SERVER_NODE_FLAGS } from './harness.js';

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function collectionCycle(pids: number[]) {
  const constants = await readSystemConstants();
  const files = new ProcFiles();
  const collector = new PluginCollector({ procFiles: files, constants, intervalMs: 5000, treeRefreshMs: 15_000 });
  const running = pids.map((pid, i) => ({ id: `p${i}`, pid, startedAtMs: 0 })); // not young: steady-state walk cadence
  // the same plugins, but with a full tree walk every tick (what plugins younger than process_tree_refresh pay)
  const walking = new PluginCollector({ procFiles: files, constants, intervalMs: 5000, treeRefreshMs: 5000 });
  // the floor: stat re-read through kept fds, nothing else
  const fds = pids.map((p) => openSync(`/proc/${p}/stat`, 'r'));
  const buf = Buffer.alloc(4096);
  const cycles = 300;
  const ours: number[] = [];
  const walk: number[] = [];
  const floor: number[] = [];
  // interleaved, so that all three see the same machine noise
  for (let i = 0; i < cycles + 10; i++) {
    let c0 = cpuUs();
    const out = collector.collect(running, 1e12 + i * 5000);
    const a = cpuUs() - c0;
    if (out.length !== pids.length) throw new Error(`collector sampled ${out.length} of ${pids.length}`);
    c0 = cpuUs();
    let n = 0;
    for (const fd of fds) n += readSync(fd, buf, 0, 4096, 0);
    const b = cpuUs() - c0;
    if (n === 0) throw new Error('floor read nothing');
    c0 = cpuUs();
    walking.collect(running, 1e12 + i * 5000);
    const c = cpuUs() - c0;
    if (i >= 10) {
      ours.push(a);
      floor.push(b);
      walk.push(c);
    }
  }
  fds.forEach((fd) => closeSync(fd));
  files.closeAll();

  const pu: number[] = [];
  for (let i = 0; i < 110; i++) {
    const c0 = cpuUs();
    const r = await pidusage(pids);
    if (Object.keys(r).length !== pids.length) throw new Error('pidusage missed pids');
    if (i >= 10) pu.push(cpuUs() - c0);
  }
  pidusage.clear();
  return { oursMs: median(ours) / 1000, walkMs: median(walk) / 1000, floorMs: median(floor) / 1000, pidusageMs: median(pu) / 1000, cycles };
}

/** The flags bin/perfwatch.js's shebang passes to node; BENCH_NODE_FLAGS overrides them for experiments. */
const NODE_FLAGS = SERVER_NODE_FLAGS;

function kill(c: ChildProcess | null) {
  if (c && c.exitCode === null) c.kill('SIGTERM');
}

export async function runPluginsBench(ns: number[], log: (line: string) => void) {
  const rows: string[] = [];
  const peer = have('prometheus-process-exporter');
  for (const n of ns) {
    const dir = mkdtempSync(path.join(tmpdir(), 'perfwatch-bench-'));
    const port = await freePort();
    const plugins = Array.from({ length: n }, (_, i) => ({ id: `p${i}`, command: 'sleep', args: ['100000', String(i)], start_grace: '100ms' }));
    writeFileSync(
      path.join(dir, 'perfwatch.yaml'),
      stringify({ server: { host: '127.0.0.1', port }, collection: { interval: '5s' }, storage: { path: './data' }, log: { level: 'warn' }, plugins }),
    );
    const server = spawn(process.execPath, [...NODE_FLAGS, path.resolve('bin/perfwatch.js'), 'serve', '--config', path.join(dir, 'perfwatch.yaml')], {
      stdio: 'ignore',
      env: { ...process.env, PERFWATCH_ADMIN_TOKEN: 'bench-token-0123456789' },
    });
    let pe: ChildProcess | null = null;
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitHttp(`${base}/readyz`);
      let pids: number[] = [];
      for (let tries = 0; tries < 300; tries++) {
        const st = (await (await fetch(`${base}/plugin/status`)).json()) as { plugins: Record<string, { status: string; pid?: number }> };
        const all = Object.values(st.plugins);
        if (all.length === n && all.every((p) => p.status === 'running' && p.pid)) {
          pids = all.map((p) => p.pid!);
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      if (pids.length !== n) throw new Error(`only ${pids.length} of ${n} plugins running`);
      // wait for a tick that saw them all, so /metrics carries every plugin's series
      for (let tries = 0; tries < 100; tries++) {
        const text = await (await fetch(`${base}/metrics`)).text();
        if ((text.match(/^perfwatch_plugin_threads\{/gm) ?? []).length === n) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      log(`N=${n}: ${n} plugins running under perfwatch pid ${server.pid}`);

      const idleRss = rssMbOf(server.pid!);
      const cyc = await collectionCycle(pids);
      log(`  collection cycle: ours ${cyc.oursMs.toFixed(3)} ms, floor ${cyc.floorMs.toFixed(3)} ms, pidusage ${cyc.pidusageMs.toFixed(3)} ms`);

      const cpu0 = cpuMsOf(server.pid!);
      const seq = await sequential(`${base}/metrics`, 500, 60_000);
      const cpuPerScrape = (cpuMsOf(server.pid!) - cpu0) / seq.count;
      const conc = await concurrent(`${base}/metrics`, 16, 5000);
      const rss = rssMbOf(server.pid!);
      log(`  perfwatch /metrics: p50 ${seq.p50.toFixed(2)} p99 ${seq.p99.toFixed(2)} ms, ${conc.rps.toFixed(0)} req/s, ${seq.bytes} B, RSS ${rss.toFixed(1)} MB`);

      let peerCells = ['–', '–', '–', '–', '–'];
      if (peer) {
        const pport = await freePort();
        writeFileSync(
          path.join(dir, 'pe.yml'),
          stringify({ process_names: [{ name: 'plugin-{{.Matches.id}}', cmdline: ['sleep 100000 (?P<id>[0-9]+)$'] }] }),
        );
        pe = spawn('prometheus-process-exporter', ['-config.path', path.join(dir, 'pe.yml'), '-web.listen-address', `127.0.0.1:${pport}`], { stdio: 'ignore' });
        const pbase = `http://127.0.0.1:${pport}`;
        await waitHttp(`${pbase}/metrics`);
        const ptext = await (await fetch(`${pbase}/metrics`)).text();
        const groups = new Set([...ptext.matchAll(/namedprocess_namegroup_num_procs\{groupname="(plugin-\d+)"\}/g)].map((m) => m[1])).size;
        if (groups !== n) throw new Error(`process-exporter sees ${groups} groups, expected ${n}`);
        const pseq = await sequential(`${pbase}/metrics`, 500, 45_000);
        const pconc = await concurrent(`${pbase}/metrics`, 16, 5000);
        const prss = rssMbOf(pe.pid!);
        peerCells = [
          `${pseq.p50.toFixed(2)} / ${pseq.p99.toFixed(2)} (${pseq.count} scrapes)`,
          pconc.rps.toFixed(1),
          String(pseq.bytes),
          prss.toFixed(1),
          `${(pseq.p50 / seq.p50).toFixed(0)}×`,
        ];
        log(`  process-exporter: p50 ${pseq.p50.toFixed(2)} ms over ${pseq.count}, ${pconc.rps.toFixed(1)} req/s, ${pseq.bytes} B`);
      }
      rows.push(
        `| ${n} | ${cyc.oursMs.toFixed(3)} | ${cyc.floorMs.toFixed(3)} | ${(cyc.oursMs / cyc.floorMs).toFixed(2)}× | ${cyc.walkMs.toFixed(3)} | ${cyc.pidusageMs.toFixed(3)} ` +
          `| ${seq.p50.toFixed(2)} / ${seq.p99.toFixed(2)} | ${cpuPerScrape.toFixed(2)} | ${conc.rps.toFixed(0)} | ${seq.bytes} | ${idleRss.toFixed(1)} / ${rss.toFixed(1)} ` +
          `| ${peerCells.join(' | ')} |`,
      );
    } finally {
      kill(pe);
      kill(server);
      await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return [
    '| N | cycle CPU ms (ours, median of 300) | floor: fd-reuse stat ms | ours ÷ floor | ours, tree walk every tick | pidusage ms | perfwatch /metrics p50 / p99 ms (500 seq.) | perfwatch CPU ms per scrape | perfwatch req/s, 16 conc. | perfwatch bytes | perfwatch RSS MB, idle / after the scrape load | process-exporter p50 / p99 ms | process-exporter req/s, 16 conc. | process-exporter bytes | process-exporter RSS MB | p50 ratio |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
