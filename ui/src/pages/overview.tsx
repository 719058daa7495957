import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, live, type HostUpdate } from '../api';
import { TimeChart, type SeriesDef } from '../chart';
import { Failure, useApi, useCtx } from '../ctx';
import { bytes, num, pct, rate } from '../format';
import { statusWord } from '../i18n';
import { AlertRows } from './alerts';

/** The live window the charts keep: ten minutes. */
const WINDOW_S = 600;

const SERIES = ['cpu', 'mem', 'up', 'down', 'load'] as const;
type Columns = { t: number[] } & Record<(typeof SERIES)[number], (number | null)[]>;

const empty = (): Columns => ({ t: [], cpu: [], mem: [], up: [], down: [], load: [] });

/** Columns from index `from` on, of every series alike. */
function slice(c: Columns, from: number): Columns {
  const out = { t: c.t.slice(from) } as Columns;
  for (const k of SERIES) out[k] = c[k].slice(from);
  return out;
}

/** `a` then the points of `b` newer than `a`'s last, cut to the window. */
function join(a: Columns, b: Columns): Columns {
  const last = a.t.at(-1) ?? -Infinity;
  const i = b.t.findIndex((x) => x > last);
  const rest = slice(b, i === -1 ? b.t.length : i);
  const out = { t: [...a.t, ...rest.t] } as Columns;
  for (const k of SERIES) out[k] = [...a[k], ...rest[k]];
  const from = out.t.length ? out.t[out.t.length - 1]! - WINDOW_S : 0;
  const cut = out.t.findIndex((x) => x >= from);
  return cut > 0 ? slice(out, cut) : out;
}

const point = (at: number, h: HostUpdate): Columns => ({ t: [at], cpu: [h.cpu.percent], mem: [h.memory.percent], up: [h.network.upload_rate], down: [h.network.download_rate], load: [h.load_average[0]] });

/**
 * Host KPIs and charts: the last ten minutes from `history` first (so the charts are not empty on load), then one point
 * per tick from the WebSocket's host `metric_update`. Plugin counts and active alerts refresh on the matching events.
 */
