import { createWriteStream, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';

/** `perfwatch export`: streams `GET /api/v1/performance/export` of a running perfwatch into files (docs/api.md). */
export interface ExportArgs {
  url: string;
  token: string;
  format: 'json' | 'csv';
  layout: 'long' | 'per-plugin';
  plugin?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  period?: string | undefined;
  bom: boolean;
  /** A file, or for several files (or none given) a folder; default the working directory. */
  out?: string | undefined;
}

export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

async function fetchOk(url: string, token: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  } catch (err) {
    throw new ExportError(`cannot reach ${new URL(url).origin}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`);
  }
  if (!res.ok) {
    const text = await res.text();
    let message = text.slice(0, 300);
    try {
      const body = JSON.parse(text) as { error?: { message?: string }; detail?: string };
      message = body.error?.message ?? body.detail ?? message;
    } catch {
      /* not JSON */
    }
    throw new ExportError(`${res.status} from ${new URL(url).pathname}: ${message}`);
  }
  return res;
}

/** The file name the server proposes (Content-Disposition), else `fallback`. */
function proposedName(res: Response, fallback: string): string {
  const m = /filename="([^"/\\]+)"/.exec(res.headers.get('content-disposition') ?? '');
  return m?.[1] ?? fallback;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Writes the export; returns the files written. */
export async function runExport(a: ExportArgs): Promise<string[]> {
  const base = a.url.replace(/\/+$/, '');
  const query = (plugin?: string) => {
    const q = new URLSearchParams({ format: a.format, layout: a.layout });
    for (const [k, v] of [['plugin', plugin], ['since', a.since], ['until', a.until], ['period', a.period]] as const) if (v !== undefined) q.set(k, v);
    if (a.bom) q.set('bom', 'true');
    return `${base}/api/v1/performance/export?${q}`;
  };
  let plugins: Array<string | undefined> = [a.plugin];
  if (a.format === 'csv' && a.layout === 'per-plugin' && a.plugin === undefined) {
    const res = await fetchOk(`${base}/plugins`, a.token);
    plugins = ((await res.json()) as { plugins: Array<{ id: string }> }).plugins.map((p) => p.id);
  }
  const folder = a.out === undefined || plugins.length > 1 || isDir(a.out) ? (a.out ?? '.') : null;
  const written: string[] = [];
  for (const plugin of plugins) {
    const res = await fetchOk(query(plugin), a.token);
    const file = folder === null ? a.out! : path.join(folder, proposedName(res, `export.${a.format}`));
    await pipeline(Readable.fromWeb(res.body as ReadableStream<Uint8Array>), createWriteStream(file));
    written.push(file);
  }
  return written;
}

/** The admin token: PERFWATCH_ADMIN_TOKEN, else the first line of `file`. */
export function readToken(env: NodeJS.ProcessEnv, file: string | undefined): string | null {
  if (env.PERFWATCH_ADMIN_TOKEN) return env.PERFWATCH_ADMIN_TOKEN;
  if (!file) return null;
  try {
    return readFileSync(file, 'utf8').split('\n')[0]!.trim() || null;
  } catch {
    return null;
  }
}
