// The floor of any Node proxy in front of Prometheus, for bench/fleet.bench.ts: a node:http server that forwards each
// POST (path and form body as they came) to PROM over one kept-alive node:http connection, reads the whole answer and
// sends it back as it is. No parsing, no mapping, no JSON: what is left is the extra hop and the HTTP client.
// Prints "ready <port>".
const http = require('node:http');
const target = new URL(process.env.PROM);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const out = http.request({ host: target.hostname, port: target.port, path: req.url, method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length } }, (answer) => {
      const parts = [];
      answer.on('data', (c) => parts.push(c));
      answer.on('end', () => res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(Buffer.concat(parts)));
    });
    out.on('error', (err) => res.writeHead(502).end(String(err)));
    out.end(body);
  });
});
server.listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
