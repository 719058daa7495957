import { execFile } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/** What one run of a check found. `error` is null when it passed. */
export interface ProbeResult {
  ok: boolean;
  error: string | null;
  durationMs: number;
  /** No verdict yet (a heartbeat not due yet): counts neither way. */
  pending?: boolean;
}

const BODY_LIMIT = 64 * 1024;
const OUTPUT_LIMIT = 4096;

/**
 * GET `url` on a fresh connection (like blackbox_exporter: no pooled socket hides a server that stopped accepting),
 * without following redirects. Passes when the status is in `expectStatus` (default 200–399) and, when given, the
 * first 64 KiB of the body contain `expectBody`. Cut at `timeoutMs`.
 */
export function probeHttp(url: string, o: { timeoutMs: number; expectStatus?: readonly number[]; expectBody?: string }): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const finish = settleOnce(resolve, o.timeoutMs, () => req.destroy());
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { agent: false, headers: { 'user-agent': 'perfwatch-health-check', accept: '*/*' } }, (res) => {
      const status = res.statusCode ?? 0;
      const statusOk = o.expectStatus ? o.expectStatus.includes(status) : status >= 200 && status < 400;
      if (!statusOk) return finish(`HTTP ${status}${o.expectStatus ? `, expected ${o.expectStatus.join(' or ')}` : ''}`);
      if (o.expectBody === undefined) return finish(null);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.includes(o.expectBody!)) finish(null);
        else if (body.length >= BODY_LIMIT) finish(`body does not contain ${JSON.stringify(o.expectBody)} in its first 64 KiB`);
      });
      res.on('end', () => finish(body.includes(o.expectBody!) ? null : `body does not contain ${JSON.stringify(o.expectBody)}`));
      res.on('error', (err) => finish(err.message));
    });
    req.on('error', (err) => finish(describe(err)));
  });
}

/** Connects to `host:port`; passes once the connection is open. Cut at `timeoutMs`. */
export function probeTcp(address: string, o: { timeoutMs: number }): Promise<ProbeResult> {
  const cut = address.lastIndexOf(':');
  const host = address.slice(0, cut).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(cut + 1));
  return new Promise((resolve) => {
    const finish = settleOnce(resolve, o.timeoutMs, () => sock.destroy());
    const sock = net.connect({ host, port });
    sock.once('connect', () => finish(null));
    sock.once('error', (err) => finish(describe(err)));
  });
}

/** Runs a command without a shell; exit 0 passes, anything else fails with the end of its output. Killed at `timeoutMs`. */
export function probeExec(command: readonly string[], o: { timeoutMs: number; cwd: string; env: NodeJS.ProcessEnv }): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(command[0]!, command.slice(1), { cwd: o.cwd, env: o.env, timeout: o.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 }, (err, stdout, stderr) => {
      const durationMs = performance.now() - t0;
      if (!err) return resolve({ ok: true, error: null, durationMs });
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string; signal?: string };
      const output = `${stderr}${stdout}`.trim().slice(-OUTPUT_LIMIT);
      let error: string;
      if (e.killed && e.signal === 'SIGKILL') error = `timed out after ${o.timeoutMs} ms`;
      else if (typeof e.code === 'number') error = `exit code ${e.code}${output ? `: ${output}` : ''}`;
      else if (e.signal) error = `killed by ${e.signal}${output ? `: ${output}` : ''}`;
      else error = describe(e);
      resolve({ ok: false, error, durationMs });
    });
  });
}

/**
 * The one way a network probe ends: the first of its outcome or its timeout wins, the socket is closed (`close`), and
 * the result carries the time since the probe started. Later calls do nothing.
 */
function settleOnce(resolve: (r: ProbeResult) => void, timeoutMs: number, close: () => void): (error: string | null) => void {
  const t0 = performance.now();
  let done = false;
  const finish = (error: string | null) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    close();
    resolve({ ok: error === null, error, durationMs: performance.now() - t0 });
  };
  const timer = setTimeout(() => finish(`timed out after ${timeoutMs} ms`), timeoutMs);
  return finish;
}

function describe(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `cannot resolve ${(err as { hostname?: string }).hostname ?? 'the host'}`;
  if (err.code === 'ENOENT' && 'path' in err) return `command not found: ${String(err.path)}`;
  return err.code ? `${err.code}: ${err.message}` : err.message;
}
