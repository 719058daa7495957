import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import Router from '@koa/router';
import type { Context } from 'koa';
import { ApiError } from '../http/api-error.js';

const gzipAsync = promisify(gzip);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/**
 * Same origin only: scripts, styles, fetches and the WebSocket go to this agent and nowhere else, no inline code,
 * no framing. The console needs nothing more, so a script injected through data (a plugin id, an alert message)
 * could not load or send anything either.
 */
export const CONSOLE_CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface Asset {
  type: string;
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

/** Every file of the built console, compressed once: the whole console is about 130 KiB, so it lives in memory. */
async function loadAssets(dir: string): Promise<Map<string, Asset>> {
  const out = new Map<string, Asset>();
  for (const name of await readdir(dir)) {
    const type = TYPES[path.extname(name)];
    if (!type) continue;
    const body = await readFile(path.join(dir, name));
    out.set(name, { type, body, gzipped: await gzipAsync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  if (!out.has('index.html')) throw Object.assign(new Error(`${dir} has no index.html`), { code: 'ENOENT' });
  return out;
}

export interface ConsoleOptions {
  /** The folder `scripts/build-ui.mjs` wrote (`dist/ui`). */
  dir: string;
}

/**
 * The web console (docs/console.md): `GET /` is its page, `GET /ui/<file>` its script, stylesheet and icon. The files
 * are read at the first request and kept; until they exist (`npm run build`) both answer 503 `CONSOLE_NOT_BUILT`.
 * Answers carry an ETag (a reload costs a 304), gzip when asked, and the CSP above.
 */
export function createConsoleRouter(o: ConsoleOptions): Router {
  const router = new Router();
  let assets: Promise<Map<string, Asset>> | null = null;
  const load = async (): Promise<Map<string, Asset>> => {
    assets ??= loadAssets(o.dir);
    try {
      return await assets;
    } catch (err) {
      assets = null; // built later (or fixed): try again on the next request
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ApiError('CONSOLE_NOT_BUILT', `the web console is not built (${o.dir} is missing); run \`npm run build\``);
      throw err;
    }
  };
  const send = (ctx: Context, a: Asset) => {
    ctx.set('Content-Security-Policy', CONSOLE_CSP);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', 'no-cache'); // always revalidated: an upgraded agent never serves an old script
    ctx.set('Vary', 'Accept-Encoding');
    ctx.set('ETag', a.etag);
    ctx.type = a.type;
    if (ctx.get('if-none-match') === a.etag) {
      ctx.status = 304;
      return;
    }
    if (ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
      ctx.set('Content-Encoding', 'gzip');
      ctx.body = a.gzipped;
    } else ctx.body = a.body;
  };
  router.get('/', async (ctx) => send(ctx, (await load()).get('index.html')!));
  router.get('/ui/:file', async (ctx) => {
    const a = (await load()).get(ctx.params.file!);
    if (!a) throw new ApiError('NOT_FOUND', `no console file ${ctx.params.file}`);
    send(ctx, a);
  });
  return router;
}
