import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { renderOnce } from '../../src/top/index.js';
import { auth, getJson, nodePlugin, ROOT, runCli, startApp, TOKEN, waitFor } from '../helpers/index.js';

/**
 * `perfwatch top` in a real terminal: tmux runs it against a real server; send-keys types, capture-pane reads the
 * screen, and tmux says whether the terminal is left in the alternate screen or without a cursor.
 */

const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
})();
const SOCKET = `perfwatch-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', 'top');
const LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** The shell line that runs `perfwatch top` from source, without tap's hooks, and prints its exit status. */
function topCommand(url: string, env = ''): string {
  return `env -u NODE_OPTIONS ${env} PERFWATCH_ADMIN_TOKEN=${TOKEN} ${process.execPath} --import ${LOADER} ${path.join(ROOT, 'test/helpers/cli-entry.ts')} top --url ${url}; echo EXIT=$?`;
}

async function waitScreen(re: RegExp, what: string, timeoutMs = 10_000): Promise<string> {
  let last = '';
  try {
    await waitFor(() => re.test((last = screen())), { timeoutMs, what });
  } catch (err) {
    throw new Error(`${(err as Error).message}; the screen was:\n${last}`);
  }
  return last;
}

const rowOf = (text: string, id: string) => text.split('\n').findIndex((l) => new RegExp(`^\\S+\\s+${id}\\s`).test(l));

t.test('perfwatch top in tmux against a real server', { skip: hasTmux ? false : 'tmux is not installed (apt-get install tmux; .ci/run does)' }, async (t) => {
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    plugins: [nodePlugin('echo', 'idle.cjs', { start_grace: '100ms', stop_timeout: '2s' }), nodePlugin('cache', 'hold-memory.cjs', { env: { MEGABYTES: '8' }, start_grace: '100ms', stop_timeout: '2s' })],
  });
  tmux('new-session', '-d', '-s', 'top', '-x', '80', '-y', '24');
  t.teardown(() => {
    try {
      tmux('kill-server');
    } catch {
      /* already gone */
    }
  });
  tmux('send-keys', '-t', 'top', topCommand(pw.url), 'Enter');

  const live = await waitScreen(/cache\s+running\s+\d+\s+\S+\s+[\d.]+\s+[\d.]+\s+\d+\s+0/, 'both plugins with live values');
  t.match(live, /perfwatch top — http:\/\/127\.0\.0\.1:\d+\s+live/, 'header and connection');
  t.match(live, /echo\s+running/);
  t.match(live, /^CPU\s+\[/m, 'host CPU bar');
  t.match(live, /services 2\s+running 2/, 'the seed\'s overview numbers');
  t.equal(tmux('display', '-p', '-t', 'top', '#{alternate_on}').trim(), '1', 'in the alternate screen');

  // sorting by name, then reversed
  tmux('send-keys', '-t', 'top', 'n');
  let s = await waitScreen(/PLUGIN↑/, 'sorted by name');
  t.ok(rowOf(s, 'cache') < rowOf(s, 'echo'), 'cache before echo');
  tmux('send-keys', '-t', 'top', 'n');
  s = await waitScreen(/PLUGIN↓/, 'name reversed');
  t.ok(rowOf(s, 'echo') < rowOf(s, 'cache'), 'echo before cache');

  // filtering
  tmux('send-keys', '-t', 'top', '/', 'e', 'c', 'h', 'Enter');
  s = await waitScreen(/filter: ech\s/, 'the filter');
  t.ok(rowOf(s, 'echo') > 0 && rowOf(s, 'cache') < 0, 'only echo shown');

  // stop from the TUI, after a confirmation
  tmux('send-keys', '-t', 'top', 'x');
  await waitScreen(/stop echo\? y \/ n/, 'the confirmation');
  t.equal((await getJson(`${pw.url}/plugin/status?plugin_id=echo`)).body.status, 'running', 'nothing before y');
  tmux('send-keys', '-t', 'top', 'y');
  await waitFor(async () => (await getJson(`${pw.url}/plugin/status?plugin_id=echo`)).body.status === 'stopped', { what: 'echo stopped' });
  await waitScreen(/echo\s+stopped/, 'the table shows it stopped');
  tmux('send-keys', '-t', 'top', 'Escape');
  await waitScreen(/cache\s+running/, 'filter cleared');

  // details: the history sparklines and the plugin's last log lines (GET /plugin/{id}/logs)
  tmux('send-keys', '-t', 'top', 'n', 'Enter');
  await waitScreen(/cache: running\s+pid \d+[\s\S]*CPU %[\s\S]*last stdout lines:/, 'the details of cache');
  tmux('send-keys', '-t', 'top', 'Escape');
  await waitScreen(/cache\s+running/, 'back to the table');

  // help, then q: the terminal comes back as it was
  tmux('send-keys', '-t', 'top', '?');
  await waitScreen(/sort: CPU, memory/, 'help');
  tmux('send-keys', '-t', 'top', 'Escape', 'q');
  await waitScreen(/EXIT=0/, 'top exited 0');
  t.equal(tmux('display', '-p', '-t', 'top', '#{alternate_on} #{cursor_flag}').trim(), '0 1', 'normal screen, cursor visible');

  // NO_COLOR: no colour sequence at all; with colour, the selected row in reverse video
  tmux('send-keys', '-t', 'top', 'clear', 'Enter');
  tmux('send-keys', '-t', 'top', topCommand(pw.url, 'NO_COLOR=1'), 'Enter');
  await waitScreen(/cache\s+running\s+\d+/, 'top again, NO_COLOR');
  const plain = tmux('capture-pane', '-e', '-p', '-t', 'top');
  t.notMatch(plain, /\x1b\[(?:[0-9;]*;)?(?:3[0-7]|7)m/, 'NO_COLOR: no colour or reverse video');
  t.match(plain, /^>\S*\s+\w+\s+running/m, 'the selected row marked with > instead');

  // the server dies: "reconnecting", and q still restores the terminal
  await pw.stop();
  await waitScreen(/reconnecting/, 'reconnecting', 15_000);
  tmux('send-keys', '-t', 'top', 'q');
  await waitScreen(/EXIT=0/, 'the second top exited 0 (the screen was cleared before it)');
  t.equal(tmux('display', '-p', '-t', 'top', '#{alternate_on} #{cursor_flag}').trim(), '0 1', 'normal screen, cursor visible after the server died');
});

t.test('GET /plugin/{id}/logs: the last lines of a plugin\'s log, admin only', async (t) => {
  const pw = await startApp(t, { plugins: [nodePlugin('echo', 'idle.cjs', { start_grace: '100ms' })] });
  await waitFor(async () => (await getJson(`${pw.url}/plugin/echo/logs?stream=stdout`, { Authorization: `Bearer ${TOKEN}` })).body.lines?.length > 0, { what: 'the log line' });
  const r = await getJson(`${pw.url}/plugin/echo/logs?stream=stdout&lines=5`, { Authorization: `Bearer ${TOKEN}` });
  t.same(r.body, { plugin_id: 'echo', stream: 'stdout', lines: ['idle ready'] });
  t.same((await getJson(`${pw.url}/plugin/echo/logs`, { Authorization: `Bearer ${TOKEN}` })).body.lines, [], 'stderr by default: empty');
  t.equal((await getJson(`${pw.url}/plugin/echo/logs`)).status, 401);
  t.equal((await getJson(`${pw.url}/plugin/echo/logs?stream=x`, { Authorization: `Bearer ${TOKEN}` })).status, 400);
  t.equal((await getJson(`${pw.url}/plugin/echo/logs?lines=0`, { Authorization: `Bearer ${TOKEN}` })).status, 400);
  t.equal((await getJson(`${pw.url}/plugin/nope/logs`, { Authorization: `Bearer ${TOKEN}` })).status, 404);
});

t.test('perfwatch top --once prints seed 003\'s dashboard as plain text', async (t) => {
  const pw = await startApp(t, { collection: { interval: '200ms' }, plugins: [nodePlugin('echo', 'idle.cjs', { start_grace: '100ms' }), nodePlugin('manual', 'idle.cjs', { autostart: false })] });
  await waitFor(async () => (await getJson(`${pw.url}/plugin/status?plugin_id=echo`)).body.status === 'running');
  await pw.nextTick();
  await pw.nextTick();
  const run = runCli(['top', '--once', '--url', pw.url]);
  t.equal((await run.exited).code, 0, run.stderr());
  const out = run.stdout();
  t.notMatch(out, /\x1b/, 'no escape sequence');
  t.match(out, /📊 perfwatch 监控仪表板/);
  t.match(out, /服务总数: 2\n\s+运行中: 1/, 'overview');
  t.match(out, /✅ echo\n\s+状态: running/, 'a running plugin');
  t.match(out, /⏹️ manual\n\s+状态: stopped/, 'a stopped plugin');
  t.match(out, /CPU: [\d.]+%\s+内存: [\d.]+ MB/, 'its live figures (with the token)');
  const down = runCli(['top', '--once', '--url', 'http://127.0.0.1:9']);
  t.equal((await down.exited).code, 1);
  t.match(down.stderr(), /cannot read http:\/\/127\.0\.0\.1:9/);
  const notTty = runCli(['top', '--url', pw.url]);
  t.equal((await notTty.exited).code, 2, 'interactive top without a terminal is a usage error');

  // the same dashboard in this process, after an alert: the last hour's alerts close it, oldest first
  const api = `${pw.url}/api/v1/performance`;
  const post = (p: string, body: unknown) => fetch(`${api}${p}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.equal((await post('/alerts/rules', { name: 'queue_high', metric: 'queue_length', operator: '>', threshold: 10, level: 'critical', description: 'Queue too long' })).status, 200);
  t.equal((await post('/metrics', { name: 'queue_length', value: 20, tags: { service: 'api' } })).status, 200);
  const alert = await waitFor(async () => ((await getJson(`${api}/alerts`)).body.data.alerts as Array<{ created_at: string; message: string }>).find((a) => a.message.startsWith('queue_length')), { what: 'the queue alert' });
  const at = new Date(Date.parse(alert.created_at));
  const p2 = (n: number) => String(n).padStart(2, '0');
  const inProcess = await renderOnce(pw.url, TOKEN);
  t.match(inProcess, /服务总数: 2\n\s+运行中: 1/, 'overview');
  t.match(inProcess, new RegExp(`🚨 最近告警:\n-{40}\n(.*\n)*\\[${p2(at.getHours())}:${p2(at.getMinutes())}:${p2(at.getSeconds())}\\] critical: `), 'the alert, at its local time and level');
  const noToken = await renderOnce(pw.url, null);
  t.notMatch(noToken, /CPU: /, 'without the token: no per-plugin figures');
  t.match(noToken, /工具总数: –/, 'nor the services\' tool count');
  t.notMatch(await renderOnce(pw.url, TOKEN, new Date(Date.now() + 2 * 3_600_000)), /最近告警/, 'an alert older than an hour is left out');
});

