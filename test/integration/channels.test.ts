import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { auth, startApp, tempDir, waitFor } from '../helpers/index.js';

const DING_SECRET = 'SECdingtalk-test-secret';
const FEISHU_SECRET = 'feishu-test-secret';

interface Got {
  route: string;
  query: URLSearchParams;
  body: any;
}

/** Local stand-ins for the chat services: each checks the real payload shape and signature, and answers as the service does. */
async function chatStandIns(t: { teardown(fn: () => unknown): void }) {
  const got: Got[] = [];
  const problems: string[] = [];
  let wecomFailuresLeft = 1;
  const read = (req: IncomingMessage) => new Promise<string>((resolve) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => resolve(s));
  });
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const body = JSON.parse(await read(req));
    const reply = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    const expect = (ok: boolean, what: string) => ok || problems.push(`${url.pathname}: ${what}`);
    switch (url.pathname) {
      case '/slack':
        expect(typeof body.text === 'string' && body.blocks?.[0]?.type === 'header' && body.blocks?.[1]?.text?.type === 'mrkdwn', 'text and blocks');
        got.push({ route: 'slack', query: url.searchParams, body });
        return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      case '/dingtalk': {
        const ts = url.searchParams.get('timestamp') ?? '';
        const sign = createHmac('sha256', DING_SECRET).update(`${ts}\n${DING_SECRET}`).digest('base64');
        expect(url.searchParams.get('access_token') === 'ding-token', 'access_token kept');
        if (url.searchParams.get('sign') !== sign || Math.abs(Date.now() - Number(ts)) > 3_600_000) return reply(200, { errcode: 310000, errmsg: 'sign not match' });
        expect(body.msgtype === 'markdown' && typeof body.markdown?.title === 'string' && typeof body.markdown?.text === 'string', 'markdown');
        got.push({ route: 'dingtalk', query: url.searchParams, body });
        return reply(200, { errcode: 0, errmsg: 'ok' });
      }
      case '/dingtalk-unsigned':
        return reply(200, { errcode: 310000, errmsg: 'sign not match' });
      case '/feishu': {
        const sign = createHmac('sha256', `${body.timestamp}\n${FEISHU_SECRET}`).update('').digest('base64');
        if (body.sign !== sign) return reply(200, { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' });
        expect(body.msg_type === 'text' && typeof body.content?.text === 'string', 'text message');
        got.push({ route: 'feishu', query: url.searchParams, body });
        return reply(200, { code: 0, msg: 'success', data: {} });
      }
      case '/wecom':
        if (wecomFailuresLeft-- > 0) return reply(502, { error: 'bad gateway' });
        expect(url.searchParams.get('key') === 'wecom-key' && body.msgtype === 'markdown' && Buffer.byteLength(body.markdown?.content ?? '') <= 4096, 'markdown ≤ 4096 bytes');
        got.push({ route: 'wecom', query: url.searchParams, body });
        return reply(200, { errcode: 0, errmsg: 'ok' });
    }
    reply(404, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, problems };
}

/** A real SMTP server (smtp-server) that requires a login and parses each message it receives (mailparser). */
async function smtpServer(t: { teardown(fn: () => unknown): void }) {
  const mails: ParsedMail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    onAuth(a, _session, cb) {
      if (a.username === 'alerts' && a.password === 'smtp-password') cb(null, { user: 'alerts' });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, _session, cb) {
      simpleParser(stream).then((m) => (mails.push(m), cb()), cb);
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.server.address() as AddressInfo).port, mails };
}

const send = async (url: string, body: unknown) => (await fetch(url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) })).status;

