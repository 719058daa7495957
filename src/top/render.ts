/**
 * `perfwatch top`'s screen as a pure function: state, size and colour in, exactly `rows` lines out, none wider than
 * `cols` visible characters. No library: the screen is a handful of escape sequences (docs/top.md says why), and a pure
 * function is what the unit tests and the tmux test look at.
 */

export type SortKey = 'name' | 'cpu' | 'memory' | 'threads' | 'restarts' | 'uptime';

export interface PluginRow {
  id: string;
  status: string;
  enabled: boolean;
  pid?: number | undefined;
  uptime?: number | undefined;
  restarts?: number | undefined;
  cpu?: number | undefined;
  memoryMb?: number | undefined;
  threads?: number | undefined;
  /** healthy | unhealthy | degraded | unknown (docs/health.md). */
  health?: string | undefined;
  /** From the plugin's reported calls (docs/service-metrics.md), over the recent window. */
  callsPerSecond?: number | undefined;
  errorRate?: number | null | undefined;
  p95Seconds?: number | null | undefined;
  cpuHistory: number[];
}

/** One health check line of the details pane. */
export interface CheckLine {
  name: string;
  type: string;
  role: string;
  status: string;
  error: string | null;
  durationMs: number | null;
}

export interface AlertLine {
  id: string;
  time: string;
  level: string;
  message: string;
  status: string;
}

export interface HostView {
  cpu: number;
  memory: number;
  disk: number;
  upload: number;
  download: number;
  load: [number, number, number];
}

export interface TopState {
  url: string;
  connection: 'connecting' | 'live' | 'reconnecting';
  host: HostView | null;
  cpuHistory: number[];
  memoryHistory: number[];
  plugins: Map<string, PluginRow>;
  alerts: AlertLine[];
  sort: { key: SortKey; desc: boolean };
  filter: string;
  editingFilter: boolean;
  selected: number;
  mode: 'table' | 'help' | 'details' | 'confirm';
  confirm: { action: 'start' | 'stop' | 'reload'; id: string } | null;
  details: { id: string; cpu: number[]; memory: number[]; note: string; logs: string[]; checks?: CheckLine[] | undefined } | null;
  message: string;
  hasToken: boolean;
  /** Tools the plugins declared (seed 003's overview), with the admin token; null until read. */
  toolsTotal: number | null;
}

export function initialState(url: string, hasToken: boolean): TopState {
  return {
    url,
    connection: 'connecting',
    host: null,
    cpuHistory: [],
    memoryHistory: [],
    plugins: new Map(),
    alerts: [],
    sort: { key: 'cpu', desc: true },
    filter: '',
    editingFilter: false,
    selected: 0,
    mode: 'table',
    confirm: null,
    details: null,
    message: '',
    hasToken,
    toolsTotal: null,
  };
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** The last `width` values as a sparkline scaled to `max` (or to their own maximum). */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  const v = values.slice(-width);
  const top = max ?? Math.max(1e-9, ...v);
  return v.map((x) => SPARKS[Math.max(0, Math.min(7, Math.round((x / top) * 7)))]).join('').padStart(width, ' ');
}

function bar(percent: number, width: number): string {
  const n = Math.max(0, Math.min(width, Math.round((percent / 100) * width)));
  return `[${'|'.repeat(n)}${' '.repeat(width - n)}]`;
}

