// The creators' dashboard: sign in, create streams, copy the RTMP URL and
// stream key into OBS, and watch the stream play. Deliberately small: plain
// DOM, one file per concern, no framework.
import Hls from "hls.js";
import { APIError, call, Ingest, list, Session, setSession, Stream, token } from "./api";

const root = document.getElementById("app")!;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

function showError(where: HTMLElement, err: unknown): void {
  const msg = err instanceof APIError ? err.message : String(err);
  where.replaceChildren(el("p", { class: "error", role: "alert" }, msg));
}

function loginView(): void {
  const email = el("input", { type: "email", name: "email", placeholder: "email", required: "" });
  const password = el("input", { type: "password", name: "password", placeholder: "password", required: "" });
  const status = el("div");
  const form = el("form", { id: "login" }, el("h1", {}, "Livestreams"), email, password, el("button", { type: "submit" }, "Sign in"), status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await call<{ token: string }>("POST", "/v1/auth/login", { email: email.value, password: password.value });
      setSession(r.token);
      await streamsView();
    } catch (err) {
      showError(status, err);
    }
  });
  root.replaceChildren(form);
}

async function streamsView(): Promise<void> {
  const status = el("div");
  const name = el("input", { name: "name", placeholder: "new stream name", required: "" });
  const signed = el("input", { type: "checkbox", name: "signed" });
  const create = el("form", { id: "create" }, name, el("label", {}, signed, " signed playback"), el("button", { type: "submit" }, "Create stream"));
  const table = el("table", { id: "streams" });
  const logout = el("button", { id: "logout" }, "Sign out");
  logout.addEventListener("click", () => { setSession(null); loginView(); });
  root.replaceChildren(el("header", {}, el("h1", {}, "Streams"), logout), create, status, table);

  const refresh = async () => {
    try {
      const streams = list<Stream>(await call("GET", "/v1/streams"));
      table.replaceChildren(el("tr", {}, el("th", {}, "Name"), el("th", {}, "Status"), el("th", {}, "Playback")));
      for (const s of streams) {
        const link = el("a", { href: "#" + s.id }, s.name);
        link.addEventListener("click", (ev) => { ev.preventDefault(); streamView(s.id); });
        table.append(el("tr", {}, el("td", {}, link), el("td", { class: "status-" + s.status }, s.status), el("td", {}, s.playback_policy)));
      }
    } catch (err) {
      if (err instanceof APIError && err.status === 401) return loginView();
      showError(status, err);
    }
  };
  create.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const s = await call<Stream>("POST", "/v1/streams", { name: name.value, playback_policy: signed.checked ? "signed" : "public" });
      name.value = "";
      await streamView(s.id);
    } catch (err) {
      showError(status, err);
    }
  });
  await refresh();
}

async function streamView(id: string): Promise<void> {
  const status = el("div");
  const back = el("button", {}, "← All streams");
  back.addEventListener("click", () => streamsView());
  try {
    const s = await call<Stream>("GET", "/v1/streams/" + encodeURIComponent(id));
    const key = el("code", { id: "stream-key" }, "••••••••");
    const reveal = el("button", {}, "Show key");
    reveal.addEventListener("click", async () => {
      try {
        const k = await call<{ stream_key: string }>("GET", `/v1/streams/${encodeURIComponent(id)}/key`);
        key.textContent = k.stream_key;
      } catch (err) {
        showError(status, err);
      }
    });
    const video = el("video", { controls: "", muted: "", playsinline: "", width: "640" }) as HTMLVideoElement;
    const play = el("button", {}, "Play");
    play.addEventListener("click", () => attach(video, s.playback_url ?? `/v1/play/${s.playback_id}.m3u8`));
    const ingest = el("dl", { id: "ingest" });
    const sessions = el("table", { id: "sessions" });
    root.replaceChildren(
      back,
      el("h1", {}, s.name),
      el("dl", {},
        el("dt", {}, "Status"), el("dd", { class: "status-" + s.status }, s.status),
        el("dt", {}, "Stream key"), el("dd", {}, key, " ", reveal),
        el("dt", {}, "Playback URL"), el("dd", {}, el("code", {}, location.origin + `/v1/play/${s.playback_id}.m3u8`)),
        el("dt", {}, "Policy"), el("dd", {}, s.playback_policy),
        el("dt", {}, "Latency"), el("dd", {}, s.latency_mode)),
      el("h2", {}, "Go live"), ingest,
      status, play, video,
      el("h2", {}, "Sessions"), sessions);
    void showIngest(ingest, id, status);
    void showSessions(sessions, id, status);
  } catch (err) {
    root.replaceChildren(back, status);
    showError(status, err);
  }
}

// showIngest lists the ingest servers of the edge nearest the creator;
// the stream key is shown (on request) beside them, never inside a URL.
async function showIngest(dl: HTMLElement, id: string, status: HTMLElement): Promise<void> {
  try {
    const g = await call<Ingest>("GET", `/v1/streams/${encodeURIComponent(id)}/ingest`);
    const rows: [string, string | undefined][] = [
      ["RTMP server (OBS)", g.rtmp_server],
      ["RTMPS server", g.rtmps_server],
      ["SRT", g.srt_url ? g.srt_url.replace(/streamid=[^&]*/, "streamid=#!::r=live/STREAM_KEY,m=publish") : undefined],
      ["WHIP endpoint", g.whip_url],
    ];
    dl.replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, el("code", {}, v!))]));
  } catch (err) {
    dl.replaceChildren(el("dd", {}, "no edge online"));
    if (!(err instanceof APIError && err.status === 503)) showError(status, err);
  }
}

// showSessions lists the stream's publishes: when, over which protocol,
// from where, what was sent and how each ended.
async function showSessions(table: HTMLElement, id: string, status: HTMLElement): Promise<void> {
  try {
    const all = list<Session>(await call<unknown>("GET", `/v1/streams/${encodeURIComponent(id)}/sessions`));
    const head = el("tr", {}, ...["Started", "Protocol", "From", "Source", "Ended"].map((h) => el("th", {}, h)));
    const rows = all.map((x) => el("tr", {},
      el("td", {}, new Date(x.started_at).toLocaleString()),
      el("td", {}, x.protocol || "rtmp"),
      el("td", {}, x.remote_addr ?? ""),
      el("td", {}, x.source ? `${x.source.width}x${x.source.height} ${x.source.video_codec}/${x.source.audio_codec}` : ""),
      el("td", {}, x.ended_at ? `${new Date(x.ended_at).toLocaleString()} (${x.end_reason ?? ""})` : "live")));
    table.replaceChildren(head, ...(rows.length ? rows : [el("tr", {}, el("td", {}, "No sessions yet."))]));
  } catch (err) {
    showError(status, err);
  }
}

function attach(video: HTMLVideoElement, url: string): void {
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
  } else if (Hls.isSupported()) {
    const hls = new Hls();
    hls.loadSource(url);
    hls.attachMedia(video);
  }
  void video.play().catch(() => undefined);
}

if (token()) void streamsView(); else loginView();
