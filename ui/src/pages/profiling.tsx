import { useState } from 'preact/hooks';
import { api, download } from '../api';
import { Failure, failureText, Flash, useApi, useCtx, useFlash } from '../ctx';
import { bytes, num, pct, time } from '../format';
import type { Key } from '../i18n';

interface RouteStats {
  project: string;
  route: string;
  method: string;
  count: number;
  error_rate: number;
  throughput_per_second: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
}

interface Rec {
  id: string;
  project: string;
  route: string;
  method: string;
  status: number;
  path: string | null;
  start_time: string;
  duration_ms: number;
  cpu_time_ms: number;
  memory_delta_bytes: number;
}

interface Frame {
  function: string;
  file_path_short?: string;
  time: number;
  self_time: number;
  calls: number;
  children: Frame[];
}

interface AnalysisRow {
  analysis_id: string;
  status: 'pending' | 'running' | 'done' | 'failed';
  provider: string;
  error: string | null;
  created_at: string;
  finished_at: string | null;
  result: { findings: Array<{ kind: string; severity: string; finding: string; evidence: Record<string, unknown> }>; summary: string | null; suggestions: string[] } | null;
}

interface Sampled {
  interval_ms: number;
  sample_count: number;
  truncated: boolean;
  root_frame: Frame;
}

interface RouteProfile {
  windows: number;
  requests: number;
  sample_count: number;
  root_frame: Frame | null;
}

const WINDOWS = [15, 60, 1440] as const;

/** Request profiling (docs/profiling.md): per-route statistics and the latest records; a record opens its call tree. */
export function ProfilingPage(props: { id?: string }) {
  return props.id ? <RecordView id={props.id} /> : <Overview />;
}

