// The org's events over server-sent events (GET /v1/events with a
// short-lived query token from POST /v1/events/token, since EventSource
// cannot send an Authorization header). One connection per tab, shared by
// every screen; it resumes from the last id after a reconnect.
import { useEffect, useRef, useState } from "preact/hooks";
import { call, Event } from "./api";

type Listener = (e: Event) => void;
const listeners = new Set<Listener>();
let source: EventSource | null = null;
let lastID = "";
let state: "off" | "connecting" | "open" | "unavailable" = "off";
const stateListeners = new Set<() => void>();
let retry: number | undefined;
let ephemeral = 0;

function setState(s: typeof state): void {
  state = s;
  stateListeners.forEach((f) => f());
}

// Types the server may name in its "event:" lines; a listener on each as
// well as on "message" takes both framings.
export const eventTypes = [
  "publish.authorized", "publish.refused", "session.started", "session.ended", "transcode.started",
  "recording.finalized", "recording.uploaded", "asset.created", "asset.ready", "asset.errored",
  "job.queued", "job.started", "job.progress", "job.succeeded", "job.failed", "job.cancelled",
  "restream.started", "restream.failed", "restream.reconnecting", "restream.stopped",
  "webhook.delivered", "webhook.failed",
];

function deliver(m: MessageEvent): void {
  try {
    const e = JSON.parse(m.data) as Event;
    if (!e || !e.type) return;
    // Progress events are not stored and carry no id.
    if (e.id) lastID = e.id;
    else e.id = "~" + ++ephemeral;
    listeners.forEach((f) => f(e));
  } catch {
    /* a comment or keep-alive */
  }
}

async function connect(): Promise<void> {
  if (source || listeners.size === 0) return;
  setState("connecting");
  let tok: string;
  try {
    tok = (await call<{ token: string }>("POST", "/v1/events/token", {})).token;
  } catch (e) {
    const status = (e as { status?: number }).status;
    setState(status === 404 || status === 405 ? "unavailable" : "off");
    if (status !== 404 && status !== 405) retry = window.setTimeout(connect, 5000);
    return;
  }
  if (listeners.size === 0) { setState("off"); return; }
  const q = new URLSearchParams({ token: tok });
  if (lastID) q.set("after", lastID);
  const es = new EventSource("/v1/events?" + q.toString());
  es.addEventListener("error", ((m: MessageEvent) => { if (m.data) console.warn("events: " + m.data); }) as EventListener);
  source = es;
  es.onopen = () => setState("open");
  es.onmessage = deliver;
  for (const t of eventTypes) es.addEventListener(t, deliver as EventListener);
  es.onerror = () => {
    // The token is short-lived: reconnect with a fresh one.
    es.close();
    source = null;
    setState("connecting");
    clearTimeout(retry);
    retry = window.setTimeout(connect, 2000);
  };
}

function disconnect(): void {
  if (listeners.size > 0) return;
  clearTimeout(retry);
  source?.close();
  source = null;
  setState("off");
}

// resetEvents drops the connection (sign out, org switch).
export function resetEvents(): void {
  clearTimeout(retry);
  source?.close();
  source = null;
  lastID = "";
  setState("off");
  if (listeners.size) void connect();
}

// useEvents calls f with every event of the org while the component is
// mounted.
export function useEvents(f: Listener): void {
  const ref = useRef(f);
  ref.current = f;
  useEffect(() => {
    const l: Listener = (e) => ref.current(e);
    listeners.add(l);
    void connect();
    return () => { listeners.delete(l); disconnect(); };
  }, []);
}

// useEventsState is the connection's state, for the header's indicator.
export function useEventsState(): typeof state {
  const [s, set] = useState(state);
  useEffect(() => {
    const f = () => set(state);
    stateListeners.add(f);
    return () => { stateListeners.delete(f); };
  }, []);
  return s;
}

// usePoll calls f every ms while mounted, and once at once: the fallback
// when the server has no event stream, and a safety net for missed events.
export function usePoll(f: () => void, ms: number, deps: unknown[] = []): void {
  const ref = useRef(f);
  ref.current = f;
  useEffect(() => {
    ref.current();
    const t = setInterval(() => ref.current(), ms);
    return () => clearInterval(t);
  }, deps);
}
