import http from 'node:http';
import https from 'node:https';

/**
 * One POST of a JSON body through node:http(s) on a kept-alive connection, resolving to the status (the answer's body
 * is read and dropped). Not `fetch`: for a batch of 500 records (about 700 KB) undici spent ~20 ms of the app's main
 * thread per send, most of it building its Request from the body, which the bench showed on every app
 * (bench/README.md, issue 15). Idle kept-alive sockets are unref'd by node's Agent: they never hold the app open.
 */
export class Sender {
  readonly #agents = { http: new http.Agent({ keepAlive: true, maxSockets: 2 }), https: new https.Agent({ keepAlive: true, maxSockets: 2 }) };

  post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const secure = u.protocol === 'https:';
      const buf = Buffer.from(body);
      const req = (secure ? https : http).request(u, { method: 'POST', agent: secure ? this.#agents.https : this.#agents.http, headers: { ...headers, 'content-type': 'application/json', 'content-length': buf.length } }, (res) => {
        res.resume();
        res.once('end', () => {
          clearTimeout(timer);
          resolve(res.statusCode ?? 0);
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
