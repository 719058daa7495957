import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiFailure } from './api';
import type { Lang, T } from './i18n';

export interface AppCtx {
  t: T;
  lang: Lang;
  theme: string;
  hasToken: boolean;
}

export const Ctx = createContext<AppCtx>(null as unknown as AppCtx);
export const useCtx = () => useContext(Ctx);

export interface Loaded<T> {
  data: T | null;
  error: ApiFailure | null;
  reload: () => Promise<void>;
}

/**
 * GET `path` now, again whenever `path` or the token changes, and every `everyMs` if given. The last good answer
 * stays on screen while a reload runs (no flicker, no layout jump); an error replaces it only when there is none.
 */
export function useApi<T>(path: string | null, everyMs?: number): Loaded<T> {
  const { hasToken } = useCtx();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const current = useRef(path);
  current.current = path;
  const reload = useCallback(async () => {
    if (!path) return;
    try {
      const d = await api<T>(path);
      if (current.current !== path) return;
      setData(d);
      setError(null);
    } catch (err) {
      if (current.current !== path) return;
      setError(err instanceof ApiFailure ? err : new ApiFailure(0, 'CLIENT', String(err)));
    }
  }, [path, hasToken]);
  useEffect(() => {
    void reload();
    if (!everyMs) return;
    const timer = setInterval(() => void reload(), everyMs);
    return () => clearInterval(timer);
  }, [reload, everyMs]);
  return { data, error, reload };
}

/** What a failed load shows: the token hint on 401, else the API's code and message. */
export function Failure(props: { error: ApiFailure | null }) {
  const { t } = useCtx();
  if (!props.error) return null;
  if (props.error.status === 401) return <p class="notice" data-testid="needs-token">{t('token.needed')}</p>;
  return (
    <p class="notice error" role="alert">
      {t('common.error')}: {props.error.code} — {props.error.message}
    </p>
  );
}

/** A modal `<dialog>`: focus moves into it, Esc cancels, the page behind is inert. */
export function Confirm(props: { open: boolean; title: string; children?: ComponentChildren; onConfirm: () => void; onCancel: () => void; confirmLabel?: string }) {
  const { t } = useCtx();
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current!;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} onCancel={(e) => { e.preventDefault(); props.onCancel(); }} aria-label={props.title}>
      <form method="dialog" onSubmit={(e) => { e.preventDefault(); props.onConfirm(); }}>
        <p>{props.title}</p>
        {props.children}
        <div class="row end">
          <button type="button" onClick={props.onCancel}>{t('common.cancel')}</button>
          <button type="submit" class="primary" data-testid="confirm">{props.confirmLabel ?? t('common.confirm')}</button>
        </div>
      </form>
    </dialog>
  );
}

/** A transient line of feedback after an action (success or the API's error). */
export function useFlash(): [{ kind: 'ok' | 'error'; text: string } | null, (kind: 'ok' | 'error', text: string) => void] {
  const [flash, setFlash] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const show = useCallback((kind: 'ok' | 'error', text: string) => {
    setFlash({ kind, text });
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setFlash(null), 8000);
  }, []);
  return [flash, show];
}

export function Flash(props: { flash: { kind: 'ok' | 'error'; text: string } | null }) {
  // the line is always there, so a message appearing moves nothing below it
  return (
    <p class={`flash ${props.flash?.kind ?? ''}`} role="status" data-testid="flash">
      {props.flash?.text ?? ' '}
    </p>
  );
}

export const failureText = (err: unknown) => (err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err));
