import { WebSocket } from 'ws';

/** A WebSocket client that records every JSON message; `next` resolves with the first (past or future) match. */
export function connect(url: string): Promise<{ ws: WebSocket; messages: any[]; next: (pred: (m: any) => boolean, ms?: number) => Promise<any> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: any[] = [];
    const waiters: Array<{ pred: (m: any) => boolean; resolve: (m: any) => void }> = [];
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      messages.push(m);
      for (const w of [...waiters]) if (w.pred(m)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(m));
    });
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        next: (pred, ms = 5000) =>
          new Promise((res, rej) => {
            const found = messages.find(pred);
            if (found) return res(found);
            const timer = setTimeout(() => rej(new Error('no matching message in time')), ms);
            waiters.push({ pred, resolve: (m) => (clearTimeout(timer), res(m)) });
          }),
      }),
    );
    ws.once('error', reject);
  });
}
