/**
 * `perfwatch top` (issue 13): what a watching `top` costs the server, next to one /metrics scrape per second, and what
 * `top` itself costs, with 500 plugins.
 *
 * A real `perfwatch serve` (built, own process) supervises 500 idle `sleep` plugins and collects every second. Three
 * phases alternate, three times, 30 s each: nothing; K (10) /metrics scrapes per second; K `perfwatch top`s (the built
 * CLI, each in a tmux pane of 120×40, refreshing every second). The server's CPU per second comes from /proc; the
 * extra of a phase over "nothing", per second and divided by K, is the cost per scrape or per refresh (one of either is
 * below this VM's noise of ±10 ms/s). top's own CPU is read from its process.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { cpuMsOf, have, median, scrape, waitHttp, waitPluginsRunning, startServe } from './harness.js';

const N = Number(process.env.TOP_PLUGINS ?? 500);
const PHASE_MS = Number(process.env.TOP_PHASE_MS ?? 30_000);
const ROUNDS = Number(process.env.TOP_ROUNDS ?? 3);
/** Tops (and scrapes per second) at once: one of either is below this VM's noise; ten of them are not. */
const K = Number(process.env.TOP_CLIENTS ?? 10);
const SOCKET = `perfwatch-bench-${process.pid}`;

export async function runTopBench(log: (l: string) => void): Promise<string> {
  if (!have('tmux')) return 'tmux not installed (apt-get install tmux).\n';
  const plugins = Array.from({ length: N }, (_, i) => ({ id: `p${i}`, command: 'sleep', args: ['100000', String(i)], start_grace: '100ms' }));
  const token = 'bench-token-0123456789';
  const { dir, base, server } = await startServe('pw-top-', { collection: { interval: '1s' }, log: { level: 'warn' }, plugins }, token);
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
  try {
    await waitHttp(`${base}/readyz`);
    await waitPluginsRunning(base, N);
    log(`top: ${N} plugins running under perfwatch pid ${server.pid}`);
    await new Promise((r) => setTimeout(r, 5000));
    const spent = async (during: () => Promise<void>) => {
      const c0 = cpuMsOf(server.pid!);
      const t0 = performance.now();
      await during();
      return (cpuMsOf(server.pid!) - c0) / ((performance.now() - t0) / 1000);
    };
    const idle = () => new Promise<void>((r) => setTimeout(r, PHASE_MS));
    const scrapes = async () => {
      // K scrapes per second, evenly spaced, each on its own kept-alive connection
      await Promise.all(
        Array.from({ length: K }, async (_, i) => {
          const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
          await new Promise((r) => setTimeout(r, (1000 / K) * i));
          const until = performance.now() + PHASE_MS - 1000;
          while (performance.now() < until) {
            const t0 = performance.now();
            await scrape(`${base}/metrics`, agent);
            await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - t0))));
          }
          agent.destroy();
        }),
      );
      await new Promise((r) => setTimeout(r, 1000));
    };
    const topCpu: number[] = [];
    const watching = async () => {
      const pids: number[] = [];
      for (let i = 0; i < K; i++) {
        tmux('new-session', '-d', '-s', `top${i}`, '-x', '120', '-y', '40', '-e', `PERFWATCH_ADMIN_TOKEN=${token}`, `${path.resolve('bin/perfwatch.js')} top --url ${base} --interval 1s`);
        // tmux runs the command itself (no shell): the pane's process is top's node (env -S execs it)
        const pid = Number(tmux('display', '-p', '-t', `top${i}`, '#{pane_pid}').trim());
        if (!/perfwatch\.js top/.test(execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }))) throw new Error(`pane process ${pid} is not perfwatch top`);
        pids.push(pid);
      }
      await new Promise((r) => setTimeout(r, 3000)); // connected, first frames drawn
      const c0 = pids.map(cpuMsOf);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, PHASE_MS - 3000));
      const wall = performance.now() - t0;
      topCpu.push(median(pids.map((pid, i) => ((cpuMsOf(pid) - c0[i]!) / wall) * 100))); // % of one core, per top
      if (!/p\d+\s+running/.test(tmux('capture-pane', '-p', '-t', 'top0')) || !/\blive\b/.test(tmux('capture-pane', '-p', '-t', 'top0'))) throw new Error('top did not show the plugins live');
      for (let i = 0; i < K; i++) tmux('send-keys', '-t', `top${i}`, 'q');
      await new Promise((r) => setTimeout(r, 500));
      try {
        tmux('kill-server');
      } catch {
        /* ended with the tops */
      }
    };
    const runs: Record<'idle' | 'scrape' | 'top', number[]> = { idle: [], scrape: [], top: [] };
    for (let round = 0; round < ROUNDS; round++) {
      runs.idle.push(await spent(idle));
      runs.scrape.push(await spent(scrapes));
      runs.top.push(await spent(watching));
      log(`  round ${round + 1}: server CPU ms/s idle ${runs.idle.at(-1)!.toFixed(1)}, ${K} scrapes/s ${runs.scrape.at(-1)!.toFixed(1)}, ${K} tops ${runs.top.at(-1)!.toFixed(1)}; one top itself ${topCpu.at(-1)!.toFixed(2)} % of a core`);
    }
    const perScrape = (median(runs.scrape) - median(runs.idle)) / K;
    const perRefresh = (median(runs.top) - median(runs.idle)) / K;
    return [
      '| figure | perfwatch top | peer (same run) | goal |',
      '|---|---|---|---|',
      `| server CPU per top per second, ${N} plugins, ms (${K} tops at once; median of ${ROUNDS} × ${PHASE_MS / 1000} s phases; idle phases ${runs.idle.map((x) => x.toFixed(0)).join('/')} ms/s, ${K} tops ${runs.top.map((x) => x.toFixed(0)).join('/')}) | ${perRefresh.toFixed(2)} per 1 s refresh | /metrics, ${K} scrapes a second in the same rounds (${runs.scrape.map((x) => x.toFixed(0)).join('/')} ms/s): ${perScrape.toFixed(2)} per scrape | less than a scrape per refresh: ${perRefresh < perScrape ? 'met' : 'missed'} |`,
      `| one top's own CPU, % of one core (120×40 pane, 1 s refresh; median of the ${K} per round) | ${topCpu.map((x) => x.toFixed(2)).join(', ')} | – | under 5 %: ${Math.max(...topCpu) < 5 ? 'met' : 'missed'} |`,
      '',
    ].join('\n');
  } finally {
    try {
      tmux('kill-server');
    } catch {
      /* not running */
    }
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 2000).unref();
  }
}
