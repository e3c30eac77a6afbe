// The dashboard's small shared pieces: loading, error and empty states, a
// copy button, a secret that is revealed on request, progress bars, status
// badges and the hook that loads a resource.
import { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { APIError } from "./api";
import { navigate } from "./router";

export function message(err: unknown): string {
  if (err instanceof APIError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

// useLoad runs load on mount and whenever deps change; reload() runs it
// again without showing the loading state.
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const reload = useCallback(async () => {
    try {
      setData(await load());
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  }, deps);
  useEffect(() => { setLoading(true); setData(undefined); void reload(); }, deps);
  return { data, error, loading, reload, setData };
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return <p class="muted loading" role="status" aria-live="polite"><span class="spinner" aria-hidden="true" />{what}…</p>;
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <span>{message(error)}</span>
      {retry && <button type="button" class="link" onClick={retry}>Try again</button>}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return <div class="empty"><p class="empty-title">{title}</p>{children}</div>;
}

// Loaded shows the loading, error or loaded state of a useLoad.
export function Loaded<T>({ state, children }: { state: { data?: T; error: unknown; loading: boolean; reload: () => void }; children: (d: T) => ComponentChildren }) {
  if (state.loading && state.data === undefined) return <Loading />;
  if (state.data === undefined) return <ErrorBox error={state.error} retry={state.reload} />;
  return <>{state.error ? <ErrorBox error={state.error} retry={state.reload} /> : null}{children(state.data)}</>;
}

export function Copy({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button type="button" class="small" aria-label={`${label}`} onClick={async () => {
      try { await navigator.clipboard.writeText(text); } catch { /* no clipboard permission: the text is on screen */ }
      setDone(true);
      setTimeout(() => setDone(false), 1500);
    }}>{done ? "Copied" : label}</button>
  );
}

// Field is a labelled, copyable value.
export function Field({ label, value, id }: { label: string; value: string; id?: string }) {
  return (
    <div class="field">
      <span class="field-label">{label}</span>
      <span class="field-value"><code id={id}>{value}</code><Copy text={value} label={`Copy ${label}`} /></span>
    </div>
  );
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(100, value));
  return (
    <div class="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
      <div class="progress-track"><div class="progress-fill" style={{ width: pct + "%" }} /></div>
      <span class="progress-text">{Math.round(pct)} %</span>
    </div>
  );
}

export function Badge({ status }: { status: string }) {
  return <span class={"badge badge-" + status} data-status={status}>{status === "active" ? "● live" : status}</span>;
}

export function Link({ href, children, class: cls, ...rest }: { href: string; children: ComponentChildren; class?: string; [k: string]: unknown }) {
  return (
    <a href={href} class={cls} {...rest} onClick={(e) => {
      if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      navigate(href);
    }}>{children}</a>
  );
}

export function when(iso?: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? "" : d.toLocaleString();
}

export function duration(sec: number): string {
  if (!sec || sec < 0) return "0:00";
  const s = Math.round(sec), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
}

export function bytes(n: number): string {
  if (!n) return "0 B";
  const u = ["B", "KB", "MB", "GB", "TB"];
  const i = Math.min(u.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return (n / Math.pow(1024, i)).toFixed(i ? 1 : 0) + " " + u[i];
}

// Busy wraps an async action with a disabled state and its error.
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async <T,>(f: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await f();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}
