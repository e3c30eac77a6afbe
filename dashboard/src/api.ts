// The dashboard's client of the public /v1 API, written by hand from the Go
// types of controlplane/client (same names, same JSON fields), so that
// everything the dashboard does is something a script can do too. Errors
// carry the API's stable {"error":{"code","message"}} shape.

export class APIError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

export interface List<T> { items: T[] }
export interface Page<T> { items: T[]; next_cursor: string }
export interface ErrorBody { error: { code: string; message: string } }

// Identity.
export interface Signup { email: string; password: string; name?: string; org_name?: string; setup_token?: string }
export interface SignupResult { user: User; org: Org; token: string }
export interface Login { email: string; password: string }
export interface LoginResult { token: string; expires_at: string; user: User }
export interface Me { user?: User; api_key?: APIKey; org_id: string; role: string; cluster_admin: boolean; orgs: MeOrg[] }
export interface MeOrg { id: string; name: string; role: string }
export interface User { id: string; email: string; name: string; admin: boolean; created_at: string }
export interface Org { id: string; name: string; created_at: string }
export interface OrgCreate { name: string }
export interface Member { user_id: string; email: string; name: string; role: string; created_at: string }
export interface MemberPut { role: string }
export interface Invitation {
  id: string; org_id: string; org_name?: string; email: string; role: string; status: string;
  created_at: string; expires_at: string; done_at?: string;
}
export interface InvitationCreate { email: string; role?: string }

// Keys.
export interface APIKey {
  id: string; name: string; prefix: string; role: string; org_id: string; cluster_admin: boolean;
  created_by?: string; created_at: string; last_used_at: string | null; revoked_at: string | null;
}
export interface APIKeyCreate { name: string; role?: string; cluster_admin?: boolean }
export interface APIKeyCreated extends APIKey { key: string }
export interface SigningKey { id: string; public_pem: string; created_at: string; revoked_at: string | null; can_mint: boolean }
export interface SigningKeyCreate { keep_private?: boolean }
export interface SigningKeyCreated extends SigningKey { private_pem: string }
export interface TokenMint { playback_id: string; ttl_seconds?: number }
export interface Token { token: string; expires_at: string }

// Streams.
export interface Stream {
  id: string; org_id: string; name: string; playback_id: string; playback_policy: string;
  recording: boolean; latency_mode: string; dvr_window: number; disabled: boolean;
  auto_captions: boolean; captions_language?: string; srt_passphrase_set: boolean;
  status: "idle" | "active"; current_session: Session | null;
  ingest_url: string; playback_url: string; created_at: string; updated_at: string;
}
export interface StreamCreated extends Stream { stream_key: string }
export interface StreamCreate {
  name: string; playback_policy?: string; recording?: boolean; latency_mode?: string; dvr_window?: number;
  auto_captions?: boolean; captions_language?: string; srt_passphrase?: string;
}
export type StreamUpdate = Partial<Omit<StreamCreate, "name">> & { name?: string; disabled?: boolean };
export interface StreamKey { stream_key: string }
export interface Session {
  id: string; stream_id: string; edge_id: string; protocol: string; remote_addr?: string;
  started_at: string; ended_at?: string; end_reason?: string; source?: Source;
}
export interface Source {
  width: number; height: number; fps: number; has_audio: boolean; has_video: boolean;
  video_codec: string; audio_codec: string;
}
export interface Ingest {
  edge_id: string; stream_key: string; rtmp_url?: string; rtmp_server?: string; rtmps_url?: string;
  rtmps_server?: string; srt_url?: string; srt_streamid?: string; srt_passphrase?: string; whip_url?: string;
}

// Assets and jobs.
export interface Asset {
  id: string; org_id: string; type: "recording" | "upload" | "clip"; status: "preparing" | "ready" | "errored";
  stream_id?: string; session_id?: string; source_asset_id?: string; playback_id: string; playback_policy: string;
  duration: number; size: number; tracks: Track[]; renditions: Rendition[]; progress: number;
  job: AssetJob | null; error?: string; created_at: string; updated_at: string; ready_at: string | null;
  playback_url?: string; thumbnail_url?: string; storyboard_url?: string; captions: CaptionTrack[];
}
export interface CaptionTrack { language: string; status: string; job_id: string; progress: number; error?: string; vtt_url?: string }
export interface CaptionsCreate { language: string }
export interface Track { type: string; codec?: string; width?: number; height?: number; fps?: number; channels?: number; sample_rate?: number }
export interface Rendition { name: string; width?: number; height?: number; bandwidth: number }
export interface AssetJob { id: string; type: string; state: string; progress: Progress }
export interface Progress { percent: number; fps: number; speed: number }
export interface AssetUpdate { playback_policy?: string }
export interface ClipCreate { start: number; end: number; reencode?: boolean; playback_policy?: string }
export interface Clip { asset: Asset; job: Job }
export interface UploadCreate { playback_policy?: string; size?: number }
export interface Upload { asset: Asset; upload_url: string; method: "PUT"; headers: Record<string, string>; expires_at: string; max_bytes: number }
export interface Job {
  id: string; org_id: string; type: string; state: string; attempts: number; max_attempts: number;
  last_error?: string; progress: Progress; asset_id?: string; stream_id?: string; session_id?: string;
  created_at: string; updated_at: string; finished_at: string | null; cancel_requested: boolean;
}

