import { useMemo, useState } from 'preact/hooks';
import { TimeChart, type SeriesDef } from '../chart';
import { Failure, Flash, useApi, useCtx, useFlash } from '../ctx';
import { duration, num, pct, time } from '../format';
import { statusWord } from '../i18n';
import { PluginActions, type PluginStatus } from './plugins';

interface HistoryPoint {
  cpu_percent: number;
  memory_mb: number;
  num_threads: number;
  timestamp: string;
}

interface Check {
  name: string;
  type: string;
  role: string;
  status: string;
  consecutive_failures: number;
  last_run: { time: string; ok: boolean; error: string | null; duration_ms: number } | null;
}

/**
 * One plugin: status and actions (open), then what needs the admin token: history charts from
 * `/plugin/metrics/{id}/history`, health checks, service calls and the last log lines.
 */
export function PluginPage(props: { id: string }) {
  const { t, theme } = useCtx();
  const id = encodeURIComponent(props.id);
  const [stream, setStream] = useState<'stderr' | 'stdout'>('stdout');
  const [flash, show] = useFlash();
  const status = useApi<{ plugin_id: string } & PluginStatus>(`/plugin/status?plugin_id=${id}`, 5000);
  const history = useApi<{ history: HistoryPoint[] }>(`/plugin/metrics/${id}/history?limit=360`, 10_000);
  const health = useApi<{ health: string; checks: Check[] }>(`/plugin/${id}/health`, 10_000);
  const service = useApi<any>(`/plugin/${id}/service-metrics`, 10_000);
  const logs = useApi<{ lines: string[] }>(`/plugin/${id}/logs?stream=${stream}&lines=50`, 5000);

  const cols = useMemo(() => {
    const pts = [...(history.data?.history ?? [])].reverse(); // newest first in the API
    return {
      t: pts.map((p) => Math.floor(new Date(p.timestamp).getTime() / 1000)),
      cpu: pts.map((p) => p.cpu_percent),
      mem: pts.map((p) => p.memory_mb),
    };
  }, [history.data]);
  const series: SeriesDef[] = [
    { label: t('plugins.cpu'), color: '--c1', format: (v) => `${v.toFixed(1)}%` },
    { label: `${t('plugins.memory')} (MiB)`, color: '--c2', scale: 'mb', format: (v) => `${v.toFixed(0)} MiB` },
  ];
  const s = status.data;
  const sv = service.data;

  return (
    <div class="page">
      <a href="#/plugins">{t('plugin.back')}</a>
      <div class="row between">
        <h1>{props.id}</h1>
        {s ? <PluginActions id={props.id} status={s.status} onDone={() => void status.reload()} show={show} /> : null}
      </div>
      <Flash flash={flash} />
      <Failure error={status.error} />
      {s ? (
        <section class="kpis">
          <div class="kpi"><span>{t('plugins.status')}</span><b><span class={`badge s-${s.status}`} data-testid="plugin-status">{statusWord(t, 'status', s.status)}</span></b><small>{t('plugins.pid')} {s.pid ?? '–'}</small></div>
          <div class="kpi"><span>{t('plugins.health')}</span><b><span class={`badge h-${s.health}`}>{statusWord(t, 'health', s.health)}</span></b><small> </small></div>
          <div class="kpi"><span>{t('plugins.uptime')}</span><b>{duration(s.uptime)}</b><small> </small></div>
          <div class="kpi"><span>{t('plugin.service')}</span><b>{sv ? sv.total_calls : '–'}</b><small>{sv ? `${t('plugins.errorRate')} ${pct(sv.error_rate * 100)}` : ' '}</small></div>
        </section>
      ) : null}
      <h2>{t('plugin.history')}</h2>
      <Failure error={history.error} />
      {history.data ? <TimeChart title={`${t('plugins.cpu')} · ${t('plugins.memory')}`} series={series} data={[cols.t, cols.cpu, cols.mem]} testId="plugin-chart" theme={theme} /> : null}
      <h2>{t('plugin.checks')}</h2>
      <Failure error={health.error} />
      {health.data && health.data.checks.length === 0 ? <p class="muted">{t('plugin.noChecks')}</p> : null}
      {health.data && health.data.checks.length > 0 ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr><th>{t('plugin.check')}</th><th>{t('plugin.type')}</th><th>{t('plugin.role')}</th><th>{t('plugins.status')}</th><th>{t('plugin.lastRun')}</th><th class="num">ms</th><th>{t('common.error')}</th></tr>
            </thead>
            <tbody>
              {health.data.checks.map((c) => (
                <tr>
                  <td>{c.name}</td><td>{c.type}</td><td>{c.role}</td>
                  <td><span class={`badge c-${c.status}`}>{c.status}</span></td>
                  <td>{time(c.last_run?.time)}</td>
                  <td class="num">{num(c.last_run?.duration_ms, 1)}</td>
                  <td class="wrap">{c.last_run?.error ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <div class="row between">
        <h2>{t('plugin.logs')}</h2>
        <select aria-label="stream" value={stream} onChange={(e) => setStream((e.target as HTMLSelectElement).value as 'stderr' | 'stdout')}>
          <option value="stdout">stdout</option>
          <option value="stderr">stderr</option>
        </select>
      </div>
      <Failure error={logs.error} />
      {logs.data ? <pre class="logs" data-testid="logs">{logs.data.lines.length ? logs.data.lines.join('\n') : t('plugin.noLogs')}</pre> : null}
    </div>
  );
}
