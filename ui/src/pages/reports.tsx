import { useState } from 'preact/hooks';
import { api, download } from '../api';
import { Confirm, Failure, failureText, Flash, useApi, useCtx, useFlash } from '../ctx';
import { bytes, time } from '../format';
import { statusWord } from '../i18n';

interface Report {
  report_id: string;
  status: 'pending' | 'running' | 'ready' | 'failed';
  type: string;
  format: string;
  period: string | null;
  error: string | null;
  size: number | null;
  created_at: string;
  download_url: string;
}

/** Create a report (seed 001's request), follow its status, download or delete it. Everything here is admin. */
export function ReportsPage() {
  const { t } = useCtx();
  const [form, setForm] = useState({ type: 'summary', period: '24h', format: 'pdf', metrics: '', include_alerts: true, include_recommendations: true });
  const [error, setError] = useState('');
  const [deleting, setDeleting] = useState<Report | null>(null);
  const [flash, show] = useFlash();
  // poll quickly while something is being built, slowly otherwise
  const [fast, setFast] = useState(false);
  const list = useApi<{ reports: Report[] }>('/api/v1/performance/reports?limit=50', fast ? 2000 : 15_000);
  const busy = (list.data?.reports ?? []).some((r) => r.status === 'pending' || r.status === 'running');
  if (busy !== fast) setFast(busy);

  const set = (k: keyof typeof form) => (e: Event) => {
    const el = e.target as HTMLInputElement;
    setForm({ ...form, [k]: el.type === 'checkbox' ? el.checked : el.value });
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    const metrics = form.metrics.split(',').map((m) => m.trim()).filter(Boolean);
    try {
      const r = await api<{ report_id: string }>('/api/v1/performance/reports', { method: 'POST', body: { type: form.type, period: form.period, format: form.format, include_alerts: form.include_alerts, include_recommendations: form.include_recommendations, ...(metrics.length ? { metrics } : {}) } });
      show('ok', t('reports.created', { id: r.report_id }));
      void list.reload();
    } catch (err) {
      setError(failureText(err));
    }
  };
  const remove = async () => {
    const r = deleting!;
    setDeleting(null);
    try {
      await api(`/api/v1/performance/reports/${encodeURIComponent(r.report_id)}`, { method: 'DELETE' });
    } catch (err) {
      show('error', failureText(err));
    }
    void list.reload();
  };
  return (
    <div class="page">
      <form class="card" onSubmit={submit} data-testid="report-form">
        <h2>{t('reports.new')}</h2>
        <div class="grid">
          <label>{t('reports.type')}<select value={form.type} onChange={set('type')}>{['summary', 'detailed', 'custom'].map((x) => <option value={x}>{x}</option>)}</select></label>
          <label>{t('reports.period')}<select value={form.period} onChange={set('period')}>{['1h', '6h', '24h', '7d'].map((x) => <option value={x}>{x}</option>)}</select></label>
          <label>{t('reports.format')}<select value={form.format} onChange={set('format')}>{['pdf', 'json', 'csv'].map((x) => <option value={x}>{x}</option>)}</select></label>
          <label class="span2">{t('reports.metrics')}<input value={form.metrics} onInput={set('metrics')} placeholder="cpu_percent, memory_percent" /></label>
        </div>
        <p class="form-error" role="alert">{error}</p>
        <div class="row between">
          <div class="row">
            <label class="check"><input type="checkbox" checked={form.include_alerts} onChange={set('include_alerts')} /> {t('reports.includeAlerts')}</label>
            <label class="check"><input type="checkbox" checked={form.include_recommendations} onChange={set('include_recommendations')} /> {t('reports.includeRecommendations')}</label>
          </div>
          <button type="submit" class="primary">{t('reports.create')}</button>
        </div>
      </form>
      <h2>{t('reports.list')}</h2>
      <Flash flash={flash} />
      <Failure error={list.error} />
      {list.data && list.data.reports.length === 0 ? <p class="muted">{t('reports.empty')}</p> : null}
      <div class="table-wrap">
        <table data-testid="reports-table">
          <thead><tr><th>ID</th><th>{t('reports.type')}</th><th>{t('reports.format')}</th><th>{t('reports.period')}</th><th>{t('reports.status')}</th><th class="num">{t('reports.size')}</th><th>{t('reports.createdAt')}</th><th /></tr></thead>
          <tbody>
            {(list.data?.reports ?? []).map((r) => (
              <tr data-report={r.report_id}>
                <td><code>{r.report_id}</code></td><td>{r.type}</td><td>{r.format}</td><td>{r.period ?? '–'}</td>
                <td><span class={`badge r-${r.status}`}>{statusWord(t, 'status', r.status)}</span>{r.error ? <><br /><small class="wrap">{r.error}</small></> : null}</td>
                <td class="num">{r.size === null ? '–' : bytes(r.size)}</td><td>{time(r.created_at)}</td>
                <td class="actions">
                  <button type="button" disabled={r.status !== 'ready'} onClick={() => download(r.download_url).catch((err) => show('error', failureText(err)))}>{t('reports.download')}</button>
                  <button type="button" onClick={() => setDeleting(r)}>{t('common.delete')}</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Confirm open={deleting !== null} title={deleting ? `${t('common.delete')} ${deleting.report_id}?` : ''} confirmLabel={t('common.delete')} onConfirm={() => void remove()} onCancel={() => setDeleting(null)} />
    </div>
  );
}
