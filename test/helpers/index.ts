import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startPerfwatch, type Perfwatch } from '../../src/main.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TOKEN = 'test-admin-token';
/** tsx by absolute URL, so the CLI can run from any working directory. */
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export function fixture(name: string): string {
  return path.join(ROOT, 'test/fixtures', name);
}

/** A plugin entry running a fixture script with node. */
export function nodePlugin(id: string, script: string, extra: Record<string, unknown> = {}) {
  return { id, command: process.execPath, args: [fixture(script)], ...extra };
}

export interface TapLike {
  teardown(fn: () => unknown): void;
}

/** A temporary folder removed at teardown (after anything registered later, such as stopping the app, has run). */
export function tempDir(t: TapLike): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'perfwatch-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts the real app in this process on 127.0.0.1 port 0 with a temporary storage folder and config file; stops
 * it (and so every plugin) at teardown.
 */
export async function startApp(t: TapLike, config: Omit<ConfigInput, 'storage'> = {}): Promise<Perfwatch & { dir: string; configFile: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'perfwatch-test-'));
  const configFile = path.join(dir, 'perfwatch.yaml');
  const doc = { ...config, server: { host: '127.0.0.1', port: 0, ...config.server }, storage: { path: path.join(dir, 'data') } };
  await writeFile(configFile, stringify(doc));
  const cfg = await loadConfig({ file: configFile });
  const pw = await startPerfwatch({ config: cfg, logger: pino({ level: 'silent' }), env: { ...process.env, PERFWATCH_ADMIN_TOKEN: TOKEN } });
  t.teardown(async () => {
    await pw.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return Object.assign(pw, { dir, configFile });
}

export const auth = { Authorization: `Bearer ${TOKEN}` };

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

export async function postJson(url: string, headers: Record<string, string> = auth): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

export async function waitFor<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; what?: string | (() => string | Promise<string>) } = {}): Promise<NonNullable<T>> {
  const until = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${typeof opts.what === 'function' ? await opts.what() : (opts.what ?? 'condition')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'latin1').includes(') Z ');
  } catch {
    return false;
  }
}

/** Every pid whose process group is `pgid`, from one walk of /proc. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(name));
    } catch {
      /* exited */
    }
  }
  return out;
}

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The environment without tap's instrumentation: its process-info hook (NODE_OPTIONS) wraps `spawn` in the CLI and
 * ends hooked children when their parent dies, which would falsify the orphan tests. A deployed perfwatch has none.
 * Coverage is switched off in these children (`_TAPJS_PROCESSINFO_COVERAGE_=0`, which tap's spawn wrapper keeps when
 * it re-adds its hook): they load the sources through tsx's own loader, a different transform from tap's, and the
 * report merges raw V8 offsets per file before source-mapping them, so their files made the suite read 99.9-100 %
 * covered where the tests cover ~88 %.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'NODE_OPTIONS' && !k.startsWith('_TAPJS_') && !k.startsWith('TAP_')) env[k] = v;
  env._TAPJS_PROCESSINFO_COVERAGE_ = '0';
  return env;
}

/** Spawns the perfwatch CLI from source (through tsx). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliRun {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(ROOT, 'test/helpers/cli-entry.ts'), ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...cleanEnv(), PERFWATCH_ADMIN_TOKEN: TOKEN, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (err += b));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the "listening on" log line and returns the URL it names. */
export async function cliUrl(run: CliRun): Promise<string> {
  return waitFor(() => /"url":"(http:\/\/[^"]+)"/.exec(run.stdout())?.[1], { timeoutMs: 20_000, what: 'listening log line' });
}

/** Listens on a free port of 127.0.0.1 and closes at teardown; returns the base URL. */
export async function listen(t: TapLike, server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A request a stand-in receiver kept: its path, content type and parsed JSON body. */
export interface Received {
  url: string | undefined;
  type: string | undefined;
  body: any;
}

/** A stand-in HTTP receiver on 127.0.0.1: answers 200 `{}` and keeps each request in `got`, oldest first. */
export async function jsonReceiver(t: TapLike): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const rx = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ url: req.url, type: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return { url: await listen(t, rx), got };
}

/** An OTLP/HTTP JSON receiver (jsonReceiver): `metrics(name)` is every exported metric of that name so far, oldest first. */
export async function otlpJsonReceiver(t: TapLike): Promise<{ url: string; got: Received[]; metrics: (name: string) => any[] }> {
  const { url, got } = await jsonReceiver(t);
  const metrics = (name: string) => got.flatMap((g) => g.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics))).filter((m: any) => m.name === name);
  return { url, got, metrics };
}
