import WebSocket from 'ws';
import { PerfwatchClient } from '../client/index.js';
import { initialState, render, visiblePlugins, type AlertLine, type PluginRow, type SortKey, type TopState } from './render.js';

/**
 * `perfwatch top`: a live terminal view of a running perfwatch, local or remote, through its HTTP API and
 * `/ws/performance`. Live values come from the WebSocket's per-tick `metric_update`; plugin states from its
 * `system_change`, which also makes top read `/plugin/status?details=true` (uptimes, restarts) again, as it does every
 * 30 s; uptimes count on locally in between.
 */

export interface TopOptions {
  url: string;
  token: string | null;
  /** Frames per second at most (default 1). */
  intervalMs: number;
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  color: boolean;
}

const HISTORY = 60;
const DETAILS_REFRESH_MS = 2000;
/**
 * Plugin states arrive as `system_change` events (and refresh restarts then); the full status list is read again only
 * this often, with uptimes counted on locally in between: with 500 plugins the list is ~40 KB to build and send.
 */
const STATUS_EVERY_MS = 30_000;

type StatusDoc = Awaited<ReturnType<PerfwatchClient['pluginStatusDetails']>>;

function push(list: number[], v: number): void {
  list.push(v);
  if (list.length > HISTORY) list.splice(0, list.length - HISTORY);
}

function alertLine(a: Record<string, unknown>): AlertLine {
  const created = String(a.created_at ?? '');
  return { id: String(a.id), time: created.slice(11, 19), level: String(a.level), message: String(a.message || a.title || ''), status: String(a.status) };
}

/** Uptime as last read, and when: the screen counts on from it between status reads. */
type UptimeBase = Map<string, { base: number | undefined; at: number }>;

/** Applies a `/plugin/status?details=true` answer. */
function applyStatus(state: TopState, doc: StatusDoc, uptimeAt: UptimeBase): void {
  const seen = new Set<string>();
  for (const [id, s] of Object.entries(doc.plugins)) {
    seen.add(id);
    const row: PluginRow = state.plugins.get(id) ?? { id, status: s.status, enabled: true, cpuHistory: [] };
    row.status = s.status;
    row.pid = s.pid;
    row.uptime = s.uptime;
    uptimeAt.set(id, { base: s.uptime, at: Date.now() });
    row.restarts = s.restarts;
    row.enabled = s.enabled ?? true;
    row.health = s.health;
    if (s.pid === undefined) {
      row.cpu = undefined;
      row.memoryMb = undefined;
      row.threads = undefined;
    }
    state.plugins.set(id, row);
  }
  for (const id of state.plugins.keys()) if (!seen.has(id)) state.plugins.delete(id);
}

