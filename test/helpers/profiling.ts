import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { auth, getJson, startApp } from './index.js';

/** Shared by the request-profiling tests (test/integration/profiling*.test.ts). */
export const KEY = 'shop-key-0123456789abcdef';
export const OTHER_KEY = 'blog-key-0123456789abcdef';

/** A perfwatch that takes records for two projects. */
export async function agent(t: Parameters<typeof startApp>[0], extra: Record<string, unknown> = {}) {
  return startApp(t, { profiling: { projects: [{ name: 'shop', key: KEY }, { name: 'blog', key: OTHER_KEY }], ...extra } });
}

export async function listen(t: { teardown(fn: () => unknown): void }, server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A stand-in HTTP receiver that answers `{}` and keeps each request's path, content type and JSON body. */
export async function receiver(t: { teardown(fn: () => unknown): void }): Promise<{ url: string; got: any[] }> {
  const got: any[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ url: req.url, type: req.headers['content-type'], body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return { url: await listen(t, server), got };
}

export const records = async (url: string, query = '') => (await getJson(`${url}/api/v1/performance/records?limit=1000${query}`, auth)).body.data.records as Array<Record<string, any>>;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A frame of a stored tree, as perfwatch answers it; all frames of a tree; whether one is named `name`. */
export type F = { function: string; file_path_short: string; time: number; self_time: number; children: F[] };
export const frames = (f: F): F[] => [f, ...f.children.flatMap(frames)];
export const has = (f: F, name: string) => frames(f).some((x) => x.function === name);