function Overview() {
  const { t } = useCtx();
  const [minutes, setMinutes] = useState<number>(60);
  const [sel, setSel] = useState<RouteStats | null>(null);
  const route = sel?.route ?? '';
  const [project, setProject] = useState<string>('');
  const q = (p: string) => (p ? `&project=${encodeURIComponent(p)}` : '');
  // every project that sent records in the window, for the selector (the routes answer names them)
  const routes = useApi<{ routes: RouteStats[] }>(`/api/v1/performance/routes?minutes=${minutes}${q(project)}`, 10_000);
  const all = useApi<{ routes: RouteStats[] }>(project ? `/api/v1/performance/routes?minutes=${minutes}` : null, 30_000);
  const projects = [...new Set(((project ? all.data : routes.data)?.routes ?? []).map((r) => r.project))].sort();
  const records = useApi<{ records: Rec[] }>(`/api/v1/performance/records?limit=50${q(project)}${route ? `&route=${encodeURIComponent(route)}` : ''}`, 10_000);
  return (
    <div class="page">
      <div class="row between">
        <h1>{t('profiling.routes')}</h1>
        <div class="row">
        <label>
          {t('profiling.project')}{' '}
          <select value={project} onChange={(e) => { setProject((e.target as HTMLSelectElement).value); setSel(null); }} data-testid="project">
            <option value="">{t('common.all')}</option>
            {projects.map((p) => (
              <option value={p}>{p}</option>
            ))}
          </select>
        </label>
        <label>
          {t('profiling.window')}{' '}
          <select value={String(minutes)} onChange={(e) => setMinutes(Number((e.target as HTMLSelectElement).value))}>
            {WINDOWS.map((m) => (
              <option value={String(m)}>{m < 60 ? `${m} min` : `${m / 60} h`}</option>
            ))}
          </select>
        </label>
        </div>
      </div>
      <Failure error={routes.error} />
      {routes.data && routes.data.routes.length === 0 ? <p class="muted">{t('profiling.empty')}</p> : null}
      <div class="table-wrap">
        <table data-testid="routes-table">
          <thead>
            <tr><th>{t('profiling.project')}</th><th>{t('profiling.route')}</th><th class="num">{t('profiling.count')}</th><th class="num">{t('profiling.throughput')}</th><th class="num">{t('plugins.errorRate')}</th><th class="num">p50 ms</th><th class="num">p95 ms</th><th class="num">p99 ms</th><th class="num">max ms</th></tr>
          </thead>
          <tbody>
            {(routes.data?.routes ?? []).map((r) => (
              <tr data-route={`${r.method} ${r.route}`} class={same(sel, r) ? 'selected' : ''}>
                <td>{r.project}</td>
                <td><button type="button" class="link" onClick={() => setSel(same(sel, r) ? null : r)}>{r.method} {r.route}</button></td>
                <td class="num">{r.count}</td>
                <td class="num">{r.throughput_per_second >= 1 ? `${num(r.throughput_per_second, 1)}/s` : `${num(r.throughput_per_second * 60, 2)}/min`}</td>
                <td class="num">{pct(r.error_rate * 100)}</td>
                <td class="num">{num(r.p50_ms)}</td>
                <td class="num">{num(r.p95_ms)}</td>
                <td class="num">{num(r.p99_ms)}</td>
                <td class="num">{num(r.max_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {sel ? <RouteFlame sel={sel} minutes={minutes} /> : null}
      <h2>{route ? t('profiling.recordsOf', { route }) : t('profiling.records')}</h2>
      <Failure error={records.error} />
      <div class="table-wrap">
        <table data-testid="records-table">
          <thead>
            <tr><th>{t('profiling.started')}</th><th>{t('profiling.route')}</th><th class="num">{t('plugins.status')}</th><th class="num">ms</th><th class="num">CPU ms</th><th class="num">{t('profiling.heap')}</th></tr>
          </thead>
          <tbody>
            {(records.data?.records ?? []).map((r) => (
              <tr data-record={r.id}>
                <td>{time(r.start_time)}</td>
                <td><a href={`#/profiling/${r.id}`}>{r.method} {r.route}</a></td>
                <td class="num"><span class={`badge ${r.status >= 500 ? 'l-error' : r.status >= 400 ? 'l-warning' : 'l-info'}`}>{r.status}</span></td>
                <td class="num">{num(r.duration_ms)}</td>
                <td class="num">{num(r.cpu_time_ms)}</td>
                <td class="num">{bytes(r.memory_delta_bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

const same = (a: RouteStats | null, b: RouteStats) => !!a && a.project === b.project && a.route === b.route && a.method === b.method;

/** The selected route's CPU samples over the window, every request's merged (GET routes/profile). */
function RouteFlame(props: { sel: RouteStats; minutes: number }) {
  const { t } = useCtx();
  const [flash, show] = useFlash();
  const { project, route, method } = props.sel;
  const q = `project=${encodeURIComponent(project)}&route=${encodeURIComponent(route)}&method=${method}&minutes=${props.minutes}`;
  const p = useApi<RouteProfile>(`/api/v1/performance/routes/profile?${q}`, 30_000);
  return (
    <section data-testid="route-profile">
      <div class="row between">
        <h2>{t('profiling.routeProfile', { route: `${method} ${route}` })}</h2>
        {p.data?.root_frame ? <button type="button" onClick={() => download(`/api/v1/performance/routes/profile?${q}&format=speedscope`).catch((err) => show('error', failureText(err)))}>{t('profiling.speedscopeSamples')}</button> : null}
      </div>
      <Flash flash={flash} />
      <Failure error={p.error} />
      {p.data ? (
        p.data.root_frame ? (
          <>
            <p class="muted">{t('profiling.routeProfileOf', { requests: String(p.data.requests), count: String(p.data.sample_count), windows: String(p.data.windows) })}</p>
            <Tree root={p.data.root_frame} sampled truncated={false} testid="route-tree" />
          </>
        ) : (
          <p class="muted">{t('profiling.noSamples')}</p>
        )
      ) : null}
    </section>
  );
}

/** A call tree: the span tree (calls counted), or a sampled one (calls are not, and each frame names its file and line). */
function Tree(props: { root: Frame; sampled: boolean; truncated: boolean; testid: string }) {
  const { t } = useCtx();
  return (
    <>
      <div class="frame head"><span /><span class="fname">{t('profiling.function')}</span><span /><span class="num">{t('profiling.total')}</span><span class="num">{t('profiling.self')}</span><span class="num">{props.sampled ? '' : t('profiling.calls')}</span></div>
      <ul class="tree" data-testid={props.testid}>
        <FrameRow f={props.root} total={props.root.time} depth={0} sampled={props.sampled} />
      </ul>
      {props.truncated ? <p class="muted">{t('profiling.truncated')}</p> : null}
    </>
  );
}

/** One frame of the call tree and its children: a bar as wide as its share of the request, self time and calls beside it. */
function FrameRow(props: { f: Frame; total: number; depth: number; sampled: boolean }) {
  const { f, total } = props;
  const [open, setOpen] = useState(props.depth < 6);
  const share = total > 0 ? f.time / total : 0;
  return (
    <li>
      <div class="frame">
        <button type="button" class="toggle" disabled={!f.children.length} aria-expanded={open} onClick={() => setOpen(!open)}>{f.children.length ? (open ? '▾' : '▸') : '·'}</button>
        <span class="fname" title={f.file_path_short || undefined}>
          {f.function}
          {props.sampled && f.file_path_short ? <small class="muted"> {f.file_path_short}</small> : null}
        </span>
        <span class="bar" aria-hidden="true"><span style={{ width: `${Math.max(0.5, share * 100).toFixed(1)}%` }} /></span>
        <span class="num">{(f.time * 1000).toFixed(2)} ms</span>
        <span class="num muted">{(f.self_time * 1000).toFixed(2)} ms</span>
        <span class="num muted">{props.sampled ? '' : `×${f.calls}`}</span>
      </div>
      {open && f.children.length ? (
        <ul>
          {f.children.map((c) => (
            <FrameRow f={c} total={total} depth={props.depth + 1} sampled={props.sampled} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

/** Runs an analysis of the record (POST analyze) and shows the latest one: findings with evidence, then the provider's summary. */
function Analysis(props: { id: string }) {
  const { t } = useCtx();
  const [flash, show] = useFlash();
  const [busy, setBusy] = useState(false);
  const list = useApi<{ analyses: AnalysisRow[] }>(`/api/v1/analysis?record_id=${encodeURIComponent(props.id)}`, busy ? 1000 : undefined);
  const latest = list.data?.analyses[0] ?? null;
  if (busy && latest && (latest.status === 'done' || latest.status === 'failed')) setBusy(false);
  const start = async () => {
    try {
      await api(`/api/v1/analysis/analyze/${encodeURIComponent(props.id)}`, { method: 'POST' });
      setBusy(true);
      void list.reload();
    } catch (err) {
      show('error', failureText(err));
    }
  };
  return (
    <section data-testid="analysis">
      <div class="row between">
        <h2>{t('profiling.analysis')}</h2>
        <button type="button" class="primary" disabled={busy} onClick={() => void start()} data-testid="analyze">{busy ? t('profiling.analyzing') : t('profiling.analyze')}</button>
      </div>
      <Flash flash={flash} />
      <Failure error={list.error} />
      {latest ? (
        <div class="card">
          <p class="muted">
            {t(`profiling.status.${latest.status}` as Key)} · {latest.provider} · {time(latest.finished_at ?? latest.created_at)}
          </p>
          {latest.error ? <p class="notice error" role="alert">{latest.error}</p> : null}
          {latest.result?.summary ? <p data-testid="analysis-summary">{latest.result.summary}</p> : null}
          {latest.result?.suggestions?.length ? (
            <ol>
              {latest.result.suggestions.map((s) => (
                <li>{s}</li>
              ))}
            </ol>
          ) : null}
          {latest.result ? (
            latest.result.findings.length ? (
              <ul class="findings" data-testid="findings">
                {latest.result.findings.map((f) => (
                  <li>
                    <span class={`badge l-${f.severity}`}>{f.kind}</span> {f.finding}
                    <br />
                    <code>{JSON.stringify(f.evidence)}</code>
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">{t('profiling.noFindings')}</p>
            )
          ) : null}
        </div>
      ) : list.data ? (
        <p class="muted">{t('profiling.noAnalysis')}</p>
      ) : null}
    </section>
  );
}

function RecordView(props: { id: string }) {
  const { t } = useCtx();
  const [flash, show] = useFlash();
  const rec = useApi<Rec & { tree: { truncated: boolean; root_frame: Frame } | null; sampled: Sampled | null }>(`/api/v1/performance/records/${encodeURIComponent(props.id)}`);
  const r = rec.data;
  return (
    <div class="page">
      <a href="#/profiling">{t('profiling.back')}</a>
      <div class="row between">
        <h1>{r ? `${r.method} ${r.route}` : props.id}</h1>
        <button type="button" onClick={() => download(`/api/v1/performance/records/${encodeURIComponent(props.id)}/profile?format=speedscope`).catch((err) => show('error', failureText(err)))}>{t('profiling.speedscope')}</button>
      </div>
      <Flash flash={flash} />
      <Failure error={rec.error} />
      {r ? (
        <>
          <section class="kpis">
            <div class="kpi"><span>{t('plugins.status')}</span><b>{r.status}</b><small>{r.path ?? ' '}</small></div>
            <div class="kpi"><span>{t('profiling.duration')}</span><b>{num(r.duration_ms)} ms</b><small>{time(r.start_time)}</small></div>
            <div class="kpi"><span>CPU</span><b>{num(r.cpu_time_ms)} ms</b><small> </small></div>
            <div class="kpi"><span>{t('profiling.heap')}</span><b>{bytes(r.memory_delta_bytes)}</b><small>{r.project}</small></div>
          </section>
          <h2>{t('profiling.tree')}</h2>
          {r.tree ? <Tree root={r.tree.root_frame} sampled={false} truncated={r.tree.truncated} testid="call-tree" /> : <p class="muted">{t('profiling.noTree')}</p>}
          {r.sampled ? (
            <section data-testid="samples">
              <div class="row between">
                <h2>{t('profiling.samples')}</h2>
                <button type="button" onClick={() => download(`/api/v1/performance/records/${encodeURIComponent(props.id)}/profile?format=speedscope&tree=sampled`).catch((err) => show('error', failureText(err)))}>{t('profiling.speedscopeSamples')}</button>
              </div>
              <p class="muted">{t('profiling.samplesOf', { count: String(r.sampled.sample_count), interval: String(r.sampled.interval_ms) })}</p>
              <Tree root={r.sampled.root_frame} sampled truncated={r.sampled.truncated} testid="sampled-tree" />
            </section>
          ) : null}
          <Analysis id={r.id} />
        </>
      ) : null}
    </div>
  );
}
