import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Middleware } from 'koa';
import { StartupError } from '../model/errors.js';
import { ApiError } from './api-error.js';

/** Marks the admin middleware so that tests (and docs) can find every admin route by walking the router. */
export const ADMIN_ROUTE = Symbol.for('perfwatch.adminRoute');

export type AdminMiddleware = Middleware & { [ADMIN_ROUTE]: true };

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * True when the `Authorization` header is `Bearer <token>`. Both sides are hashed first, so the comparison is
 * constant-time whatever the lengths. The admin check and the plugins' own tokens (api/plugin-auth.ts) use it.
 */
export function bearerMatches(header: string, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

/**
 * `Authorization: Bearer <token>` check. Both sides are hashed first so the comparison is constant-time whatever the
 * lengths. A missing or wrong token gets 401 with `WWW-Authenticate: Bearer` before the handler runs.
 */
export function createAdminAuth(token: string): AdminMiddleware {
  const expected = digest(token);
  const mw = (async (ctx, next) => {
    const header = ctx.get('authorization');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
      ctx.set('WWW-Authenticate', m ? 'Bearer realm="perfwatch", error="invalid_token"' : 'Bearer realm="perfwatch"');
      throw new ApiError('UNAUTHORIZED', m ? 'the admin token is not valid' : 'this route needs Authorization: Bearer <admin token>');
    }
    await next();
  }) as AdminMiddleware;
  mw[ADMIN_ROUTE] = true;
  return mw;
}

/** Shortest admin token accepted: 16 characters (the generated one is 43). */
export const MIN_TOKEN_LENGTH = 16;

function checkedToken(token: string, where: string): string {
  if (token.length < MIN_TOKEN_LENGTH) throw new StartupError(`${where}: the admin token must be at least ${MIN_TOKEN_LENGTH} characters (got ${token.length}); \`openssl rand -base64 32\` makes one`);
  return token;
}

export interface AdminToken {
  token: string;
  /** Where it came from, for the start-up log (never the token itself). */
  source: string;
}

/**
 * The admin token: `PERFWATCH_ADMIN_TOKEN`, else `auth.admin_token_file`, else `<storage>/admin_token` (created with
 * mode 0600 and a random 256-bit token when missing, reused when present). Throws with a clear message on an empty
 * or unreadable file.
 */
export async function resolveAdminToken(opts: { env: NodeJS.ProcessEnv; tokenFile?: string; storagePath: string }): Promise<AdminToken> {
  const fromEnv = opts.env.PERFWATCH_ADMIN_TOKEN?.trim();
  if (fromEnv) return { token: checkedToken(fromEnv, 'PERFWATCH_ADMIN_TOKEN'), source: 'environment variable PERFWATCH_ADMIN_TOKEN' };
  if (opts.tokenFile) {
    const token = (await readFile(opts.tokenFile, 'utf8')).trim();
    if (!token) throw new StartupError(`auth.admin_token_file ${opts.tokenFile} is empty`);
    const mode = (await stat(opts.tokenFile)).mode & 0o777;
    // a secret others can read is not a secret: refused like ssh refuses a private key with the same mode
    if (mode & 0o077) throw new StartupError(`auth.admin_token_file ${opts.tokenFile} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it`);
    return { token: checkedToken(token, `auth.admin_token_file ${opts.tokenFile}`), source: opts.tokenFile };
  }
  const file = path.join(opts.storagePath, 'admin_token');
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token) {
      await chmod(file, 0o600);
      return { token, source: file };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('base64url');
  await mkdir(opts.storagePath, { recursive: true });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { token, source: file };
}

/**
 * The write check when `auth.open_writes` lets writes through without the token: a browser page of another origin
 * must not be able to use it (a `text/plain` POST is a "simple" request that needs no CORS preflight). Browsers send
 * `Origin` on every cross-origin POST and `Sec-Fetch-Site` on every request; clients that are not browsers (curl,
 * SDKs) send neither and pass. A request with `Authorization` is checked as on any admin route.
 */
export function createSameOriginWrites(requireAdmin: AdminMiddleware): Middleware {
  return async (ctx, next) => {
    if (ctx.get('authorization')) return requireAdmin(ctx, next); // a token is checked as on any admin route
    const site = ctx.get('sec-fetch-site');
    const origin = ctx.get('origin');
    let crossOrigin = site === 'cross-site' || site === 'same-site';
    if (!crossOrigin && origin) {
      try {
        crossOrigin = new URL(origin).host !== ctx.host;
      } catch {
        crossOrigin = true; // "null" (sandboxed frames, file:) or garbage
      }
    }
    if (crossOrigin) throw new ApiError('FORBIDDEN_ORIGIN', `writes without the admin token are taken only from the same origin (Origin ${JSON.stringify(origin.slice(0, 100)) || 'absent'}, Sec-Fetch-Site ${site || 'absent'}); send Authorization: Bearer <admin token>`);
    await next();
  };
}
