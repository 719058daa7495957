import http from 'node:http';
import https from 'node:https';

/** An answer: its status, and its body when it is a 2xx of at most 1 MB (else ''). */
export interface Answer {
  status: number;
  body: string;
}

const MAX_ANSWER = 1 << 20;

/**
 * One POST of a JSON body through node:http(s) on a kept-alive connection, resolving to the answer (a 2xx's body is
 * kept: it says which records perfwatch refused). Not `fetch`: for a batch of 500 records (about 700 KB) undici spent
 * ~20 ms of the app's main thread per send, most of it building its Request from the body, which the bench showed on
 * every app (bench/README.md, issue 15). Idle kept-alive sockets are unref'd by node's Agent: they never hold the app
 * open.
 */
export class Sender {
  readonly #agents = { http: new http.Agent({ keepAlive: true, maxSockets: 2 }), https: new https.Agent({ keepAlive: true, maxSockets: 2 }) };

  post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const secure = u.protocol === 'https:';
      const buf = Buffer.from(body);
      const req = (secure ? https : http).request(u, { method: 'POST', agent: secure ? this.#agents.https : this.#agents.http, headers: { ...headers, 'content-type': 'application/json', 'content-length': buf.length } }, (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (status >= 200 && status < 300 && size <= MAX_ANSWER) chunks.push(c);
        });
        res.once('end', () => {
          clearTimeout(timer);
          resolve({ status, body: size <= MAX_ANSWER ? Buffer.concat(chunks).toString() : '' });
        });
        res.once('error', reject);
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(buf);
    });
  }

  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}
