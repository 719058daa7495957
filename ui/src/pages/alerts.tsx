import { useEffect, useState } from 'preact/hooks';
import { api, live } from '../api';
import { Confirm, Failure, failureText, Flash, useApi, useCtx, useFlash } from '../ctx';
import { time } from '../format';
import { statusWord } from '../i18n';

const LEVELS = ['info', 'warning', 'error', 'critical'] as const;
const TYPES = ['cpu', 'memory', 'disk', 'network', 'load', 'process', 'plugin', 'custom'] as const;
const OPERATORS = ['>', '>=', '<', '<=', '==', '!='] as const;
/** The API answers operators by name; the form and the table show the symbols it also takes. */
const SYMBOL: Record<string, string> = { greater_than: '>', greater_equal: '>=', less_than: '<', less_equal: '<=', equal: '==', not_equal: '!=' };
const symbol = (op: string) => SYMBOL[op] ?? op;
/** Legacy metric names offered in the rule form (docs/alerting.md); any other name the API takes may be typed. */
const METRICS = ['cpu_percent', 'memory_percent', 'disk_usage_percent', 'memory_used', 'memory_available', 'load_1m', 'connections_established', 'zombie_processes', 'plugin_up', 'plugin_healthy', 'plugin_unhealthy', 'plugin_cpu_percent', 'plugin_memory_percent', 'plugin_memory_mb', 'plugin_threads'];