/** Runs until `q`, Ctrl-C, SIGTERM or a fatal error; the terminal is restored on every way out. */
export async function runTop(o: TopOptions): Promise<number> {
  const base = o.url.replace(/\/+$/, '');
  const state = initialState(base, o.token !== null);
  const client = new PerfwatchClient(base, { ...(o.token ? { token: o.token } : {}), timeoutMs: 5000 });
  const uptimeAt: UptimeBase = new Map();
  const out = o.output;
  let ws: WebSocket | null = null;
  let closed = false;
  let lastFrame: string[] = [];
  let dirty = true;
  let statusTimer: NodeJS.Timeout | null = null;
  let frameTimer: NodeJS.Timeout | null = null;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let detailsTimer: NodeJS.Timeout | null = null;
  let detailsGeneration = 0;
  let backoff = 500;
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => (resolveExit = r));

  const size = () => ({ cols: Math.max(40, out.columns || 80), rows: Math.max(10, out.rows || 24) });
  const draw = (force = false) => {
    if (closed) return;
    const { cols, rows } = size();
    const now = Date.now();
    for (const row of state.plugins.values()) {
      const u = uptimeAt.get(row.id);
      if (u?.base !== undefined && row.status === 'running') row.uptime = u.base + Math.floor((now - u.at) / 1000);
    }
    const frame = render(state, cols, rows, o.color);
    let text = '\x1b[?2026h'; // synchronized output: the terminal shows the frame whole
    for (let i = 0; i < frame.length; i++) {
      if (!force && frame[i] === lastFrame[i]) continue;
      text += `\x1b[${i + 1};1H${frame[i]}\x1b[K`;
    }
    out.write(`${text}\x1b[?2026l`);
    lastFrame = frame;
    dirty = false;
  };
  const restore = () => {
    out.write('\x1b[0m\x1b[?25h\x1b[?1049l');
    if (o.input.isTTY) o.input.setRawMode(false);
    o.input.pause();
  };
  const quit = (code: number, message?: string) => {
    if (closed) return;
    closed = true;
    for (const t of [statusTimer, frameTimer, reconnectTimer, detailsTimer]) if (t) clearTimeout(t);
    ws?.removeAllListeners();
    ws?.on('error', () => {});
    ws?.terminate();
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onTerm);
    process.off('uncaughtException', onCrash);
    out.off('resize', onResize);
    o.input.off('data', onInput);
    o.input.off('data', onKeyDrawn);
    restore();
    if (message) process.stderr.write(`${message}\n`);
    resolveExit(code);
  };
  const onTerm = () => quit(0);
  const onCrash = (err: Error) => quit(1, `perfwatch top: ${err.stack ?? err.message}`);
  const onResize = () => draw(true);
  const onKeyDrawn = () => setImmediate(() => !closed && draw());

  const refreshStatus = async () => {
    try {
      applyStatus(state, await client.pluginStatusDetails(), uptimeAt);
      if (o.token) state.toolsTotal = (await client.servicesMetrics()).services.reduce((a, x) => a + x.tools_count, 0);
      dirty = true;
    } catch {
      /* the WebSocket's state says whether the server is there */
    }
  };
  const loadAlerts = async () => {
    try {
      const doc = await client.getAlerts({ resolved: true, limit: 5 });
      const hourAgo = Date.now() - 3_600_000;
      state.alerts = (doc.alerts as unknown as Array<Record<string, unknown>>).filter((a) => Date.parse(String(a.created_at)) >= hourAgo).map(alertLine);
      dirty = true;
    } catch {
      /* shown again after the next event */
    }
  };
  const scheduleStatus = () => {
    statusTimer = setTimeout(() => {
      void refreshStatus().finally(() => !closed && scheduleStatus());
    }, STATUS_EVERY_MS);
  };

  const connect = () => {
    if (closed) return;
    const wsUrl = `${base.replace(/^http/, 'ws')}/ws/performance`;
    const sock = new WebSocket(wsUrl);
    ws = sock;
    sock.on('open', () => {
      backoff = 500;
      state.connection = 'live';
      state.message = '';
      dirty = true;
      void refreshStatus();
      void loadAlerts();
    });
    sock.on('message', (data) => {
      let m: { type?: string; metric?: Record<string, unknown>; change?: Record<string, unknown>; alert?: Record<string, unknown> };
      try {
        m = JSON.parse(String(data));
      } catch {
        return;
      }
      if (m.type === 'metric_update' && m.metric?.source === 'host') {
        const h = m.metric as { cpu: { percent: number }; memory: { percent: number }; disk: { percent: number }; network: { upload_rate: number; download_rate: number }; load_average: [number, number, number] };
        state.host = { cpu: h.cpu.percent, memory: h.memory.percent, disk: h.disk.percent, upload: h.network.upload_rate, download: h.network.download_rate, load: h.load_average };
        push(state.cpuHistory, h.cpu.percent);
        push(state.memoryHistory, h.memory.percent);
        dirty = true;
      } else if (m.type === 'metric_update' && m.metric?.source === 'plugins') {
        for (const s of m.metric.plugins as Array<{ plugin_id: string; pid: number; cpu_percent: number; memory_mb: number; num_threads: number; service?: { calls_per_second: number; error_rate: number | null; p95_response_time: number | null } }>) {
          const row = state.plugins.get(s.plugin_id);
          if (!row) continue;
          row.callsPerSecond = s.service?.calls_per_second;
          row.errorRate = s.service?.error_rate;
          row.p95Seconds = s.service?.p95_response_time;
          row.pid = s.pid;
          row.cpu = s.cpu_percent;
          row.memoryMb = s.memory_mb;
          row.threads = s.num_threads;
          push(row.cpuHistory, s.cpu_percent);
          if (state.details?.id === s.plugin_id) {
            push(state.details.cpu, s.cpu_percent);
            push(state.details.memory, s.memory_mb);
          }
        }
        dirty = true;
      } else if (m.type === 'system_change' && m.change?.kind === 'plugin_state') {
        const row = state.plugins.get(String(m.change.plugin_id));
        if (row) row.status = String(m.change.status);
        dirty = true;
        void refreshStatus();
      } else if (m.type === 'system_change' && m.change?.kind === 'plugin_health') {
        const row = state.plugins.get(String(m.change.plugin_id));
        if (row) row.health = String(m.change.health);
        dirty = true;
      } else if ((m.type === 'alert_triggered' || m.type === 'alert_resolved') && m.alert) {
        const a = alertLine(m.alert);
        state.alerts = [a, ...state.alerts.filter((x) => x.id !== a.id)].slice(0, 5);
        dirty = true;
      }
    });
    const lost = () => {
      if (closed || ws !== sock) return;
      ws = null;
      state.connection = 'reconnecting';
      state.message = `connection to ${base} lost; reconnecting (q quits)`;
      dirty = true;
      reconnectTimer = setTimeout(connect, backoff);
      backoff = Math.min(5000, backoff * 2);
    };
    sock.on('close', lost);
    sock.on('error', lost);
  };

  const act = async (action: 'start' | 'stop' | 'reload', id: string) => {
    state.message = `${action} ${id}…`;
    dirty = true;
    try {
      const r = await (action === 'start' ? client.startPlugin(id) : action === 'stop' ? client.stopPlugin(id) : client.reloadPlugin(id));
      state.message = `${id}: ${r.message}`;
    } catch (err) {
      state.message = `${action} ${id} failed: ${(err as Error).message}`;
    }
    await refreshStatus();
    dirty = true;
  };
  const openDetails = (id: string) => {
    const row = state.plugins.get(id);
    state.details = { id, cpu: [...(row?.cpuHistory ?? [])], memory: [], note: 'loading…', logs: [] };
    state.mode = 'details';
    dirty = true;
    if (!o.token) {
      state.details.note = 'history needs the admin token (PERFWATCH_ADMIN_TOKEN or --token-file)';
      return;
    }
    void loadDetails(id);
  };
  // the details pane follows the plugin while it is open: history and log lines again every DETAILS_REFRESH_MS
  const loadDetails = async (id: string) => {
    if (detailsTimer) clearTimeout(detailsTimer);
    detailsTimer = null;
    const generation = ++detailsGeneration; // a newer load (Enter again) owns the refresh from here
    try {
      const logsOf = (stream: 'stdout' | 'stderr') => client.pluginLogs(id, { stream, lines: 8 }).catch(() => ({ lines: [] as string[] }));
      const [h, err, out, health] = await Promise.all([
        client.pluginHistory(id, { limit: HISTORY }),
        logsOf('stderr'),
        logsOf('stdout'),
        client.pluginHealth(id).catch(() => null),
      ]);
      if (state.details?.id !== id) return;
      if (health) {
        state.details.checks = health.checks.map((c) => ({ name: c.name, type: c.type, role: c.role, status: c.status, error: c.last_run?.error ?? null, durationMs: c.last_run?.duration_ms ?? null }));
        const row = state.plugins.get(id);
        if (row) row.health = health.health;
      }
      const oldest = [...h.history].reverse();
      state.details.cpu = oldest.map((x) => x.cpu_percent);
      state.details.memory = oldest.map((x) => x.memory_mb);
      // stderr says more when there is any; else what the plugin printed
      const [stream, lines] = err.lines.length ? ['stderr', err.lines] : ['stdout', out.lines];
      state.details.logs = lines;
      state.details.note = lines.length ? `last ${stream} lines:` : 'no log lines yet';
    } catch (err) {
      if (state.details?.id === id) state.details.note = `history: ${(err as Error).message}`;
    }
    dirty = true;
    if (!closed && generation === detailsGeneration && state.details?.id === id) {
      detailsTimer = setTimeout(() => state.details?.id === id && void loadDetails(id), DETAILS_REFRESH_MS);
    }
  };

  const SORTS: Record<string, SortKey> = { c: 'cpu', m: 'memory', t: 'threads', R: 'restarts', u: 'uptime', n: 'name' };
  // raw input may bring several keys in one chunk (typing fast, a paste, tmux send-keys): one call per key
  const onInput = (buf: Buffer) => {
    for (const k of splitKeys(buf.toString('utf8'))) if (!closed) onKey(k);
  };
  const onKey = (k: string) => {
    if (k === '\x03') return quit(0);
    const list = visiblePlugins(state);
    const selected = list[Math.min(state.selected, list.length - 1)];
    dirty = true;
    if (state.editingFilter) {
      if (k === '\r' || k === '\n') state.editingFilter = false;
      else if (k === '\x1b') {
        state.editingFilter = false;
        state.filter = '';
      } else if (k === '\x7f' || k === '\b') state.filter = state.filter.slice(0, -1);
      else if (/^[\x20-\x7e]+$/.test(k)) state.filter = (state.filter + k).slice(0, 64);
      state.selected = 0;
      return;
    }
    if (state.mode === 'confirm' && state.confirm) {
      const c = state.confirm;
      state.mode = 'table';
      state.confirm = null;
      if (k === 'y' || k === 'Y') void act(c.action, c.id);
      else state.message = `${c.action} ${c.id}: cancelled`;
      return;
    }
    if (state.mode === 'help' || state.mode === 'details') {
      if (k === 'q') return quit(0);
      state.mode = 'table';
      state.details = null;
      return;
    }
    state.message = '';
    if (k === 'q') return quit(0);
    if (k === '?') state.mode = 'help';
    else if (k === '/') {
      state.editingFilter = true;
      state.filter = '';
    } else if (k === '\x1b') state.filter = '';
    else if (k === 'j' || k === '\x1b[B') state.selected = Math.min(state.selected + 1, Math.max(0, list.length - 1));
    else if (k === 'k' || k === '\x1b[A') state.selected = Math.max(0, state.selected - 1);
    else if (SORTS[k]) {
      const key = SORTS[k];
      state.sort = { key, desc: state.sort.key === key ? !state.sort.desc : key !== 'name' };
    } else if ((k === '\r' || k === '\n') && selected) openDetails(selected.id);
    else if ((k === 's' || k === 'x' || k === 'r') && selected) {
      if (!o.token) state.message = 'start/stop/reload need the admin token (PERFWATCH_ADMIN_TOKEN or --token-file)';
      else {
        state.mode = 'confirm';
        state.confirm = { action: k === 's' ? 'start' : k === 'x' ? 'stop' : 'reload', id: selected.id };
      }
    } else if (k === 'a') {
      const alert = state.alerts.find((a) => a.status === 'active');
      if (!alert) state.message = 'no active alert';
      else if (!o.token) state.message = 'resolving needs the admin token';
      else
        void client.resolveAlert(alert.id, { resolved_by: 'perfwatch top', resolution: 'resolved from perfwatch top' }).then(
          () => ((state.message = `${alert.id} resolved`), void loadAlerts()),
          (err: Error) => ((state.message = `resolve failed: ${err.message}`), (dirty = true)),
        );
    }
  };

  // the terminal: alternate screen, no cursor, raw keys; restored however top ends
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onTerm);
  out.on('resize', onResize);
  if (o.input.isTTY) o.input.setRawMode(true);
  o.input.resume();
  o.input.on('data', onInput);
  out.write('\x1b[?1049h\x1b[?25l\x1b[2J');
  try {
    draw(true);
    connect();
    scheduleStatus();
    const tick = () => {
      if (dirty) draw();
      frameTimer = setTimeout(tick, o.intervalMs);
    };
    // keys answer at once; data changes show at most once per interval
    o.input.on('data', onKeyDrawn);
    tick();
  } catch (err) {
    quit(1, `perfwatch top: ${(err as Error).message}`);
  }
  process.once('uncaughtException', onCrash);
  return exited;
}