t.test('email and chat channels: payloads, signatures, routing by level and rule, cooldown, retries, counters', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'ding.secret'), `${DING_SECRET}\n`);
  writeFileSync(path.join(dir, 'feishu.secret'), FEISHU_SECRET);
  writeFileSync(path.join(dir, 'smtp.password'), 'smtp-password\n');
  const chat = await chatStandIns(t);
  const smtp = await smtpServer(t);
  const fast = { retries: 2, backoff: '50ms', timeout: '2s' };
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    alerting: {
      default_rules: false,
      channels: [
        { name: 'oncall', type: 'email', levels: ['critical', 'error'], smtp: { host: '127.0.0.1', port: smtp.port, user: 'alerts', password_file: path.join(dir, 'smtp.password') }, from: 'perfwatch@example.com', to: ['ops@example.com', 'lead@example.com'], subject: '[{{ level }}] {{ title }} on {{ labels.service }}', ...fast },
        { name: 'team-slack', type: 'slack', url: `${chat.url}/slack`, levels: ['warning'], cooldown: '1h', ...fast },
        { name: 'ding', type: 'dingtalk', url: `${chat.url}/dingtalk?access_token=ding-token`, secret_file: path.join(dir, 'ding.secret'), rules: ['queue_high'], ...fast },
        { name: 'ding-unsigned', type: 'dingtalk', url: `${chat.url}/dingtalk-unsigned?access_token=x`, ...fast },
        { name: 'lark', type: 'feishu', url: `${chat.url}/feishu`, secret_file: path.join(dir, 'feishu.secret'), send_resolved: false, ...fast },
        { name: 'wx', type: 'wecom', url: `${chat.url}/wecom?key=wecom-key`, ...fast },
      ],
    },
  });
  const api = `${pw.url}/api/v1/performance`;
  t.equal(await send(`${api}/alerts/rules`, { name: 'queue_high', metric: 'queue_length', operator: '>', threshold: 100, level: 'warning', description: 'Queue too long', cooldown: 0 }), 200);
  t.equal(await send(`${api}/alerts/rules`, { name: 'queue_critical', metric: 'queue_length', operator: '>', threshold: 1000, level: 'critical', description: '队列严重积压', cooldown: 0 }), 200);
  const metric = (value: number) => send(`${api}/metrics`, { name: 'queue_length', value, unit: 'count', tags: { service: 'api' } });
  const count = (route: string, status?: string) => chat.got.filter((g) => g.route === route && (!status || JSON.stringify(g.body).includes(status === 'firing' ? 'FIRING' : 'RESOLVED') || JSON.stringify(g.body).includes(status))).length;

  // a warning fires: slack (warning), dingtalk (rule queue_high), feishu and wecom (everything); not the critical mailbox
  await metric(150);
  await waitFor(() => count('slack') === 1 && count('dingtalk') === 1 && count('feishu') === 1 && count('wecom') === 1, { what: () => `the warning on four channels: ${JSON.stringify(chat.got.map((g) => g.route))}` });
  const slack = chat.got.find((g) => g.route === 'slack')!.body;
  t.match(slack.text, /^🟡 \[FIRING\] \[perfwatch\] warning firing: Queue too long/);
  t.match(slack.blocks[1].text.text, /value: 150 \(threshold 100\)/);
  t.match(chat.got.find((g) => g.route === 'dingtalk')!.body.markdown.text, /### 🟡 \[perfwatch\] warning firing: Queue too long/);
  t.match(chat.got.find((g) => g.route === 'feishu')!.body.content.text, /Queue too long/);
  t.match(chat.got.find((g) => g.route === 'wecom')!.body.markdown.content, /rule: queue_high/);
  t.equal(smtp.mails.length, 0, 'a warning does not reach the critical mailbox');

  // resolved: told where the fire was, except feishu (send_resolved: false)
  await metric(50);
  await waitFor(() => count('slack') === 2 && count('dingtalk') === 2 && count('wecom') === 2, { what: 'the resolve' });
  t.match(chat.got.filter((g) => g.route === 'slack')[1]!.body.text, /\[RESOLVED\]/);
  t.equal(count('feishu'), 1, 'feishu: send_resolved false');

  // the same rule fires again within slack's cooldown: suppressed there (and its resolve too), delivered elsewhere
  await metric(160);
  await waitFor(() => count('dingtalk') === 3 && count('wecom') === 3, { what: 'the second fire' });
  await metric(2000);
  const mail = await waitFor(() => smtp.mails[0], { what: 'the critical alert by email', timeoutMs: 15_000 });
  t.equal(count('slack'), 2, 'slack: the second fire is within the cooldown');
  t.equal(mail.subject, '[critical] 队列严重积压 on api', 'the subject template, with a label and Chinese text');
  t.same((mail.to as { value: Array<{ address: string }> }).value.map((a) => a.address), ['ops@example.com', 'lead@example.com']);
  t.equal((mail.from as { value: Array<{ address: string }> }).value[0]!.address, 'perfwatch@example.com');
  t.match(mail.text, /value: 2000 \(threshold 1000\)\nrule: queue_critical/);
  t.match(String(mail.html), /<h2 style="margin:0">🔴 队列严重积压<\/h2>[\s\S]*<th align="left">service<\/th><td>api<\/td>/);
  t.equal(count('dingtalk', 'queue_critical'), 0, 'dingtalk gets only the rule it lists');

  await pw.nextTick();
  const text = await (await fetch(`${pw.url}/metrics`)).text();
  const n = (channel: string, result: string) => Number(new RegExp(`^perfwatch_alert_channel_notifications_total\\{channel="${channel}",type="\\w+",result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  t.equal(n('team-slack', 'suppressed'), 1, 'the cooldown counted');
  t.equal(n('team-slack', 'sent'), 2);
  t.ok(n('wx', 'sent') >= 3, 'wecom delivered every message');
  t.equal(n('wx', 'failed'), 0, 'its first answer, a 502, was retried');
  t.ok(n('ding-unsigned', 'failed') >= 1, 'an errcode in a 200 answer is a failure');
  t.equal(n('oncall', 'sent'), 1);
  t.same(chat.problems, [], 'every payload had its service\'s shape');
});

t.test('channel config: each type needs its fields, secrets must be readable', async (t) => {
  const dir = tempDir(t);
  writeFileSync(
    path.join(dir, 'c.yaml'),
    JSON.stringify({
      alerting: {
        channels: [
          { name: 'm', type: 'email', url: 'http://x/' },
          { name: 's', type: 'slack', secret_file: 'x', to: ['a@b.c'] },
          { name: 'Bad', type: 'pager', url: 'http://x/' },
          { name: 'w', type: 'wecom', url: 'ftp://x/', levels: ['fatal'] },
        ],
      },
    }),
  );
  const err = (await loadConfig({ file: 'c.yaml', cwd: dir, env: {} }).catch((e) => e)) as ConfigError;
  t.type(err, ConfigError);
  const text = err.problems.join('\n');
  for (const re of [
    /alerting\.channels\[0\]\.smtp: an email channel needs smtp/,
    /alerting\.channels\[0\]\.to: an email channel needs to/,
    /alerting\.channels\[0\]\.url: url does not apply to an email channel/,
    /alerting\.channels\[1\]\.url: a slack channel needs url/,
    /alerting\.channels\[1\]\.to: to applies to email channels only/,
    /alerting\.channels\[1\]\.secret_file: a slack webhook is not signed/,
    /alerting\.channels\[2\]\.name: expected 1 to 32 characters/,
    /alerting\.channels\[2\]\.type: /,
    /alerting\.channels\[3\]\.url: expected an http:\/\/ or https:\/\/ URL/,
    /alerting\.channels\[3\]\.levels\[0\]: /,
  ]) t.match(text, re);
  writeFileSync(path.join(dir, 'd.yaml'), JSON.stringify({ storage: { path: './data' }, alerting: { channels: [{ name: 'd', type: 'dingtalk', url: 'http://127.0.0.1:9/', secret_file: 'missing.secret' }] } }));
  const cfg = await loadConfig({ file: 'd.yaml', cwd: dir, env: {} });
  const { startPerfwatch } = await import('../../src/main.js');
  const { pino } = await import('pino');
  await t.rejects(startPerfwatch({ config: cfg, logger: pino({ level: 'silent' }), env: { PERFWATCH_ADMIN_TOKEN: 'x'.repeat(20) } }), /alerting\.channels: cannot read the secret of channel "d" .*missing\.secret: ENOENT/);
});
