import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

export const WS_EVENTS = ['metric_update', 'system_change', 'alert_triggered', 'alert_resolved'] as const;
export type WsEvent = (typeof WS_EVENTS)[number];

export interface WsHubOptions {
  path: string;
  maxClients: number;
  /** Bytes queued for one client beyond which it is closed with 1008: a client that does not read costs bounded memory. */
  maxBufferedBytes: number;
  pingIntervalMs: number;
  onDrop?: (reason: 'slow_consumer' | 'no_pong') => void;
}

interface Client {
  ws: WebSocket;
  events: Set<WsEvent>;
  alive: boolean;
}

/**
 * `/ws/performance` on the HTTP server: read-only; each message `{"type": <event>, …}`. A client may send
 * `{"type": "subscribe", "events": [...]}` to narrow what it gets. Messages are serialized once per event for every
 * client; a client whose send queue passes `maxBufferedBytes` is closed (1008) instead of buffering without bound, so it
 * neither grows perfwatch's memory nor slows the others.
 */
export class WsHub {
  #wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  #clients = new Set<Client>();
  #opts: WsHubOptions;
  #ping: NodeJS.Timeout;

  constructor(server: Server, opts: WsHubOptions) {
    this.#opts = opts;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== opts.path) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (this.#clients.size >= opts.maxClients) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
    });
    this.#ping = setInterval(() => {
      for (const c of this.#clients) {
        if (!c.alive) {
          opts.onDrop?.('no_pong');
          c.ws.terminate();
          continue;
        }
        c.alive = false;
        c.ws.ping();
      }
    }, opts.pingIntervalMs);
    this.#ping.unref();
  }

  get size(): number {
    return this.#clients.size;
  }

  #accept(ws: WebSocket): void {
    const c: Client = { ws, events: new Set(WS_EVENTS), alive: true };
    this.#clients.add(c);
    ws.on('pong', () => (c.alive = true));
    ws.on('close', () => this.#clients.delete(c));
    ws.on('error', () => this.#clients.delete(c));
    ws.on('message', (data) => {
      let msg: { type?: unknown; events?: unknown };
      try {
        msg = JSON.parse(String(data));
      } catch {
        return this.#send(c, { type: 'error', error: { code: 'INVALID_JSON', message: 'messages must be JSON' } });
      }
      if (msg.type !== 'subscribe' || !Array.isArray(msg.events) || !msg.events.every((e) => (WS_EVENTS as readonly unknown[]).includes(e))) {
        return this.#send(c, {
          type: 'error',
          error: { code: 'INVALID_PARAMETER', message: `expected {"type": "subscribe", "events": [...]} with events from ${WS_EVENTS.join(', ')}` },
        });
      }
      c.events = new Set(msg.events as WsEvent[]);
      this.#send(c, { type: 'subscribed', events: [...c.events] });
    });
    this.#send(c, { type: 'hello', events: [...WS_EVENTS] });
  }

  /** Sends one event to every client subscribed to it. Never blocks: slow clients are dropped. */
  broadcast(type: WsEvent, payload: Record<string, unknown>): void {
    if (!this.#clients.size) return;
    const text = JSON.stringify({ type, ...payload });
    for (const c of this.#clients) if (c.events.has(type)) this.#sendText(c, text);
  }

  #send(c: Client, msg: unknown): void {
    this.#sendText(c, JSON.stringify(msg));
  }

  #sendText(c: Client, text: string): void {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (c.ws.bufferedAmount + text.length > this.#opts.maxBufferedBytes) {
      this.#opts.onDrop?.('slow_consumer');
      this.#clients.delete(c);
      c.ws.close(1008, 'send buffer full: client is not reading');
      // a client that does not read will not read the close frame either
      setTimeout(() => c.ws.terminate(), 1000).unref();
      return;
    }
    c.ws.send(text);
  }

  close(): Promise<void> {
    clearInterval(this.#ping);
    for (const c of this.#clients) c.ws.terminate();
    this.#clients.clear();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }
}
