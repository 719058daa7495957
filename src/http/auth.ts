import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import type { Middleware } from 'koa';
import { ApiError } from './api-error.js';

/** Marks the admin middleware so that tests (and docs) can find every admin route by walking the router. */
export const ADMIN_ROUTE = Symbol.for('perfwatch.adminRoute');

export type AdminMiddleware = Middleware & { [ADMIN_ROUTE]: true };

const digest = (s: string) => createHash('sha256').update(s).digest();

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
  if (fromEnv) return { token: fromEnv, source: 'environment variable PERFWATCH_ADMIN_TOKEN' };
  if (opts.tokenFile) {
    const token = (await readFile(opts.tokenFile, 'utf8')).trim();
    if (!token) throw new Error(`auth.admin_token_file ${opts.tokenFile} is empty`);
    return { token, source: opts.tokenFile };
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
