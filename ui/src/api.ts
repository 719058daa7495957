/**
 * The console's only way to the agent: same-origin fetch of the JSON API (with the admin token, when one was entered,
 * as a Bearer header) and the `/ws/performance` feed. Errors come back as `ApiFailure` with the API's own code and
 * message, whatever envelope the route family answers in.
 */

const TOKEN_KEY = 'perfwatch.token';

export function getToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  tokenListeners.forEach((l) => l());
}

const tokenListeners = new Set<() => void>();
export function onTokenChange(l: () => void): () => void {
  tokenListeners.add(l);
  return () => tokenListeners.delete(l);
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Every 401 is reported here too, so the shell can say once, clearly, that the token is missing or wrong. */
const authListeners = new Set<(f: ApiFailure) => void>();
export function onAuthFailure(l: (f: ApiFailure) => void): () => void {
  authListeners.add(l);
  return () => authListeners.delete(l);
}

/** The three envelopes' errors: `{detail, code}` (plugin), `{status: "error", error}` (performance), `{error}` (plain). */
function failureOf(status: number, body: any): ApiFailure {
  const e = body?.error ?? (body && 'detail' in body ? { code: body.code, message: body.detail } : null);
  return new ApiFailure(status, String(e?.code ?? `HTTP_${status}`), String(e?.message ?? `HTTP ${status}`));
}

export async function api<T = any>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch (err) {
    throw new ApiFailure(0, 'NETWORK', `perfwatch did not answer (${(err as Error).message})`);
  }
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: the status says it */
  }
  if (!res.ok) {
    const f = failureOf(res.status, body);
    if (res.status === 401) authListeners.forEach((l) => l(f));
    throw f;
  }
  // /api/v1/performance wraps answers in {status: "success", data}
  return (body && body.status === 'success' && 'data' in body ? body.data : body) as T;
}

/** A download through fetch (it needs the Bearer header, so a plain link cannot do it). */
export async function download(path: string): Promise<void> {
  const token = getToken();
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) {
    let body: any = null;
    try {
      body = await res.json();
    } catch {
      /* the status says it */
    }
    throw failureOf(res.status, body);
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'download';
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export interface HostUpdate {
  cpu: { percent: number; cores: number };
  memory: { total: number; available: number; used: number; percent: number };
  disk: { percent: number; read_bytes: number; write_bytes: number };
  network: { bytes_sent: number; bytes_recv: number; upload_rate: number; download_rate: number };
  processes: { total: number; running: number; sleeping: number; zombie: number };
  connections: { active: number; listening: number; established: number };
  load_average: [number, number, number];
}

export interface PluginUpdate {
  plugin_id: string;
  pid: number;
  cpu_percent: number;
  memory_mb: number;
  memory_percent: number;
  num_threads: number;
  service?: { total_calls: number; failed_calls: number; calls_per_second: number; error_rate: number; avg_response_time: number | null; p95_response_time: number | null };
}

export type LiveMessage =
  | { type: 'metric_update'; metric: ({ source: 'host' } & HostUpdate) | { source: 'plugins'; plugins: PluginUpdate[] }; timestamp: string }
  | { type: 'system_change'; change: { kind: string; plugin_id?: string; status?: string; health?: string } }
  | { type: 'alert_triggered' | 'alert_resolved'; alert: any }
  | { type: 'hello' | 'subscribed' | 'error' };

type Listener = (m: LiveMessage) => void;

/**
 * One WebSocket for the whole page, opened on the first listener and reconnected with backoff (1 s doubling to 15 s).
 * `connected` is what the header's dot shows.
 */
class LiveFeed {
  #ws: WebSocket | null = null;
  #listeners = new Set<Listener>();
  #stateListeners = new Set<(up: boolean) => void>();
  #retryMs = 1000;
  connected = false;
  /** False until the first connection: the header says "connecting", not "reconnecting". */
  everConnected = false;

  subscribe(l: Listener): () => void {
    this.#listeners.add(l);
    if (!this.#ws) this.#open();
    return () => this.#listeners.delete(l);
  }

  onState(l: (up: boolean) => void): () => void {
    this.#stateListeners.add(l);
    return () => this.#stateListeners.delete(l);
  }

  #setState(up: boolean) {
    this.connected = up;
    if (up) this.everConnected = true;
    this.#stateListeners.forEach((l) => l(up));
  }

  #open() {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/performance`);
    this.#ws = ws;
    ws.onopen = () => {
      this.#retryMs = 1000;
      this.#setState(true);
    };
    ws.onmessage = (e) => {
      let m: LiveMessage;
      try {
        m = JSON.parse(String(e.data));
      } catch {
        return;
      }
      this.#listeners.forEach((l) => l(m));
    };
    ws.onclose = () => {
      this.#setState(false);
      setTimeout(() => this.#open(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 15_000);
    };
  }
}

export const live = new LiveFeed();
