import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface TapLike {
  teardown(fn: () => unknown): void;
}

/**
 * Starts a Prometheus-family binary (prometheus, prometheus-alertmanager) listening on 127.0.0.1 port 0 and resolves
 * with its URL once it logs `msg="Listening on" address=…`. Killed at teardown, its data folder removed.
 */
export async function startPeer(t: TapLike, command: string, args: (dataDir: string) => string[]): Promise<{ url: string; dataDir: string; log: () => string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `perfwatch-${path.basename(command)}-`));
  const child = spawn(command, args(dataDir), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  t.teardown(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start listening:\n${log}`)), 20_000);
    const onData = (d: Buffer) => {
      log += d;
      const m = /msg="Listening on" address=(\S+)/.exec(log) ?? /msg="Listening on" .*?address=(\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code}:\n${log}`));
    });
  });
  return { url, dataDir, log: () => log };
}

/** A free TCP port on 127.0.0.1 (for peers that cannot listen on port 0 and say which port they got). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a peer on a port chosen beforehand and resolves once `readyPath` answers 200. Killed at teardown (SIGTERM, then
 * SIGKILL after 5 s), its data folder removed.
 */
export async function startPeerOnPort(
  t: TapLike,
  command: string,
  port: number,
  args: (dataDir: string) => string[],
  readyPath: string,
): Promise<{ url: string; stop: () => Promise<void>; log: () => string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `perfwatch-${path.basename(command)}-`));
  const child = spawn(command, args(dataDir), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  t.teardown(async () => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}:\n${log}`);
    try {
      if ((await fetch(url + readyPath)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until) throw new Error(`${command} not ready on ${url}${readyPath}:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop, log: () => log };
}
