import t from 'tap';
import { splitKeys } from '../../../src/top/index.js';
import { columnsFor, duration, initialState, render, sparkline, visiblePlugins, type TopState } from '../../../src/top/render.js';

function state(): TopState {
  const s = initialState('http://127.0.0.1:9470', true);
  s.connection = 'live';
  s.host = { cpu: 42.5, memory: 61.2, disk: 22.1, upload: 2048, download: 3 * 1048576, load: [0.5, 0.4, 0.3] };
  s.cpuHistory = [10, 20, 40, 42.5];
  s.memoryHistory = [60, 61, 61.2];
  for (const [id, status, cpu, mem] of [['alpha', 'running', 12.5, 40], ['beta', 'stopped', undefined, undefined], ['gamma-with-a-very-long-plugin-id', 'error', undefined, undefined], ['delta', 'running', 80, 10]] as const) {
    s.plugins.set(id, { id, status, enabled: true, cpu, memoryMb: mem, threads: cpu === undefined ? undefined : 7, pid: cpu === undefined ? undefined : 100, uptime: cpu === undefined ? undefined : 3725, restarts: 1, cpuHistory: [cpu ?? 0] });
  }
  s.alerts = [{ id: 'alert_1', time: '12:00:01', level: 'critical', message: 'CPU使用率过高', status: 'active' }];
  return s;
}

// eslint-disable-next-line no-control-regex
const visible = (l: string) => [...l.replace(/\x1b\[[0-9;]*m/g, '')].length;

t.test('every size from 40×10 to 200×60: exactly `rows` lines, none wider than `cols`', async (t) => {
  for (const [cols, rows] of [[40, 10], [80, 24], [120, 40], [200, 60]] as const) {
    for (const mode of ['table', 'help', 'details', 'confirm'] as const) {
      const s = state();
      s.mode = mode;
      s.details = { id: 'alpha', cpu: [1, 2, 3], memory: [40, 41], note: 'last stdout lines:', logs: Array.from({ length: 30 }, (_, i) => `line ${i} ${'x'.repeat(i * 10)}`) };
      s.confirm = { action: 'stop', id: 'alpha' };
      const lines = render(s, cols, rows, true);
      t.equal(lines.length, rows, `${cols}×${rows} ${mode}: rows`);
      t.ok(lines.every((l) => visible(l) <= cols), `${cols}×${rows} ${mode}: width`);
    }
  }
});

t.test('80×24: host, overview, the table sorted by CPU, alerts; colour only when asked', async (t) => {
  const plain = render(state(), 80, 24, false);
  const text = plain.join('\n');
  t.notMatch(text, /\x1b/, 'no escape sequence without colour');
  t.match(plain[1], /^CPU\s+\[\|+\s*\]\s+42\.5%/);
  t.match(plain[2], /net ↑2\.0 KB\/s ↓3\.0 MB\/s/);
  t.match(plain[3], /services 4\s+running 2\s+tools –\s+active alerts 1/);
  const order = ['delta', 'alpha'].map((id) => plain.findIndex((l) => l.includes(` ${id} `)));
  t.ok(order[0]! < order[1]!, 'highest CPU first');
  t.ok(plain.some((l) => l.startsWith('>') && l.includes('delta')), 'the selected row marked without colour');
  t.ok(plain.some((l) => l.includes('gamma-with-a-ve…')), 'long ids cut with an ellipsis');
  t.match(text, /\[12:00:01\] critical\s+CPU使用率过高/, 'recent alerts');
  t.match(render(state(), 80, 24, true).join('\n'), /\x1b\[7m.*delta/, 'reverse video with colour');
  t.match(render(state(), 80, 24, true).join('\n'), /\x1b\[31m\[12:00:01\] critical/, 'critical alerts in red');
});

t.test('filter, sort, sparklines, durations, columns that fit', async (t) => {
  const s = state();
  s.filter = 'ta';
  t.same(visiblePlugins(s).map((p) => p.id), ['delta', 'beta'], 'filter by id, then CPU (unknown last)');
  s.filter = 'error';
  t.same(visiblePlugins(s).map((p) => p.id), ['gamma-with-a-very-long-plugin-id'], 'or by status');
  s.filter = '';
  s.sort = { key: 'name', desc: false };
  t.same(visiblePlugins(s).map((p) => p.id), ['alpha', 'beta', 'delta', 'gamma-with-a-very-long-plugin-id']);
  t.equal(sparkline([0, 50, 100], 3, 100), '▁▅█');
  t.equal(sparkline([1], 4, 100), '   ▁', 'right-aligned');
  t.same([duration(undefined), duration(59), duration(3725), duration(90000)], ['–', '59s', '1h02m', '1d01h']);
  t.same(columnsFor(80).map((c) => c.title).slice(0, 3), ['ST', 'PLUGIN', 'STATUS']);
  t.ok(columnsFor(200).length > columnsFor(80).length, 'more columns on a wider screen');
});

t.test('raw input splits into keys', async (t) => {
  t.same(splitKeys('/ech\r'), ['/', 'e', 'c', 'h', '\r']);
  t.same(splitKeys('\x1b[A\x1b[Bq'), ['\x1b[A', '\x1b[B', 'q']);
  t.same(splitKeys('\x1b'), ['\x1b']);
  t.same(splitKeys('中x'), ['中', 'x']);
});

t.test('health and service columns at 160 columns; unhealthy rows red, degraded yellow', async (t) => {
  const s = state();
  s.toolsTotal = 7;
  Object.assign(s.plugins.get('alpha')!, { health: 'unhealthy', callsPerSecond: 12.5, errorRate: 0.1, p95Seconds: 0.85 });
  Object.assign(s.plugins.get('delta')!, { health: 'degraded', callsPerSecond: 3, errorRate: 0, p95Seconds: 2.5 });
  const plain = render(s, 160, 30, false).join('\n');
  t.match(plain, /HEALTH\s+CALL\/S\s+ERR%\s+P95/);
  t.match(plain, /alpha .*unhealthy\s+12\.5\s+10\.0\s+850ms/);
  t.match(plain, /delta .*degraded\s+3\.0\s+0\.0\s+2\.5s/);
  t.match(plain, /beta .*\s–\s+–\s+–\s+–/, 'a plugin without checks or calls');
  t.match(plain, /tools 7/, 'the overview\'s tool count');
  s.selected = 2; // neither of the two
  const coloured = render(s, 160, 30, true);
  t.match(coloured.find((l) => l.includes('alpha'))!, /^\x1b\[31m/, 'unhealthy: red');
  t.match(coloured.find((l) => l.includes('delta'))!, /\x1b\[33m/, 'degraded: yellow');
});