// Analytics.
export interface AnalyticsFigures {
  views: number; unique_viewers: number; peak_concurrent: number; watch_seconds: number;
  startup_p50_ms: number; startup_p95_ms: number; startups: number; rebuffers: number;
  rebuffer_seconds: number; rebuffer_ratio: number; bitrate_switches: number; errors: number;
  fatal_errors: number; error_rate: number; segments: number; segment_bytes: number;
}
export interface AnalyticsBucket extends AnalyticsFigures { time?: string; country?: string; city?: string; edge?: string }
export interface Analytics {
  stream_id?: string; asset_id?: string; from: string; to: string; group_by: string;
  totals: AnalyticsFigures; buckets: AnalyticsBucket[];
}
export interface AnalyticsQuery { stream_id?: string; asset_id?: string; from?: string; to?: string; group_by?: string }

// Events (issue 14): the org's pipeline as the SSE stream and webhooks show it.
export interface Event {
  id: string; org_id: string; type: string; stream_id?: string; asset_id?: string; job_id?: string;
  session_id?: string; data?: Record<string, unknown>; at: string;
}

// The session: a token and the org acted in, kept for the tab only.
const TOKEN = "livestreams.token";
const ORG = "livestreams.org";

export function token(): string | null { return sessionStorage.getItem(TOKEN); }
export function currentOrg(): string | null { return sessionStorage.getItem(ORG); }
export function setSession(tok: string | null, org?: string | null): void {
  if (tok) sessionStorage.setItem(TOKEN, tok);
  else { sessionStorage.removeItem(TOKEN); sessionStorage.removeItem(ORG); }
  if (org) sessionStorage.setItem(ORG, org);
}

// onUnauthorized is told when a call answers 401 (the session expired).
let unauthorized: () => void = () => undefined;
export function onUnauthorized(f: () => void): void { unauthorized = f; }

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { Accept: "application/json", ...extra };
  const tok = token();
  if (tok) h["Authorization"] = "Bearer " + tok;
  const org = currentOrg();
  if (org) h["X-Livestreams-Org"] = org;
  return h;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const h = headers(body === undefined ? {} : { "Content-Type": "application/json" });
  let resp: Response;
  try {
    resp = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new APIError(0, "unavailable", "the control plane cannot be reached: " + String(e));
  }
  const text = await resp.text();
  let data: unknown = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = {}; }
  if (!resp.ok) {
    const e = (data as Partial<ErrorBody>).error;
    if (resp.status === 401 && token()) unauthorized();
    throw new APIError(resp.status, e?.code ?? "error", e?.message ?? `${method} ${path}: ${resp.status} ${resp.statusText}`);
  }
  return data as T;
}

const enc = encodeURIComponent;
const items = <T>(p: Promise<List<T>>) => p.then((l) => l.items ?? []);
function query(q: Record<string, string | number | undefined>): string {
  const v = new URLSearchParams();
  for (const [k, x] of Object.entries(q)) if (x !== undefined && x !== "") v.set(k, String(x));
  const s = v.toString();
  return s ? "?" + s : "";
}