export function AlertRows(props: { alerts: any[]; compact?: boolean; onResolve?: (a: any) => void }) {
  const { t } = useCtx();
  return (
    <div class="table-wrap">
      <table data-testid="alerts-table">
        <thead>
          <tr>
            <th>{t('alerts.level')}</th>
            <th>{t('alerts.title')}</th>
            <th class="num">{t('alerts.value')}</th>
            <th>{t('alerts.created')}</th>
            {props.compact ? null : <><th>{t('alerts.status')}</th><th>{t('alerts.resolvedAt')}</th><th /></>}
          </tr>
        </thead>
        <tbody>
          {props.alerts.map((a) => (
            <tr>
              <td><span class={`badge l-${a.level}`}>{statusWord(t, 'level', a.level)}</span></td>
              <td class="wrap"><b>{a.title}</b><br /><small>{a.message}</small></td>
              <td class="num">{typeof a.value === 'number' ? a.value.toFixed(2) : '–'}</td>
              <td>{time(a.created_at)}</td>
              {props.compact ? null : (
                <>
                  <td>{statusWord(t, 'status', a.status)}{a.resolution ? <><br /><small>{a.resolution}</small></> : null}</td>
                  <td>{time(a.resolved_at)}</td>
                  <td>{a.status === 'active' && props.onResolve ? <button type="button" onClick={() => props.onResolve!(a)}>{t('alerts.resolve')}</button> : null}</td>
                </>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AlertList(props: { resolved: boolean }) {
  const { t } = useCtx();
  const [level, setLevel] = useState('');
  const [type, setType] = useState('');
  const [resolving, setResolving] = useState<any>(null);
  const [resolution, setResolution] = useState('');
  const [flash, show] = useFlash();
  const q = new URLSearchParams({ limit: '200', ...(props.resolved ? { resolved: 'true' } : {}), ...(level ? { level } : {}), ...(type ? { type } : {}) });
  const list = useApi<{ alerts: any[]; summary: { total: number; active: number; resolved: number } }>(`/api/v1/performance/alerts?${q}`, 30_000);
  useEffect(() => live.subscribe((m) => (m.type === 'alert_triggered' || m.type === 'alert_resolved') && void list.reload()), [list.reload]);
  const resolve = async () => {
    const a = resolving;
    setResolving(null);
    try {
      await api(`/api/v1/performance/alerts/${encodeURIComponent(a.id)}/resolve`, { method: 'POST', body: { resolution: resolution.trim() || undefined, resolved_by: 'console' } });
      show('ok', `${a.title}: ${t('status.resolved')}`);
    } catch (err) {
      show('error', failureText(err));
    }
    setResolution('');
    void list.reload();
  };
  return (
    <>
      <div class="row">
        <label>{t('alerts.level')} <select value={level} onChange={(e) => setLevel((e.target as HTMLSelectElement).value)}><option value="">{t('common.all')}</option>{LEVELS.map((l) => <option value={l}>{statusWord(t, 'level', l)}</option>)}</select></label>
        <label>{t('alerts.type')} <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}><option value="">{t('common.all')}</option>{TYPES.map((l) => <option value={l}>{l}</option>)}</select></label>
        {list.data ? <span class="muted">{list.data.summary.active} {t('status.active')} · {list.data.summary.resolved} {t('status.resolved')}</span> : null}
      </div>
      <Flash flash={flash} />
      <Failure error={list.error} />
      {list.data && list.data.alerts.length === 0 ? <p class="muted">{t('alerts.none')}</p> : <AlertRows alerts={list.data?.alerts ?? []} onResolve={(a) => setResolving(a)} />}
      <Confirm open={resolving !== null} title={resolving ? `${t('alerts.resolve')}: ${resolving.title}` : ''} confirmLabel={t('alerts.resolve')} onConfirm={() => void resolve()} onCancel={() => setResolving(null)}>
        <label class="block">{t('alerts.resolution')}<textarea maxLength={1000} value={resolution} onInput={(e) => setResolution((e.target as HTMLTextAreaElement).value)} /></label>
      </Confirm>
    </>
  );
}

interface RuleForm {
  name: string;
  metric: string;
  operator: string;
  threshold: string;
  level: string;
  for: string;
  description: string;
  enabled: boolean;
}

const blank: RuleForm = { name: '', metric: 'cpu_percent', operator: '>', threshold: '', level: 'warning', for: '0', description: '', enabled: true };

/** The fields of a rule the API takes back in a PUT (it refuses `id` and the read-only fields it adds). */
const EDITABLE = ['name', 'metric', 'unit', 'selector', 'operator', 'threshold', 'clear_threshold', 'for', 'keep_firing_for', 'cooldown', 'level', 'description', 'message', 'enabled', 'actions'];

function RuleEditor(props: { rule: any | null; onSaved: (text: string) => void; onCancel: () => void }) {
  const { t } = useCtx();
  const [f, setF] = useState<RuleForm>(() =>
    props.rule
      ? { name: props.rule.name, metric: props.rule.metric, operator: symbol(props.rule.operator), threshold: String(props.rule.threshold), level: props.rule.level, for: String(props.rule.for), description: props.rule.description ?? '', enabled: props.rule.enabled }
      : blank,
  );
  const [error, setError] = useState('');
  const set = (k: keyof RuleForm) => (e: Event) => {
    const el = e.target as HTMLInputElement;
    setF({ ...f, [k]: el.type === 'checkbox' ? el.checked : el.value });
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    // the API validates (and names the field); the form only shapes the numbers it sends
    const body: Record<string, unknown> = props.rule ? Object.fromEntries(EDITABLE.filter((k) => k in props.rule).map((k) => [k, props.rule[k]])) : {};
    Object.assign(body, { name: f.name.trim(), metric: f.metric.trim(), operator: f.operator, threshold: f.threshold.trim() === '' ? null : Number(f.threshold), level: f.level, for: /^\d+(\.\d+)?$/.test(f.for.trim()) ? Number(f.for) : f.for.trim(), enabled: f.enabled });
    if (f.description.trim()) body.description = f.description.trim();
    else if (!props.rule) delete body.description;
    try {
      if (props.rule) await api(`/api/v1/performance/alerts/rules/${encodeURIComponent(props.rule.id)}`, { method: 'PUT', body });
      else await api('/api/v1/performance/alerts/rules', { method: 'POST', body });
      props.onSaved(t(props.rule ? 'rules.updated' : 'rules.created', { name: f.name }));
    } catch (err) {
      setError(failureText(err));
    }
  };
  return (
    <form class="card rule-form" onSubmit={submit} data-testid="rule-form" noValidate>
      <h2>{props.rule ? t('rules.editTitle', { name: props.rule.name }) : t('rules.new')}</h2>
      <div class="grid">
        <label>{t('rules.name')}<input name="name" required maxLength={100} value={f.name} onInput={set('name')} /></label>
        <label>{t('rules.metric')}<input name="metric" required list="metrics" value={f.metric} onInput={set('metric')} /></label>
        <datalist id="metrics">{METRICS.map((m) => <option value={m} />)}</datalist>
        <label>{t('rules.operator')}<select name="operator" value={f.operator} onChange={set('operator')}>{OPERATORS.map((o) => <option value={o}>{o}</option>)}</select></label>
        <label>{t('rules.threshold')}<input name="threshold" required inputMode="decimal" value={f.threshold} onInput={set('threshold')} /></label>
        <label>{t('rules.level')}<select name="level" value={f.level} onChange={set('level')}>{LEVELS.map((o) => <option value={o}>{statusWord(t, 'level', o)}</option>)}</select></label>
        <label>{t('rules.for')}<input name="for" value={f.for} onInput={set('for')} /></label>
        <label class="span2">{t('alerts.title')}<input name="description" maxLength={500} value={f.description} onInput={set('description')} /></label>
        <label class="check"><input type="checkbox" name="enabled" checked={f.enabled} onChange={set('enabled')} /> {t('rules.enabled')}</label>
      </div>
      <p class="form-error" role="alert" data-testid="rule-error">{error}</p>
      <div class="row end">
        <button type="button" onClick={props.onCancel}>{t('common.cancel')}</button>
        <button type="submit" class="primary">{t('common.save')}</button>
      </div>
    </form>
  );
}

function Rules() {
  const { t } = useCtx();
  const rules = useApi<{ rules: any[] }>('/api/v1/performance/alerts/rules');
  const [editing, setEditing] = useState<any | 'new' | null>(null);
  const [deleting, setDeleting] = useState<any>(null);
  const [flash, show] = useFlash();
  const remove = async () => {
    const r = deleting;
    setDeleting(null);
    try {
      await api(`/api/v1/performance/alerts/rules/${encodeURIComponent(r.id)}`, { method: 'DELETE' });
      show('ok', t('rules.deleted', { name: r.name }));
    } catch (err) {
      show('error', failureText(err));
    }
    void rules.reload();
  };
  return (
    <>
      <div class="row">
        <button type="button" class="primary" onClick={() => setEditing('new')} data-testid="new-rule">{t('rules.new')}</button>
      </div>
      <Flash flash={flash} />
      {editing ? <RuleEditor key={editing === 'new' ? 'new' : editing.id} rule={editing === 'new' ? null : editing} onCancel={() => setEditing(null)} onSaved={(text) => { setEditing(null); show('ok', text); void rules.reload(); }} /> : null}
      <Failure error={rules.error} />
      <div class="table-wrap">
        <table data-testid="rules-table">
          <thead>
            <tr><th>{t('rules.name')}</th><th>{t('rules.metric')}</th><th>{t('rules.operator')}</th><th class="num">{t('rules.threshold')}</th><th>{t('rules.level')}</th><th class="num">{t('rules.for')}</th><th>{t('rules.enabled')}</th><th class="num">{t('rules.triggered')}</th><th>{t('rules.source')}</th><th /></tr>
          </thead>
          <tbody>
            {(rules.data?.rules ?? []).map((r) => (
              <tr data-rule={r.name}>
                <td>{r.name}</td><td>{r.metric}</td><td>{symbol(r.operator)}</td><td class="num">{r.threshold}</td>
                <td><span class={`badge l-${r.level}`}>{statusWord(t, 'level', r.level)}</span></td><td class="num">{r.for}</td>
                <td>{r.enabled ? t('common.yes') : t('common.no')}</td><td class="num">{r.trigger_count}</td>
                <td>{r.source === 'file' ? t('rules.readOnly') : 'API'}</td>
                <td class="actions">{r.source === 'file' ? null : <><button type="button" onClick={() => setEditing(r)}>{t('common.edit')}</button><button type="button" onClick={() => setDeleting(r)}>{t('common.delete')}</button></>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Confirm open={deleting !== null} title={deleting ? t('rules.confirmDelete', { name: deleting.name }) : ''} confirmLabel={t('common.delete')} onConfirm={() => void remove()} onCancel={() => setDeleting(null)} />
    </>
  );
}

const TABS = ['active', 'history', 'rules'] as const;

export function AlertsPage(props: { tab?: string }) {
  const { t } = useCtx();
  const tab = (TABS as readonly string[]).includes(props.tab ?? '') ? props.tab! : 'active';
  return (
    <div class="page">
      <nav class="tabs" aria-label={t('nav.alerts')}>
        {TABS.map((x) => <a href={`#/alerts/${x}`} aria-current={tab === x ? 'page' : undefined}>{t(`alerts.${x}`)}</a>)}
      </nav>
      {tab === 'active' ? <AlertList key="active" resolved={false} /> : null}
      {tab === 'history' ? <AlertList key="history" resolved /> : null}
      {tab === 'rules' ? <Rules /> : null}
    </div>
  );
}
