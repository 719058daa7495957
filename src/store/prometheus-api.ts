import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { promFloat, scanMatrix } from './prom-matrix.js';

/**
 * A client of the Prometheus HTTP query API (`/api/v1/query`, `/api/v1/query_range`), as Prometheus, VictoriaMetrics,
 * Thanos and Mimir serve it. node:http(s) with a keep-alive agent rather than fetch: TLS options (CA, client
 * certificate, server name) are plain agent options, and one kept connection is most of what a query costs here.
 */

export interface PrometheusApiOptions {
  url: string;
  timeoutMs: number;
  headers: Readonly<Record<string, string>>;
  basicAuth?: { username: string; password: string };
  bearerToken?: string;
  tls: { ca?: string; cert?: string; key?: string; serverName?: string; insecureSkipVerify: boolean };
}

/** One series of an answer: its labels and its points, as two columns: epoch ms and values. */
export interface PromSeries {
  metric: Record<string, string>;
  times: Float64Array;
  values: Float64Array;
}

/**
 * Why a query failed: the backend is unreachable or late (`unavailable`, `timeout`), refused it (`bad_response`), or
 * was not asked because it failed moments ago (`backend_down`, history.prometheus.retry_after).
 */
export class BackendError extends Error {
  readonly reason: 'timeout' | 'unavailable' | 'bad_response' | 'backend_down';
  constructor(reason: BackendError['reason'], message: string) {
    super(message);
    this.name = 'BackendError';
    this.reason = reason;
  }
}

/** Largest answer read (bytes): a backend that answers more is refused rather than held in memory. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** Reads the secrets and certificates the options name (once, at start): a missing file is a start-up error for the caller to word. */
export function readBackendFiles(o: {
  basic_auth?: { username: string; password_file: string } | undefined;
  bearer_token_file?: string | undefined;
  tls: { ca_file?: string | undefined; cert_file?: string | undefined; key_file?: string | undefined; server_name?: string | undefined; insecure_skip_verify: boolean };
  env: NodeJS.ProcessEnv;
}): Pick<PrometheusApiOptions, 'basicAuth' | 'bearerToken' | 'tls'> {
  const read = (f: string) => readFileSync(f, 'utf8');
  const out: Pick<PrometheusApiOptions, 'basicAuth' | 'bearerToken' | 'tls'> = {
    tls: {
      ...(o.tls.ca_file ? { ca: read(o.tls.ca_file) } : {}),
      ...(o.tls.cert_file ? { cert: read(o.tls.cert_file) } : {}),
      ...(o.tls.key_file ? { key: read(o.tls.key_file) } : {}),
      ...(o.tls.server_name ? { serverName: o.tls.server_name } : {}),
      insecureSkipVerify: o.tls.insecure_skip_verify,
    },
  };
  if (o.basic_auth) out.basicAuth = { username: o.basic_auth.username, password: o.env.PERFWATCH_HISTORY_PASSWORD ?? read(o.basic_auth.password_file).trim() };
  const bearer = o.env.PERFWATCH_HISTORY_BEARER_TOKEN ?? (o.bearer_token_file ? read(o.bearer_token_file).trim() : undefined);
  if (bearer) out.bearerToken = bearer;
  return out;
}

export class PrometheusApi {
  readonly url: URL;
  #o: PrometheusApiOptions;
  #agent: http.Agent;
  #headers: Record<string, string>;