// The API, grouped as the Go client groups it.
export const api = {
  auth: {
    signup: (s: Signup) => call<SignupResult>("POST", "/v1/auth/signup", s),
    login: (l: Login) => call<LoginResult>("POST", "/v1/auth/login", l),
    me: () => call<Me>("GET", "/v1/me"),
  },
  orgs: {
    list: () => items(call<List<Org>>("GET", "/v1/orgs")),
    create: (r: OrgCreate) => call<Org>("POST", "/v1/orgs", r),
    members: (org: string) => items(call<List<Member>>("GET", `/v1/orgs/${enc(org)}/members`)),
    putMember: (org: string, user: string, r: MemberPut) => call<Member>("PUT", `/v1/orgs/${enc(org)}/members/${enc(user)}`, r),
    removeMember: (org: string, user: string) => call<void>("DELETE", `/v1/orgs/${enc(org)}/members/${enc(user)}`),
    invite: (org: string, r: InvitationCreate) => call<Invitation>("POST", `/v1/orgs/${enc(org)}/invitations`, r),
    invitations: (org: string) => items(call<List<Invitation>>("GET", `/v1/orgs/${enc(org)}/invitations`)),
    revokeInvitation: (org: string, id: string) => call<void>("DELETE", `/v1/orgs/${enc(org)}/invitations/${enc(id)}`),
  },
  invitations: {
    mine: () => items(call<List<Invitation>>("GET", "/v1/invitations")),
    accept: (id: string) => call<Member>("POST", `/v1/invitations/${enc(id)}/accept`, {}),
    decline: (id: string) => call<void>("POST", `/v1/invitations/${enc(id)}/decline`, {}),
  },
  apiKeys: {
    list: () => items(call<List<APIKey>>("GET", "/v1/api-keys")),
    create: (r: APIKeyCreate) => call<APIKeyCreated>("POST", "/v1/api-keys", r),
    revoke: (id: string) => call<void>("DELETE", `/v1/api-keys/${enc(id)}`),
  },
  signingKeys: {
    list: () => items(call<List<SigningKey>>("GET", "/v1/signing-keys")),
    create: (r: SigningKeyCreate) => call<SigningKeyCreated>("POST", "/v1/signing-keys", r),
    revoke: (id: string) => call<void>("DELETE", `/v1/signing-keys/${enc(id)}`),
    mint: (id: string, r: TokenMint) => call<Token>("POST", `/v1/signing-keys/${enc(id)}/tokens`, r),
  },
  streams: {
    list: () => items(call<List<Stream>>("GET", "/v1/streams")),
    create: (r: StreamCreate) => call<StreamCreated>("POST", "/v1/streams", r),
    get: (id: string) => call<Stream>("GET", `/v1/streams/${enc(id)}`),
    update: (id: string, r: StreamUpdate) => call<Stream>("PATCH", `/v1/streams/${enc(id)}`, r),
    delete: (id: string) => call<void>("DELETE", `/v1/streams/${enc(id)}`),
    key: (id: string) => call<StreamKey>("GET", `/v1/streams/${enc(id)}/key`),
    resetKey: (id: string) => call<StreamKey>("POST", `/v1/streams/${enc(id)}/reset-key`, {}),
    sessions: (id: string) => items(call<List<Session>>("GET", `/v1/streams/${enc(id)}/sessions`)),
    ingest: (id: string) => call<Ingest>("GET", `/v1/streams/${enc(id)}/ingest`),
  },
  assets: {
    list: (q: { status?: string; type?: string; stream_id?: string; limit?: number; cursor?: string } = {}) =>
      call<Page<Asset>>("GET", "/v1/assets" + query(q)),
    get: (id: string) => call<Asset>("GET", `/v1/assets/${enc(id)}`),
    update: (id: string, r: AssetUpdate) => call<Asset>("PATCH", `/v1/assets/${enc(id)}`, r),
    delete: (id: string) => call<void>("DELETE", `/v1/assets/${enc(id)}`),
    clip: (id: string, r: ClipCreate) => call<Clip>("POST", `/v1/assets/${enc(id)}/clips`, r),
    captions: (id: string, r: CaptionsCreate) => call<Job>("POST", `/v1/assets/${enc(id)}/captions`, r),
    upload: (r: UploadCreate) => call<Upload>("POST", "/v1/uploads", r),
  },
  jobs: {
    list: (q: { state?: string; type?: string; asset_id?: string; limit?: number } = {}) => call<Page<Job>>("GET", "/v1/jobs" + query(q)),
    get: (id: string) => call<Job>("GET", `/v1/jobs/${enc(id)}`),
    cancel: (id: string) => call<Job>("DELETE", `/v1/jobs/${enc(id)}`),
  },
  analytics: (q: AnalyticsQuery) => call<Analytics>("GET", "/v1/analytics" + query({ ...q })),
};

// Restream targets (issue 14): a stream's simulcast destinations.
export interface RestreamTarget {
  id: string; stream_id: string; name: string; preset: string; url: string; key_set: boolean; key_last4?: string;
  enabled: boolean; linked_account_id?: string; status: string; last_error?: string; status_at?: string;
  job_id?: string; created_at: string; updated_at: string;
}
export interface RestreamTargetCreate { name: string; preset?: string; url?: string; key: string; enabled?: boolean }
export interface RestreamTargetUpdate { name?: string; preset?: string; url?: string; key?: string; enabled?: boolean }
export const restreamPresets = ["youtube", "twitch", "facebook", "kick", "custom"];

