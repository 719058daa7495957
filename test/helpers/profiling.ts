import { auth, getJson, startApp } from './index.js';

/** Shared by the request-profiling tests (test/integration/profiling*.test.ts). */
export const KEY = 'shop-key-0123456789abcdef';
export const OTHER_KEY = 'blog-key-0123456789abcdef';

/** A perfwatch that takes records for two projects. */
export async function agent(t: Parameters<typeof startApp>[0], extra: Record<string, unknown> = {}) {
  return startApp(t, { profiling: { projects: [{ name: 'shop', key: KEY }, { name: 'blog', key: OTHER_KEY }], ...extra } });
}

export const records = async (url: string, query = '') => (await getJson(`${url}/api/v1/performance/records?limit=1000${query}`, auth)).body.data.records as Array<Record<string, any>>;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A frame of a stored tree, as perfwatch answers it; all frames of a tree; whether one is named `name`. */
export type F = { function: string; file_path_short: string; time: number; self_time: number; children: F[] };
export const frames = (f: F): F[] => [f, ...f.children.flatMap(frames)];
export const has = (f: F, name: string) => frames(f).some((x) => x.function === name);
