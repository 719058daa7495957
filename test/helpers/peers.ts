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