/** The screen a stream of top's frames leaves: each `ESC[row;1H text ESC[K` writes one line; colours are dropped. */
function virtualScreen() {
  const lines: string[] = [];
  let raw = '';
  return {
    write(chunk: string) {
      raw += chunk;
      // eslint-disable-next-line no-control-regex
      for (const m of chunk.matchAll(/\x1b\[(\d+);1H(.*?)\x1b\[K/g)) lines[Number(m[1]) - 1] = m[2]!.replace(/\x1b\[[0-9;]*m/g, '');
    },
    text: () => lines.join('\n'),
    raw: () => raw,
  };
}

t.test('runTop in this process: keys, actions, details, a lost server, and the escape sequences it leaves', async (t) => {
  const { PassThrough, Writable } = await import('node:stream');
  const { runTop } = await import('../../src/top/index.js');
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    plugins: [nodePlugin('echo', 'idle.cjs', { start_grace: '100ms', stop_timeout: '2s' }), nodePlugin('cache', 'hold-memory.cjs', { env: { MEGABYTES: '8' }, start_grace: '100ms', stop_timeout: '2s' })],
  });
  const vs = virtualScreen();
  const input = Object.assign(new PassThrough(), { isTTY: false, setRawMode: () => input }) as unknown as NodeJS.ReadStream;
  const output = Object.assign(new Writable({ write: (c, _e, cb) => (vs.write(String(c)), cb()) }), { columns: 120, rows: 30 }) as unknown as NodeJS.WriteStream;
  const exit = runTop({ url: pw.url, token: TOKEN, intervalMs: 50, input, output, color: true });
  const key = (k: string) => (input as unknown as NodeJS.WritableStream).write(k);
  t.teardown(() => void key('\x03')); // a failed step must not leave top running until tap's timeout
  const until = (re: RegExp, what: string) => waitFor(() => re.test(vs.text()), { what: () => `${what}; screen when it gave up:\n${vs.text()}` });

  t.match(vs.raw(), /^\x1b\[\?1049h\x1b\[\?25l/, 'alternate screen, cursor hidden');
  await until(/cache\s+running\s+\d+\s+\S+\s+[\d.]+\s+[\d.]+/, 'live rows');
  t.match(vs.text(), /CPU 60s/, 'the sparkline column at 120 columns');
  key('m');
  await until(/MEM MB↓/, 'sorted by memory');
  key('m');
  await until(/MEM MB↑/, 'reversed');
  key('k');
  key('\x1b[B');
  key('\x1b[A');
  key('/');
  key('cac\x7fch');
  await until(/filter: cach_/, 'typing a filter, with a backspace');
  key('\r');
  await until(/filter: cach\s/, 'filter kept');
  key('\r');
  // the pane refreshes while open, so a plugin that has not printed yet when Enter is pressed shows its line soon after
  await until(/cache: running\s+pid \d+[\s\S]*last stdout lines:\s+holding 8 MB/, 'details with log lines');
  key('x');
  await until(/cache\s+running/, 'any key leaves the details');
  key('r');
  await until(/reload cache\? y \/ n/, 'reload asks');
  key('n');
  await until(/reload cache: cancelled/, 'n cancels');
  key('x');
  key('y');
  await waitFor(async () => (await getJson(`${pw.url}/plugin/status?plugin_id=cache`)).body.status === 'stopped', { what: 'cache stopped' });
  await until(/cache\s+stopped/, 'the row says stopped');
  key('s');
  key('y');
  await waitFor(async () => (await getJson(`${pw.url}/plugin/status?plugin_id=cache`)).body.status === 'running', { what: 'cache running again' });
  key('a');
  await until(/no active alert/, 'nothing to resolve');
  key('\x1b');
  key('?');
  await until(/sort: CPU, memory/, 'help');
  key(' ');
  await until(/PLUGIN/, 'back from help');
  await pw.stop();
  await until(/reconnecting/, 'the server is gone');
  key('q');
  t.equal(await exit, 0);
  t.match(vs.raw(), /\x1b\[0m\x1b\[\?25h\x1b\[\?1049l$/, 'normal screen and cursor restored last');
});

t.test('runTop without a token is read-only, and says so', async (t) => {
  const { PassThrough, Writable } = await import('node:stream');
  const { runTop } = await import('../../src/top/index.js');
  const pw = await startApp(t, { collection: { interval: '200ms' }, plugins: [nodePlugin('echo', 'idle.cjs', { start_grace: '100ms' })] });
  const vs = virtualScreen();
  const input = Object.assign(new PassThrough(), { isTTY: false, setRawMode: () => input }) as unknown as NodeJS.ReadStream;
  const output = Object.assign(new Writable({ write: (c, _e, cb) => (vs.write(String(c)), cb()) }), { columns: 80, rows: 24 }) as unknown as NodeJS.WriteStream;
  const exit = runTop({ url: pw.url, token: null, intervalMs: 50, input, output, color: false });
  t.teardown(() => void (input as unknown as NodeJS.WritableStream).write('\x03'));
  await waitFor(() => /echo\s+running/.test(vs.text()), { what: 'the row' });
  t.match(vs.text(), /read-only: no admin token/);
  (input as unknown as NodeJS.WritableStream).write('x');
  await waitFor(() => /need the admin token/.test(vs.text()), { what: 'refused without a token' });
  (input as unknown as NodeJS.WritableStream).write('\r');
  await waitFor(() => /history needs the admin token/.test(vs.text()), { what: 'details without history' });
  (input as unknown as NodeJS.WritableStream).write('\x03');
  t.equal(await exit, 0, 'Ctrl-C quits');
  t.equal((await getJson(`${pw.url}/plugin/status?plugin_id=echo`)).body.status, 'running', 'nothing was stopped');
});
