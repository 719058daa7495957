import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Component } from '../model/component.js';

/**
 * The HTTP listener as a part: `start()` listens (and rejects with the listen error, e.g. EADDRINUSE, holding
 * nothing), `stop()` stops accepting, drops idle keep-alive connections, and ends the rest after `drainMs`.
 */
export class HttpServer implements Component {
  readonly name = 'http';
  readonly server: Server;
  #host: string;
  #port: number;
  #drainMs: number;
  #listening = false;
  url = '';

  constructor(opts: { app: Koa; host: string; port: number; drainMs?: number }) {
    this.server = createServer(opts.app.callback());
    this.server.keepAliveTimeout = 65_000; // longer than Prometheus' idle keep-alive, so scrapes reuse connections
    this.#host = opts.host;
    this.#port = opts.port;
    this.#drainMs = opts.drainMs ?? 2000;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.#port, this.#host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.#listening = true;
    const addr = this.server.address() as AddressInfo;
    this.url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  }

  async stop(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), this.#drainMs);
    await closed;
    clearTimeout(timer);
  }
}