/** Splits raw terminal input into keys: CSI sequences (arrows: ESC [ A) whole, a lone ESC, else one character each. */
export function splitKeys(input: string): string[] {
  const keys: string[] = [];
  for (let i = 0; i < input.length; ) {
    if (input[i] === '\x1b' && input[i + 1] === '[') {
      let j = i + 2;
      while (j < input.length && !/[A-Za-z~]/.test(input[j]!)) j++;
      keys.push(input.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    const ch = String.fromCodePoint(input.codePointAt(i)!);
    keys.push(ch);
    i += ch.length;
  }
  return keys;
}

/** `perfwatch top --once`: seed 003's `print_dashboard`, as plain text (no escape sequences). */
export async function renderOnce(url: string, token: string | null, now = new Date()): Promise<string> {
  const client = new PerfwatchClient(url, { ...(token ? { token } : {}), timeoutMs: 5000 });
  const [status, alerts, metrics, services] = await Promise.all([
    client.pluginStatusDetails(),
    client.getAlerts({ resolved: true, limit: 100 }),
    token ? (client.pluginMetrics() as Promise<{ metrics: Array<{ plugin_id: string; cpu_percent: number; memory_mb: number }> }>).catch(() => null) : Promise.resolve(null),
    token ? client.servicesMetrics().catch(() => null) : Promise.resolve(null),
  ]);
  const serviceOf = new Map((services?.services ?? []).map((x) => [x.service_name, x]));
  const toolsTotal = services ? services.services.reduce((a, x) => a + x.tools_count, 0) : null;
  const byId = new Map((metrics?.metrics ?? []).map((m) => [m.plugin_id, m]));
  const icon: Record<string, string> = { running: '✅', stopped: '⏹️', error: '❌', starting: '🔄' };
  const p2 = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}-${p2(now.getMonth() + 1)}-${p2(now.getDate())} ${p2(now.getHours())}:${p2(now.getMinutes())}:${p2(now.getSeconds())}`;
  const ids = Object.keys(status.plugins);
  const lines = ['', '='.repeat(60), '📊 perfwatch 监控仪表板', '='.repeat(60), `⏰ 更新时间: ${stamp}`, ''];
  lines.push('🔍 系统概览:', `   服务总数: ${ids.length}`, `   运行中: ${ids.filter((id) => status.plugins[id]!.status === 'running').length}`, `   工具总数: ${toolsTotal ?? '–'}`, '');
  lines.push('🔧 服务状态:', '-'.repeat(40));
  for (const id of ids) {
    const s = status.plugins[id]!;
    const m = byId.get(id);
    const sv = serviceOf.get(id);
    lines.push(`${icon[s.status] ?? '❓'} ${id}`, `   状态: ${s.status}`, `   健康: ${s.health ?? 'unknown'}`, `   工具数: ${sv ? sv.tools_count : '–'}`, `   错误率: ${sv ? `${(sv.error_rate * 100).toFixed(2)}%` : '–'}`);
    if (sv?.total_calls) lines.push(`   响应时间: ${sv.avg_response_time.toFixed(3)}s`);
    if (m) lines.push(`   CPU: ${m.cpu_percent.toFixed(1)}%  内存: ${m.memory_mb.toFixed(1)} MB`);
    if (s.restarts) lines.push(`   重启次数: ${s.restarts}`);
    lines.push('');
  }
  const hourAgo = now.getTime() - 3_600_000;
  const recent = (alerts.alerts as unknown as Array<Record<string, unknown>>).filter((a) => Date.parse(String(a.created_at)) >= hourAgo).slice(0, 5).reverse();
  if (recent.length) {
    lines.push('🚨 最近告警:', '-'.repeat(40));
    for (const a of recent) {
      const t = new Date(Date.parse(String(a.created_at)));
      lines.push(`[${p2(t.getHours())}:${p2(t.getMinutes())}:${p2(t.getSeconds())}] ${String(a.level)}: ${String(a.message || a.title || '')}`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
