import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { ApiFailure, getToken, live, onAuthFailure, onTokenChange, setToken } from './api';
import { Ctx, type AppCtx } from './ctx';
import { translator, type Lang } from './i18n';
import { AlertsPage } from './pages/alerts';
import { OverviewPage } from './pages/overview';
import { PluginPage } from './pages/plugin';
import { PluginsPage } from './pages/plugins';
import { ProfilingPage } from './pages/profiling';
import { ReportsPage } from './pages/reports';
import { SystemPage } from './pages/system';

const LANG_KEY = 'perfwatch.lang';

/** The saved choice, else the browser's first language: Chinese for any `zh-*`, English otherwise. */
function initialLang(): Lang {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === 'en' || saved === 'zh') return saved;
  return (navigator.languages?.[0] ?? navigator.language ?? 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

function saveLang(lang: Lang): void {
  localStorage.setItem(LANG_KEY, lang);
}

type Theme = 'light' | 'dark';
const THEME_KEY = 'perfwatch.theme';

function initialTheme(): Theme {
  const saved = localStorage.getItem(THEME_KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

/** `#/plugins/echo` → ['plugins', 'echo']; the hash keeps every page a bookmarkable, server-agnostic URL. */
function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

const PAGES = ['overview', 'plugins', 'alerts', 'reports', 'profiling', 'system'] as const;

function TokenBox(props: { ctx: AppCtx }) {
  const { t, hasToken } = props.ctx;
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState('');
  return (
    <div class="token">
      <button type="button" class={hasToken ? 'ok' : ''} aria-expanded={open} onClick={() => setOpen(!open)}>
        {hasToken ? t('token.set') : t('token.button')}
      </button>
      {open ? (
        <form
          class="token-form"
          onSubmit={(e) => {
            e.preventDefault();
            setToken(value.trim());
            setValue('');
            setOpen(false);
          }}
        >
          <label>
            {t('token.label')}
            <input type="password" autoComplete="off" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} name="token" autoFocus />
          </label>
          <small>{t('token.hint')}</small>
          <div class="row">
            <button type="submit" class="primary">{t('token.save')}</button>
            {hasToken ? (
              <button type="button" onClick={() => { setToken(''); setOpen(false); }}>
                {t('token.clear')}
              </button>
            ) : null}
          </div>
        </form>
      ) : null}
    </div>
  );
}

function App() {
  const [lang, setLang] = useState<Lang>(initialLang);
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const [hasToken, setHasToken] = useState(() => getToken() !== '');
  const [authError, setAuthError] = useState<ApiFailure | null>(null);
  const [connected, setConnected] = useState(live.connected);
  const route = useRoute();
  const t = translator(lang);

  // set while rendering, not in an effect: the charts read the theme's colours in their own (earlier) effects
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.documentElement.dataset.theme = theme;
  useEffect(() => onTokenChange(() => { setHasToken(getToken() !== ''); setAuthError(null); }), []);
  useEffect(() => onAuthFailure(setAuthError), []);
  useEffect(() => {
    const off = live.onState(setConnected);
    setConnected(live.connected); // it may have opened between the first render and this effect
    return off;
  }, []);
  useEffect(() => live.subscribe(() => undefined), []);

  const ctx: AppCtx = { t, lang, theme, hasToken };
  const page = (PAGES as readonly string[]).includes(route[0] ?? '') ? route[0]! : 'overview';

  return (
    <Ctx.Provider value={ctx}>
      <header class="top">
        <a class="brand" href="#/overview">perfwatch</a>
        <nav aria-label="pages">
          {PAGES.map((p) => (
            <a href={`#/${p}`} aria-current={page === p ? 'page' : undefined}>
              {t(`nav.${p}`)}
            </a>
          ))}
        </nav>
        <div class="tools">
          <span class={`dot ${connected ? 'up' : 'down'}`} role="status" data-testid="live">{connected ? t('shell.live') : live.everConnected ? t('shell.offline') : t('shell.connecting')}</span>
          <select aria-label={t('shell.language')} value={lang} onChange={(e) => { const l = (e.target as HTMLSelectElement).value as Lang; saveLang(l); setLang(l); }}>
            <option value="en">English</option>
            <option value="zh">中文</option>
          </select>
          <button type="button" aria-label={t('shell.theme')} title={t('shell.theme')} onClick={() => { const n = theme === 'dark' ? 'light' : 'dark'; localStorage.setItem(THEME_KEY, n); setTheme(n); }}>
            {theme === 'dark' ? '☀' : '☾'}
          </button>
          <TokenBox ctx={ctx} />
        </div>
      </header>
      {authError ? (
        <div class="banner error" role="alert" data-testid="auth-error">
          {t('token.rejected', { message: authError.message })}
        </div>
      ) : null}
      <main>
        {page === 'overview' ? <OverviewPage /> : null}
        {page === 'plugins' && route[1] ? <PluginPage id={route[1]} /> : null}
        {page === 'plugins' && !route[1] ? <PluginsPage /> : null}
        {page === 'alerts' ? <AlertsPage tab={route[1]} /> : null}
        {page === 'reports' ? <ReportsPage /> : null}
        {page === 'profiling' ? <ProfilingPage id={route[1]} /> : null}
        {page === 'system' ? <SystemPage /> : null}
      </main>
    </Ctx.Provider>
  );
}

render(<App />, document.getElementById('app')!);