  constructor(o: PrometheusApiOptions) {
    this.#o = o;
    this.url = new URL(o.url.endsWith('/') ? o.url : `${o.url}/`);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') throw new TypeError(`history backend URL must be http or https, got ${this.url.protocol}`);
    this.#agent =
      this.url.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets: 16, ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, servername: o.tls.serverName, rejectUnauthorized: !o.tls.insecureSkipVerify })
        : new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.#headers = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'perfwatch', ...o.headers };
    if (o.basicAuth) this.#headers.authorization = `Basic ${Buffer.from(`${o.basicAuth.username}:${o.basicAuth.password}`).toString('base64')}`;
    if (o.bearerToken) this.#headers.authorization = `Bearer ${o.bearerToken}`;
  }

  /** Instant query at `timeMs`: a vector (one value per series) or, for a range selector, a matrix of raw samples. */
  query(expr: string, timeMs: number): Promise<PromSeries[]> {
    return this.#post('api/v1/query', { query: expr, time: seconds(timeMs) });
  }

  /** Range query: `expr` evaluated at `startMs + k·stepMs` up to `endMs`. */
  queryRange(expr: string, startMs: number, endMs: number, stepMs: number): Promise<PromSeries[]> {
    return this.#post('api/v1/query_range', { query: expr, start: seconds(startMs), end: seconds(endMs), step: seconds(stepMs) });
  }

  close(): void {
    this.#agent.destroy();
  }

  /** POST (form-encoded, so long queries fit) with the configured timeout, sent to the backend too. */
  #post(path: string, params: Record<string, string>): Promise<PromSeries[]> {
    const timeoutMs = this.#o.timeoutMs;
    // a Buffer: written as it is, where a string is encoded again inside the socket write. encodeURIComponent rather
    // than URLSearchParams, whose encoder built the 4 KB query a character at a time (58 KB of garbage per query)
    let form = `timeout=${timeoutMs}ms`;
    for (const k in params) form += `&${k}=${encodeURIComponent(params[k]!)}`;
    const body = Buffer.from(form, 'latin1');
    const target = new URL(path, this.url);
    const lib = target.protocol === 'https:' ? https : http;
    return new Promise<PromSeries[]>((resolve, reject) => {
      const req = lib.request(target, { method: 'POST', agent: this.#agent, headers: { ...this.#headers, 'content-length': body.length } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) {
            req.destroy(new BackendError('bad_response', `answer larger than ${MAX_ANSWER_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          try {
            const body = Buffer.concat(chunks);
            resolve((res.statusCode === 200 ? scanMatrix(body) : null) ?? parseAnswer(res.statusCode ?? 0, body.toString('utf8')));
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', (err) => reject(asBackendError(err)));
      });
      // one deadline for connect, send and read: never wait past the timeout
      const timer = setTimeout(() => req.destroy(new BackendError('timeout', `no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('error', (err) => reject(asBackendError(err)));
      req.end(body);
    });
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function asBackendError(err: Error): BackendError {
  return err instanceof BackendError ? err : new BackendError('unavailable', err.message || (err as NodeJS.ErrnoException).code || 'connection failed');
}

/** The answer's series, values as numbers (`"NaN"`, `"+Inf"` included); a refusal or a malformed body throws. */
export function parseAnswer(status: number, text: string): PromSeries[] {
  let doc: { status?: string; error?: string; errorType?: string; data?: { resultType?: string; result?: unknown } };
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BackendError(status >= 500 || status === 0 ? 'unavailable' : 'bad_response', `HTTP ${status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (status !== 200 || doc.status !== 'success') {
    throw new BackendError(status >= 500 ? 'unavailable' : 'bad_response', `HTTP ${status}: ${doc.errorType ?? 'error'}: ${String(doc.error ?? text).slice(0, 300)}`);
  }
  const type = doc.data?.resultType;
  const result = doc.data?.result;
  if (!Array.isArray(result)) throw new BackendError('bad_response', 'answer has no data.result list');
  const out: PromSeries[] = [];
  for (const r of result as Array<{ metric?: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }>) {
    const pts = type === 'vector' ? (r.value ? [r.value] : []) : (r.values ?? []);
    // columns of doubles: no tuple and no boxed number per point (a history answer holds ~1500 points)
    const times = new Float64Array(pts.length);
    const values = new Float64Array(pts.length);
    for (let i = 0; i < pts.length; i++) {
      const pt = pts[i]!;
      times[i] = Math.round(pt[0] * 1000);
      values[i] = promFloat(pt[1]);
    }
    out.push({ metric: r.metric ?? {}, times, values });
  }
  return out;
}
