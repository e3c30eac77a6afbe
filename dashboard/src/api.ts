// The dashboard's client of the /v1 API. Errors carry the API's stable
// {"error":{"code","message"}} shape so the UI can show the message as is.

export class APIError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

export interface Stream {
  id: string;
  name: string;
  status: string;
  playback_id: string;
  playback_policy: string;
  recording: boolean;
  latency_mode: string;
  ingest_url?: string;
  playback_url?: string;
  stream_key?: string;
}

// Ingest is GET /v1/streams/{id}/ingest: the URLs of the edge nearest the
// creator, each present only when that edge offers the protocol. The
// servers are shown; the full URLs (which carry the key) are not.
export interface Ingest {
  edge_id: string;
  rtmp_server?: string;
  rtmps_server?: string;
  srt_url?: string;
  whip_url?: string;
}

// Session is one publish of a stream, with how it came in.
export interface Session {
  id: string;
  protocol: string;
  remote_addr?: string;
  started_at: string;
  ended_at?: string;
  end_reason?: string;
  source?: { width: number; height: number; fps: number; video_codec: string; audio_codec: string };
}

const TOKEN = "livestreams.token";
const ORG = "livestreams.org";

export function token(): string | null {
  return sessionStorage.getItem(TOKEN);
}

export function setSession(tok: string | null, org?: string): void {
  if (tok) sessionStorage.setItem(TOKEN, tok);
  else sessionStorage.removeItem(TOKEN);
  if (org) sessionStorage.setItem(ORG, org);
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const tok = token();
  if (tok) headers["Authorization"] = "Bearer " + tok;
  const org = sessionStorage.getItem(ORG);
  if (org) headers["X-Livestreams-Org"] = org;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  const data = text ? JSON.parse(text) : {};
  if (!resp.ok) {
    const e = data.error ?? {};
    throw new APIError(resp.status, e.code ?? "error", e.message ?? resp.statusText);
  }
  return data as T;
}

export function list<T>(data: unknown): T[] {
  if (Array.isArray(data)) return data as T[];
  const d = data as { items?: T[]; data?: T[] };
  return d.items ?? d.data ?? [];
}