export function bytesRate(b: number): string {
  if (b >= 1048576) return `${(b / 1048576).toFixed(1)} MB/s`;
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KB/s`;
  return `${Math.round(b)} B/s`;
}

export function duration(s: number | undefined): string {
  if (s === undefined) return '–';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

/** The plugins shown: filtered by id or status text, sorted by the chosen column (name breaks ties). */
export function visiblePlugins(state: TopState): PluginRow[] {
  const f = state.filter.toLowerCase();
  const rows = [...state.plugins.values()].filter((p) => !f || p.id.toLowerCase().includes(f) || p.status.includes(f));
  const value = (p: PluginRow): number | string => {
    switch (state.sort.key) {
      case 'name':
        return p.id;
      case 'cpu':
        return p.cpu ?? -1;
      case 'memory':
        return p.memoryMb ?? -1;
      case 'threads':
        return p.threads ?? -1;
      case 'restarts':
        return p.restarts ?? -1;
      case 'uptime':
        return p.uptime ?? -1;
    }
  };
  rows.sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    const c = va < vb ? -1 : va > vb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    return state.sort.desc && va !== vb ? -c : c;
  });
  return rows;
}

const STATUS_ICON: Record<string, string> = { running: '●', starting: '◐', stopping: '◑', stopped: '○', error: '✖', disabled: '·' };

interface Column {
  title: string;
  width: number;
  right?: boolean;
  sort?: SortKey;
  cell: (p: PluginRow) => string;
}

const fixed = (n: number | undefined, digits: number) => (n === undefined ? '–' : n.toFixed(digits));

const COLUMNS: Column[] = [
  { title: 'ST', width: 2, cell: (p) => STATUS_ICON[p.enabled ? p.status : 'disabled'] ?? '?' },
  { title: 'PLUGIN', width: 16, sort: 'name', cell: (p) => p.id },
  { title: 'STATUS', width: 8, cell: (p) => (p.enabled ? p.status : 'disabled') },
  { title: 'PID', width: 7, right: true, cell: (p) => (p.pid === undefined ? '–' : String(p.pid)) },
  { title: 'UPTIME', width: 7, right: true, sort: 'uptime', cell: (p) => duration(p.uptime) },
  { title: 'CPU%', width: 6, right: true, sort: 'cpu', cell: (p) => fixed(p.cpu, 1) },
  { title: 'MEM MB', width: 7, right: true, sort: 'memory', cell: (p) => fixed(p.memoryMb, 1) },
  { title: 'THR', width: 4, right: true, sort: 'threads', cell: (p) => (p.threads === undefined ? '–' : String(p.threads)) },
  { title: 'RST', width: 4, right: true, sort: 'restarts', cell: (p) => (p.restarts === undefined ? '–' : String(p.restarts)) },
  { title: 'HEALTH', width: 9, cell: (p) => (!p.health || p.health === 'unknown' ? '–' : p.health) },
  // from the calls the plugin reports (docs/service-metrics.md); – for a plugin that reports none
  { title: 'CALL/S', width: 6, right: true, cell: (p) => fixed(p.callsPerSecond, 1) },
  { title: 'ERR%', width: 5, right: true, cell: (p) => (p.errorRate == null ? '–' : (p.errorRate * 100).toFixed(1)) },
  { title: 'P95', width: 6, right: true, cell: (p) => (p.p95Seconds == null ? '–' : latency(p.p95Seconds)) },
  { title: 'CPU 60s', width: 12, cell: (p) => sparkline(p.cpuHistory, 12, 100) },
];

/** A duration in seconds as `850ms` or `2.5s`. */
function latency(s: number): string {
  return s < 1 ? `${Math.round(s * 1000)}ms` : `${s.toFixed(1)}s`;
}

/** Fits `text` in `width` visible characters: cut with an ellipsis, padded. */
function fit(text: string, width: number, right = false): string {
  const chars = [...text];
  const t = chars.length > width ? `${chars.slice(0, Math.max(0, width - 1)).join('')}…` : text;
  const pad = ' '.repeat(Math.max(0, width - [...t].length));
  return right ? pad + t : t + pad;
}

interface Paint {
  bold: (s: string) => string;
  dim: (s: string) => string;
  inverse: (s: string) => string;
  red: (s: string) => string;
  yellow: (s: string) => string;
  green: (s: string) => string;
  cyan: (s: string) => string;
}

function paint(color: boolean): Paint {
  const sgr = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { bold: sgr('1'), dim: sgr('2'), inverse: (s) => (color ? `\x1b[7m${s}\x1b[0m` : s), red: sgr('31'), yellow: sgr('33'), green: sgr('32'), cyan: sgr('36') };
}

const LEVEL_COLOUR: Record<string, keyof Paint> = { critical: 'red', error: 'red', warning: 'yellow', info: 'cyan' };

/**
 * The screen: `rows` lines. `color` false (NO_COLOR, or not a colour terminal) writes no SGR sequence; the selected
 * row is then marked with `>` instead of reverse video.
 */
export function render(state: TopState, cols: number, rows: number, color: boolean): string[] {
  const p = paint(color);
  const out: string[] = [];
  const line = (s: string) => out.push(s);
  const conn = state.connection === 'live' ? p.green('live') : state.connection === 'reconnecting' ? p.red('reconnecting…') : p.yellow('connecting…');
  const title = `perfwatch top — ${state.url}`;
  line(`${p.bold(fit(title, Math.max(10, cols - 16)))} ${conn}`);
  const h = state.host;
  // the bars and sparklines share what the text leaves (56 columns of it on the memory line)
  const room = Math.max(0, cols - 56);
  const sparkW = Math.min(16, Math.floor(room / 2));
  const barW = Math.max(6, Math.min(20, room - sparkW));
  if (h) {
    line(fit(`CPU  ${bar(h.cpu, barW)} ${h.cpu.toFixed(1).padStart(5)}% ${sparkline(state.cpuHistory, sparkW, 100)}  load ${h.load.map((l) => l.toFixed(2)).join(' ')}`, cols));
    line(fit(`Mem  ${bar(h.memory, barW)} ${h.memory.toFixed(1).padStart(5)}% ${sparkline(state.memoryHistory, sparkW, 100)}  disk ${h.disk.toFixed(1)}%  net ↑${bytesRate(h.upload)} ↓${bytesRate(h.download)}`, cols));
  } else {
    line(fit('CPU  waiting for the first sample…', cols));
    line('');
  }
  const all = [...state.plugins.values()];
  const running = all.filter((x) => x.status === 'running').length;
  const active = state.alerts.filter((a) => a.status === 'active').length;
  line(fit(`services ${all.length}  running ${running}  tools ${state.toolsTotal ?? '–'}  active alerts ${active}${state.filter || state.editingFilter ? `  filter: ${state.filter}${state.editingFilter ? '_' : ''}` : ''}`, cols));

  if (state.mode === 'help') {
    const help = [
      'Keys',
      '  ↑ ↓ or k j    select a plugin        Enter  its details',
      '  c m t R u n   sort: CPU, memory, threads, restarts, uptime, name',
      '                (the same key again reverses)',
      '  /             filter (Enter keeps it, Esc clears it)',
      '  s x r         start, stop, reload the selected plugin (y/n)',
      '  a             resolve the newest active alert',
      '  ?             this help              q or Ctrl-C  quit',
      '',
      'ST: ● running ◐ starting ◑ stopping ○ stopped ✖ error · disabled',
      'RST restarts. HEALTH from the plugin\'s checks: red unhealthy,',
      'yellow degraded. CALL/S, ERR%, P95: the calls the plugin reports',
      '(docs/service-metrics.md). s x r a need the admin token.',
    ];
    for (const l of help) line(fit(l, cols));
  } else if (state.mode === 'details' && state.details) {
    const d = state.details;
    const pl = state.plugins.get(d.id);
    line('');
    line(p.bold(fit(`${d.id}: ${pl?.status ?? '?'}  pid ${pl?.pid ?? '–'}  up ${duration(pl?.uptime)}  restarts ${pl?.restarts ?? '–'}`, cols)));
    const w = Math.max(10, Math.min(60, cols - 16));
    line(fit(`CPU %   ${sparkline(d.cpu, w, 100)} ${fixed(d.cpu.at(-1), 1)}`, cols));
    line(fit(`Mem MB  ${sparkline(d.memory, w)} ${fixed(d.memory.at(-1), 1)}`, cols));
    if (!d.checks) line(fit('health checks: loading…', cols));
    else if (!d.checks.length) line(fit('health checks: none configured (docs/health.md)', cols));
    else {
      line(fit(`health: ${pl?.health ?? 'unknown'}`, cols));
      for (const c of d.checks) {
        const mark = c.status === 'passing' ? p.green('✔') : c.status === 'failing' ? p.red('✖') : '?';
        const took = c.durationMs === null ? '' : ` ${c.durationMs.toFixed(0)}ms`;
        line(`  ${mark} ${fit(`${c.name} (${c.type}, ${c.role}) ${c.status}${took}${c.error ? `: ${c.error}` : ''}`, cols - 4)}`);
      }
    }
    line(fit(d.note, cols));
    for (const l of d.logs.slice(-Math.max(0, rows - out.length - 3))) line(p.dim(fit(`  ${l}`, cols)));
    line(fit('Esc or Enter: back', cols));
  } else {
    line('');
    const shown = columnsFor(cols);
    const header = shown.map((c) => fit(c.title + (c.sort === state.sort.key ? (state.sort.desc ? '↓' : '↑') : ''), c.width, c.right)).join(' ');
    line(p.bold(fit(header, cols)));
    const list = visiblePlugins(state);
    const alertLines = Math.min(5, state.alerts.length);
    const room = Math.max(1, rows - out.length - 2 - (alertLines ? alertLines + 2 : 0));
    const sel = Math.min(state.selected, Math.max(0, list.length - 1));
    const first = Math.max(0, Math.min(sel - room + 1, list.length - room));
    for (const pl of list.slice(first, first + room)) {
      let text = shown.map((c) => fit(c.cell(pl), c.width, c.right)).join(' ');
      text = fit(text, cols);
      const mine = list.indexOf(pl) === sel;
      if (mine) text = color ? p.inverse(text) : `>${text.slice(1)}`;
      else if (pl.status === 'error' || pl.health === 'unhealthy') text = p.red(text);
      else if (pl.health === 'degraded') text = p.yellow(text);
      else if (pl.status !== 'running') text = p.dim(text);
      line(text);
    }
    if (!list.length) line(fit(state.plugins.size ? `no plugin matches "${state.filter}"` : 'no plugins registered', cols));
    if (alertLines) {
      while (out.length < rows - alertLines - 3) line('');
      line(p.bold(fit('Recent alerts', cols)));
      for (const a of state.alerts.slice(0, alertLines)) {
        const colour = LEVEL_COLOUR[a.level] ?? 'dim';
        line(p[colour](fit(`[${a.time}] ${a.level.padEnd(8)} ${a.status === 'resolved' ? '(resolved) ' : ''}${a.message}`, cols)));
      }
    }
  }
  if (state.mode === 'confirm' && state.confirm) {
    while (out.length < rows - 2) line('');
    line(p.yellow(fit(`${state.confirm.action} ${state.confirm.id}? y / n`, cols)));
  }
  while (out.length < rows - 1) line('');
  out.length = Math.max(0, rows - 1);
  const footer = state.message || `${state.hasToken ? '' : 'read-only: no admin token  '}q quit  ? help  / filter  c/m/n sort  s/x/r start/stop/reload  Enter details`;
  out.push(p.dim(fit(footer, cols)));
  return out;
}

/** The columns that fit in `cols`, dropping from the right (the identity columns always stay). */
export function columnsFor(cols: number): Column[] {
  const shown: Column[] = [];
  let used = 0;
  for (const c of COLUMNS) {
    if (used + c.width + (shown.length ? 1 : 0) > cols && shown.length >= 3) continue;
    shown.push(c);
    used += c.width + (shown.length > 1 ? 1 : 0);
  }
  return shown;
}