export function OverviewPage() {
  const { t, theme } = useCtx();
  const [cols, setCols] = useState<Columns>(empty);
  const [host, setHost] = useState<HostUpdate | null>(null);
  const stats = useApi<any>('/api/v1/performance/stats');
  const status = useApi<{ plugins: Record<string, { status: string }> }>('/plugin/status', 15_000);
  const alerts = useApi<{ alerts: any[] }>('/api/v1/performance/alerts?limit=10', 30_000);

  useEffect(() => {
    let stop = false;
    api<{ metrics: Record<string, number | string>[] }>(`/api/v1/performance/history?minutes=${WINDOW_S / 60}&interval=5&metrics=cpu_percent,memory_percent,network_upload_rate,network_download_rate,load_1m`)
      .then((h) => {
        if (stop) return;
        const back = empty();
        for (const p of h.metrics) {
          back.t.push(Math.floor(new Date(String(p.timestamp)).getTime() / 1000));
          back.cpu.push((p.cpu_percent as number) ?? null);
          back.mem.push((p.memory_percent as number) ?? null);
          back.up.push((p.network_upload_rate as number) ?? null);
          back.down.push((p.network_download_rate as number) ?? null);
          back.load.push((p.load_1m as number) ?? null);
        }
        // live points that arrived while history loaded come after it
        setCols((cur) => join(back, cur));
      })
      .catch(() => undefined); // the live feed still fills the charts
    const off = live.subscribe((m) => {
      if (m.type === 'metric_update' && m.metric.source === 'host') {
        const h = m.metric as HostUpdate;
        setHost(h);
        setCols((c) => join(c, point(Math.floor(new Date(m.timestamp).getTime() / 1000), h)));
      } else if (m.type === 'system_change' && m.change.kind === 'plugin_state') void status.reload();
      else if (m.type === 'alert_triggered' || m.type === 'alert_resolved') void alerts.reload();
    });
    return () => {
      stop = true;
      off();
    };
  }, []);

  // until the first live update: the stats document (it has no rates nor load; those come from the history's last point)
  const h: Pick<HostUpdate, 'cpu' | 'memory' | 'disk' | 'processes'> | null = host ?? stats.data;
  const counts = useMemo(() => {
    const out: Record<string, number> = {};
    for (const p of Object.values(status.data?.plugins ?? {})) out[p.status] = (out[p.status] ?? 0) + 1;
    return out;
  }, [status.data]);

  const cpuMem: SeriesDef[] = [
    { label: t('overview.cpu'), color: '--c1', format: (v) => `${v.toFixed(0)}%` },
    { label: t('overview.memory'), color: '--c2', format: (v) => `${v.toFixed(0)}%` },
  ];
  const net: SeriesDef[] = [
    { label: t('overview.upload'), color: '--c3', format: rate },
    { label: t('overview.download'), color: '--c4', format: rate },
  ];
  const load: SeriesDef[] = [{ label: t('overview.load'), color: '--c5', format: (v) => v.toFixed(2) }];

  return (
    <div class="page">
      <Failure error={stats.error && !host ? stats.error : null} />
      <section class="kpis" aria-label={t('nav.overview')}>
        <div class="kpi" data-testid="kpi-cpu">
          <span>{t('overview.cpu')}</span>
          <b>{pct(h?.cpu.percent)}</b>
          <small>{h ? t('overview.cores', { n: h.cpu.cores }) : ' '}</small>
        </div>
        <div class="kpi">
          <span>{t('overview.memory')}</span>
          <b>{pct(h?.memory.percent)}</b>
          <small>{h ? `${bytes(h.memory.used)} ${t('overview.of', { total: bytes(h.memory.total) })}` : ' '}</small>
        </div>
        <div class="kpi">
          <span>{t('overview.disk')}</span>
          <b>{pct(h?.disk.percent)}</b>
          <small>{h ? t('overview.processes', { n: h.processes.total }) : ' '}</small>
        </div>
        <div class="kpi">
          <span>{t('overview.network')}</span>
          <b class="small">↑ {rate(host?.network.upload_rate ?? cols.up.at(-1))}</b>
          <small>↓ {rate(host?.network.download_rate ?? cols.down.at(-1))}</small>
        </div>
        <div class="kpi">
          <span>{t('overview.load')}</span>
          <b>{num(host?.load_average[0] ?? cols.load.at(-1))}</b>
          <small>{host ? `${num(host.load_average[1])} · ${num(host.load_average[2])}` : ' '}</small>
        </div>
      </section>
      <section class="charts">
        <TimeChart title={t('overview.chartCpuMem')} series={cpuMem} data={[cols.t, cols.cpu, cols.mem]} testId="chart-cpu" theme={theme} />
        <TimeChart title={t('overview.chartNet')} series={net} data={[cols.t, cols.up, cols.down]} testId="chart-net" theme={theme} />
        <TimeChart title={t('overview.chartLoad')} series={load} data={[cols.t, cols.load]} testId="chart-load" theme={theme} />
      </section>
      <section class="split">
        <div class="card">
          <h2>{t('overview.plugins')}</h2>
          <Failure error={status.error} />
          <ul class="counts" data-testid="plugin-counts">
            {Object.entries(counts).map(([s, n]) => (
              <li>
                <a href="#/plugins">
                  <span class={`badge s-${s}`}>{statusWord(t, 'status', s)}</span> <b>{n}</b>
                </a>
              </li>
            ))}
            {Object.keys(counts).length === 0 && status.data ? <li class="muted">{t('plugins.empty')}</li> : null}
          </ul>
        </div>
        <div class="card wide">
          <h2>{t('overview.activeAlerts')}</h2>
          <Failure error={alerts.error} />
          {alerts.data && alerts.data.alerts.length === 0 ? <p class="muted">{t('overview.noAlerts')}</p> : <AlertRows alerts={alerts.data?.alerts ?? []} compact />}
        </div>
      </section>
    </div>
  );
}