// Linked accounts (issue 14): YouTube and Twitch, linked over OAuth.
export interface LinkedAccount {
  id: string; org_id: string; provider: string; account_id: string; account_name: string; scopes: string[];
  token_expires_at: string; created_by: string; created_at: string; updated_at: string;
}
export interface OAuthStart { provider: string; authorization_url: string; expires_at: string }
export interface RestreamFromAccount { linked_account_id: string; name?: string; enabled?: boolean }

// Webhooks (issue 14).
export interface Webhook { id: string; url: string; description?: string; event_types: string[]; enabled: boolean; created_at: string; updated_at: string }
export interface WebhookCreate { url: string; description?: string; event_types?: string[]; secret?: string; enabled?: boolean }
export interface WebhookUpdate { url?: string; description?: string; event_types?: string[]; enabled?: boolean }
export interface WebhookWithSecret extends Webhook { secret: string }
export interface WebhookDelivery {
  id: string; webhook_id: string; event_id: string; event_type: string; status: string; redelivery_of?: string;
  attempts: WebhookAttempt[]; next_attempt_at?: string; created_at: string; updated_at: string; body?: string;
}
export interface WebhookAttempt { n: number; at: string; ok: boolean; response_code?: number; latency_ms: number; response_body?: string; error?: string }

export const api14 = {
  events: {
    token: () => call<{ token: string }>("POST", "/v1/events/token", {}),
    // list is one page of the stored log, oldest first after ?after=.
    list: (q: { stream_id?: string; asset_id?: string; job_id?: string; type?: string; after?: string; limit?: number }) =>
      call<Page<Event>>("GET", "/v1/events" + query({ ...q, format: "json" })),
  },
  restream: {
    list: (stream: string) => items(call<List<RestreamTarget>>("GET", `/v1/streams/${enc(stream)}/restream-targets`)),
    create: (stream: string, r: RestreamTargetCreate) => call<RestreamTarget>("POST", `/v1/streams/${enc(stream)}/restream-targets`, r),
    update: (stream: string, id: string, r: RestreamTargetUpdate) => call<RestreamTarget>("PATCH", `/v1/streams/${enc(stream)}/restream-targets/${enc(id)}`, r),
    delete: (stream: string, id: string) => call<void>("DELETE", `/v1/streams/${enc(stream)}/restream-targets/${enc(id)}`),
    fromAccount: (stream: string, r: RestreamFromAccount) => call<RestreamTarget>("POST", `/v1/streams/${enc(stream)}/restream-targets/from-account`, r),
  },
  linkedAccounts: {
    list: () => items(call<List<LinkedAccount>>("GET", "/v1/linked-accounts")),
    delete: (id: string) => call<void>("DELETE", `/v1/linked-accounts/${enc(id)}`),
    start: (provider: string) => call<OAuthStart>("GET", `/v1/oauth/${enc(provider)}/start`),
  },
  webhooks: {
    list: () => items(call<List<Webhook>>("GET", "/v1/webhooks")),
    create: (r: WebhookCreate) => call<WebhookWithSecret>("POST", "/v1/webhooks", r),
    update: (id: string, r: WebhookUpdate) => call<Webhook>("PATCH", `/v1/webhooks/${enc(id)}`, r),
    delete: (id: string) => call<void>("DELETE", `/v1/webhooks/${enc(id)}`),
    rotateSecret: (id: string) => call<WebhookWithSecret>("POST", `/v1/webhooks/${enc(id)}/rotate-secret`, {}),
    test: (id: string) => call<WebhookDelivery>("POST", `/v1/webhooks/${enc(id)}/test`, {}),
    deliveries: (id: string, limit = 50) => items(call<List<WebhookDelivery>>("GET", `/v1/webhooks/${enc(id)}/deliveries` + query({ limit }))),
    redeliver: (id: string) => call<WebhookDelivery>("POST", `/v1/webhooks/deliveries/${enc(id)}/redeliver`, {}),
  },
};

// notAvailable tells an answer that the server has no such route (a
// server without that feature): 404 with the router's "no route" message.
export function notAvailable(e: unknown): boolean {
  return e instanceof APIError && (e.status === 404 || e.status === 405) && /no route|not allowed/.test(e.message);
}
