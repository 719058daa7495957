import { useEffect, useState } from 'preact/hooks';
import { api, live, type PluginUpdate } from '../api';
import { Sparkline } from '../chart';
import { Confirm, Failure, failureText, Flash, useApi, useCtx, useFlash } from '../ctx';
import { duration, num, pct } from '../format';
import { statusWord } from '../i18n';

export interface PluginStatus {
  status: string;
  pid?: number;
  uptime?: number;
  health: string;
  restarts: number;
  enabled: boolean;
}

/** How many live values a sparkline keeps. */
const SPARK = 30;

/** The last values per plugin from the WebSocket's plugins `metric_update`, shared by the table and kept across pages. */
const sparks = new Map<string, { cpu: number[]; mem: number[]; last: PluginUpdate }>();
live.subscribe((m) => {
  if (m.type !== 'metric_update' || m.metric.source !== 'plugins') return;
  for (const p of m.metric.plugins) {
    const s = sparks.get(p.plugin_id) ?? { cpu: [], mem: [], last: p };
    s.cpu = [...s.cpu, p.cpu_percent].slice(-SPARK);
    s.mem = [...s.mem, p.memory_mb].slice(-SPARK);
    s.last = p;
    sparks.set(p.plugin_id, s);
  }
});

const withFirst = (m: PluginUpdate | undefined) => (m ? { cpu: [m.cpu_percent], mem: [m.memory_mb], last: m } : undefined);

export type Action = 'start' | 'stop' | 'reload';

/**
 * Start, stop and reload buttons with a confirmation. The API's answer (or error) goes to `show`, the page's one
 * feedback line; `onDone` runs after it either way.
 */
export function PluginActions(props: { id: string; status: string; onDone: () => void; show: (kind: 'ok' | 'error', text: string) => void }) {
  const { t } = useCtx();
  const [pending, setPending] = useState<Action | null>(null);
  const [busy, setBusy] = useState(false);
  const show = props.show;
  const running = props.status === 'running' || props.status === 'starting';
  const run = async (a: Action) => {
    setPending(null);
    setBusy(true);
    try {
      const r = await api<{ message: string }>(`/plugin/${encodeURIComponent(props.id)}/${a}`, { method: 'POST' });
      show('ok', t('plugins.done', { id: props.id, message: r.message }));
    } catch (err) {
      show('error', failureText(err));
    } finally {
      setBusy(false);
      props.onDone();
    }
  };
  const label = (a: Action) => t(`plugins.${a}`);
  return (
    <div class="actions">
      <button type="button" disabled={busy || running} onClick={() => setPending('start')} data-testid={`start-${props.id}`}>{label('start')}</button>
      <button type="button" disabled={busy || !running} onClick={() => setPending('stop')} data-testid={`stop-${props.id}`}>{label('stop')}</button>
      <button type="button" disabled={busy} onClick={() => setPending('reload')}>{label('reload')}</button>
      <Confirm open={pending !== null} title={pending ? t('plugins.confirm', { action: label(pending), id: props.id }) : ''} confirmLabel={pending ? label(pending) : undefined} onConfirm={() => pending && void run(pending)} onCancel={() => setPending(null)} />
    </div>
  );
}

export function PluginsPage() {
  const { t, hasToken } = useCtx();
  const status = useApi<{ plugins: Record<string, PluginStatus> }>('/plugin/status?details=true', 10_000);
  // the latest sample of each plugin until the live feed's first update (admin; without the token the cells wait)
  const first = useApi<{ metrics: PluginUpdate[] }>(hasToken ? '/plugin/metrics' : null);
  const [filter, setFilter] = useState('');
  const [flash, show] = useFlash();
  const [, setTick] = useState(0);
  useEffect(
    () =>
      live.subscribe((m) => {
        if (m.type === 'metric_update' && m.metric.source === 'plugins') setTick((n) => n + 1);
        else if (m.type === 'system_change' && (m.change.kind === 'plugin_state' || m.change.kind === 'plugin_health')) void status.reload();
      }),
    [status.reload],
  );
  const rows = Object.entries(status.data?.plugins ?? {}).filter(([id]) => id.includes(filter.trim()));
  return (
    <div class="page">
      <div class="row between">
        <h1>{t('plugins.title')}</h1>
        <label class="filter">
          {t('common.filter')} <input type="search" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      <Flash flash={flash} />
      <Failure error={status.error} />
      {status.data && rows.length === 0 ? <p class="muted">{t('plugins.empty')}</p> : null}
      <div class="table-wrap">
        <table data-testid="plugins-table">
          <thead>
            <tr>
              <th>{t('plugins.id')}</th>
              <th>{t('plugins.status')}</th>
              <th>{t('plugins.health')}</th>
              <th class="num">{t('plugins.pid')}</th>
              <th class="num">{t('plugins.uptime')}</th>
              <th class="num">{t('plugins.cpu')}</th>
              <th class="num">{t('plugins.memory')}</th>
              <th class="num">{t('plugins.restarts')}</th>
              <th class="num">{t('plugins.calls')}</th>
              <th class="num">{t('plugins.errorRate')}</th>
              <th>{t('plugins.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([id, p]) => {
              const s = sparks.get(id) ?? withFirst(first.data?.metrics.find((m) => m.plugin_id === id));
              const live = p.pid !== undefined && s?.last.pid === p.pid ? s : undefined;
              return (
                <tr data-plugin={id}>
                  <td><a href={`#/plugins/${encodeURIComponent(id)}`}>{id}</a></td>
                  <td><span class={`badge s-${p.status}`} data-testid="status">{statusWord(t, 'status', p.status)}</span></td>
                  <td><span class={`badge h-${p.health}`}>{statusWord(t, 'health', p.health)}</span></td>
                  <td class="num">{p.pid ?? '–'}</td>
                  <td class="num">{duration(p.uptime)}</td>
                  <td class="num spark-cell"><div>{live ? <Sparkline values={live.cpu} max={100} label={`CPU ${id}`} /> : null}<span>{pct(live?.last.cpu_percent)}</span></div></td>
                  <td class="num spark-cell"><div>{live ? <Sparkline values={live.mem} label={`memory ${id}`} /> : null}<span>{live ? `${num(live.last.memory_mb, 1)} MiB` : '–'}</span></div></td>
                  <td class="num">{p.restarts}</td>
                  <td class="num">{num(live?.last.service?.calls_per_second)}</td>
                  <td class="num">{live?.last.service ? pct(live.last.service.error_rate * 100) : '–'}</td>
                  <td><PluginActions id={id} status={p.status} onDone={() => void status.reload()} show={show} /></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
