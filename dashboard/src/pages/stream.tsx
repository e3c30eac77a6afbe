// One stream: go live from the browser, the live preview and its viewers,
// the ingest settings for OBS/SRT/RTMPS, the activity timeline, restream
// targets, recordings and analytics.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, api14, Event, Ingest, Stream, StreamUpdate, Token } from "../api";
import { can, useSession } from "../app";
import { useEvents, useEventsState, usePoll } from "../events";
import { Player } from "../player";
import { navigate } from "../router";
import { bitrates, capture, Capture, publish, Publication, resolutions } from "../whip";
import { Badge, Copy, duration, Empty, ErrorBox, Field, Link, Loaded, ProgressBar, useAction, useLoad, when } from "../ui";
import { AnalyticsPanel } from "./analytics";
import { RestreamPanel } from "./restream";

export function StreamPage({ id }: { id: string }) {
  const stream = useLoad(() => api.streams.get(id), [id]);
  const [timeline, setTimeline] = useState<Event[]>([]);
  const sse = useEventsState();
  const add = (evs: Event[]) => setTimeline((t) => {
    const seen = new Set(t.map((x) => x.id));
    const fresh = evs.filter((e) => !seen.has(e.id));
    if (fresh.length === 0) return t;
    return [...t, ...fresh].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, 200);
  });
  useEvents((e) => {
    if (e.stream_id !== id) return;
    add([e]);
    if (e.type.startsWith("session.") || e.type.startsWith("publish.")) void stream.reload();
  });
  // The stored log fills the timeline on arrival, and keeps it current
  // whenever the live stream is down.
  const history = async () => {
    try {
      const after = timeline.filter((e) => e.id && !e.id.startsWith("~")).map((e) => e.id).sort().pop();
      add((await api14.events.list({ stream_id: id, after, limit: 200 })).items ?? []);
    } catch { /* a server without an event log */ }
  };
  usePoll(() => { if (timeline.length === 0 || sse !== "open") void history(); }, 5000, [id, sse]);
  usePoll(() => void stream.reload(), 5000, [id]);
  return (
    <Loaded state={stream}>{(s) => <StreamView s={s} reload={stream.reload} timeline={timeline} />}</Loaded>
  );
}

function StreamView({ s, reload, timeline }: { s: Stream; reload: () => void; timeline: Event[] }) {
  const session = useSession();
  const member = can(session.role, "member");
  return (
    <article class="stream-page" aria-labelledby="stream-h">
      <p><Link href="/streams">← All streams</Link></p>
      <div class="page-head">
        <h1 id="stream-h">{s.name}</h1>
        <Badge status={s.disabled ? "disabled" : s.status} />
      </div>
      <div class="grid-2">
        <div class="stack">
          {member && <GoLive stream={s} onChange={reload} />}
          <Preview stream={s} />
        </div>
        <div class="stack">
          <Timeline stream={s} events={timeline} />
          {member && <IngestCard stream={s} />}
        </div>
      </div>
      <RestreamPanel stream={s} />
      <Recordings stream={s} />
      <Settings stream={s} onSaved={reload} />
      <AnalyticsPanel query={{ stream_id: s.id }} title="Stream analytics" />
    </article>
  );
}

// GoLive publishes from the browser's camera or screen over WHIP.
function GoLive({ stream, onChange }: { stream: Stream; onChange: () => void }) {
  const [cfg, setCfg] = useState<Capture>({ source: "camera", height: 720, bitrate: 2500 });
  const [media, setMedia] = useState<MediaStream | null>(null);
  const [pub, setPub] = useState<Publication | null>(null);
  const [state, setState] = useState<"idle" | "previewing" | "connecting" | "live">("idle");
  const [since, setSince] = useState(0);
  const [, tick] = useState(0);
  const a = useAction();
  const preview = useRef<HTMLVideoElement>(null);

  useEffect(() => { if (preview.current) preview.current.srcObject = media; }, [media]);
  // Leaving the page stops what this page started (and only then).
  const live = useRef<{ pub: Publication | null; media: MediaStream | null }>({ pub: null, media: null });
  live.current = { pub, media };
  useEffect(() => () => { void live.current.pub?.stop(); live.current.media?.getTracks().forEach((t) => t.stop()); }, []);
  useEffect(() => {
    if (state !== "live") return;
    const t = setInterval(() => tick((x) => x + 1), 1000);
    return () => clearInterval(t);
  }, [state]);
  useEffect(() => {
    if (!pub) return;
    const f = () => { if (pub.pc.connectionState === "failed" || pub.pc.connectionState === "closed") { setState("idle"); setPub(null); } };
    pub.pc.addEventListener("connectionstatechange", f);
    return () => pub.pc.removeEventListener("connectionstatechange", f);
  }, [pub]);

  const open = () => a.run(async () => {
    media?.getTracks().forEach((t) => t.stop());
    const m = await capture(cfg);
    setMedia(m);
    setState("previewing");
    return m;
  });
  const goLive = () => a.run(async () => {
    const m = media ?? (await capture(cfg));
    setMedia(m);
    setState("connecting");
    try {
      const p = await publish(stream.id, m, cfg.bitrate);
      setPub(p);
      setSince(Date.now());
      setState("live");
      onChange();
    } catch (e) {
      setState("previewing");
      throw e;
    }
  });
  const stop = () => a.run(async () => {
    await pub?.stop();
    setPub(null);
    setMedia(null);
    setState("idle");
    onChange();
  });
  const busy = a.busy || state === "connecting";
  return (
    <section class="card" aria-labelledby="golive-h" id="go-live">
      <div class="card-head">
        <h2 id="golive-h">Go live from this browser</h2>
        {state === "live" && <span class="live-indicator" role="status" id="live-indicator">● LIVE {duration((Date.now() - since) / 1000)}</span>}
      </div>
      <div class="form-row">
        <label>Source
          <select name="source" value={cfg.source} disabled={state === "live"} onChange={(e) => setCfg({ ...cfg, source: e.currentTarget.value as Capture["source"] })}>
            <option value="camera">Camera and microphone</option>
            <option value="screen">Screen share</option>
          </select>
        </label>
        <label>Resolution
          <select name="resolution" value={cfg.height} disabled={state === "live"} onChange={(e) => setCfg({ ...cfg, height: +e.currentTarget.value })}>
            {resolutions.map((h) => <option key={h} value={h}>{h}p</option>)}
          </select>
        </label>
        <label>Bitrate
          <select name="bitrate" value={cfg.bitrate} disabled={state === "live"} onChange={(e) => setCfg({ ...cfg, bitrate: +e.currentTarget.value })}>
            {bitrates.map((b) => <option key={b} value={b}>{b >= 1000 ? b / 1000 + " Mbps" : b + " kbps"}</option>)}
          </select>
        </label>
      </div>
      <video ref={preview} class={"camera" + (media ? "" : " hidden")} autoPlay muted playsInline aria-label="Camera preview" />
      <ErrorBox error={a.error} />
      <div class="actions">
        {state !== "live" && state !== "connecting" && <button type="button" onClick={open} disabled={busy}>{media ? "Change source" : "Preview"}</button>}
        {state !== "live" && <button type="button" class="primary" id="go-live-btn" onClick={goLive} disabled={busy || stream.status === "active" || stream.disabled}>{state === "connecting" ? "Connecting…" : "Go live"}</button>}
        {state === "live" && <button type="button" class="danger" id="stop-live" onClick={stop} disabled={a.busy}>Stop</button>}
      </div>
      {stream.status === "active" && state !== "live" && <p class="muted">This stream is live from another encoder.</p>}
    </section>
  );
}

// Preview plays the live stream as viewers see it, with a viewer count.
function Preview({ stream }: { stream: Stream }) {
  const [tok, setTok] = useState<Token | null>(null);
  const [why, setWhy] = useState("");
  const viewers = useLoad(async () => {
    const to = new Date(), from = new Date(to.getTime() - 5 * 60 * 1000);
    const a = await api.analytics({ stream_id: stream.id, group_by: "minute", from: from.toISOString(), to: to.toISOString() });
    const last = a.buckets[a.buckets.length - 1];
    return last ? last.peak_concurrent : 0;
  }, [stream.id]);
  usePoll(() => void viewers.reload(), 10000, [stream.id]);
  useEffect(() => {
    if (stream.playback_policy !== "signed") return;
    // A signed stream plays with a token minted by a key the API keeps.
    api.signingKeys.list().then(async (keys) => {
      const k = keys.find((x) => x.can_mint && !x.revoked_at);
      if (!k) { setWhy("Signed playback: create a signing key that the API keeps to preview here."); return; }
      setTok(await api.signingKeys.mint(k.id, { playback_id: stream.playback_id, ttl_seconds: 3600 }));
    }).catch((e) => setWhy(String(e.message ?? e)));
  }, [stream.id, stream.playback_policy]);
  const src = stream.playback_url + (tok ? "?token=" + encodeURIComponent(tok.token) : "");
  return (
    <section class="card" aria-labelledby="preview-h" id="preview">
      <div class="card-head">
        <h2 id="preview-h">Live preview</h2>
        <span class="muted" id="viewers">{viewers.data ?? 0} watching</span>
      </div>
      {stream.status !== "active" ? (
        <Empty title="Not live">
          <p>The preview starts when the stream goes live.</p>
        </Empty>
      ) : stream.playback_policy === "signed" && !tok ? (
        <p class="muted">{why || "Minting a playback token…"}</p>
      ) : (
        <Player key={src + (stream.current_session?.id ?? "")} src={src} live label="Live preview" id="live-player" />
      )}
      <Field label="Playback URL" value={stream.playback_url} />
    </section>
  );
}

const eventLabels: Record<string, string> = {
  "publish.authorized": "Publish authorized", "publish.refused": "Publish refused",
  "session.started": "Live", "session.ended": "Session ended", "transcode.started": "Transcoding started",
  "recording.finalized": "Recording finalized", "recording.uploaded": "Recording uploaded",
  "asset.created": "Asset created", "asset.ready": "Asset ready", "asset.errored": "Asset failed",
  "job.queued": "Job queued", "job.started": "Job started", "job.progress": "Job progress",
  "job.succeeded": "Job done", "job.failed": "Job failed", "job.cancelled": "Job cancelled",
  "restream.started": "Restream started", "restream.failed": "Restream failed",
  "restream.reconnecting": "Restream reconnecting", "restream.stopped": "Restream stopped",
};

// Timeline is the stream's activity: its sessions, and every event as it
// comes in (SSE).
function Timeline({ stream, events }: { stream: Stream; events: Event[] }) {
  const sessions = useLoad(() => api.streams.sessions(stream.id), [stream.id, stream.status]);
  // Progress events update one line per job rather than adding lines.
  const shown: Event[] = [];
  const seenJob = new Set<string>();
  for (const e of events) {
    if (e.type === "job.progress") {
      if (seenJob.has(e.job_id ?? "")) continue;
      seenJob.add(e.job_id ?? "");
    }
    shown.push(e);
  }
  return (
    <section class="card" aria-labelledby="timeline-h" id="timeline">
      <h2 id="timeline-h">Activity</h2>
      {shown.length > 0 && (
        <ol class="timeline" aria-live="polite">
          {shown.map((e) => (
            <li key={e.id} data-type={e.type}>
              <time dateTime={e.at}>{new Date(e.at).toLocaleTimeString()}</time>
              <span>{eventLabels[e.type] ?? e.type}{detail(e)}</span>
              {e.type === "job.progress" && typeof e.data?.percent === "number" && <ProgressBar value={e.data.percent as number} label="Job progress" />}
            </li>
          ))}
        </ol>
      )}
      <h3>Sessions</h3>
      <Loaded state={sessions}>{(list) => list.length === 0 ? <p class="muted">No sessions yet.</p> : (
        <ul class="sessions">
          {list.slice(0, 10).map((x) => (
            <li key={x.id}>
              <strong>{(x.protocol || "rtmp").toUpperCase()}</strong> {when(x.started_at)}
              {x.source && <span class="muted"> · {x.source.width}×{x.source.height} {x.source.video_codec}/{x.source.audio_codec}</span>}
              <span class="muted"> · {x.ended_at ? `ended ${new Date(x.ended_at).toLocaleTimeString()} (${x.end_reason ?? ""})` : "live"}</span>
            </li>
          ))}
        </ul>
      )}</Loaded>
    </section>
  );
}

function detail(e: Event): string {
  const d = e.data ?? {};
  const parts: string[] = [];
  for (const k of ["protocol", "reason", "type", "name", "error"]) if (typeof d[k] === "string" && d[k]) parts.push(String(d[k]));
  return parts.length ? ": " + parts.join(", ") : "";
}

// IngestCard gives an encoder what it needs, for the edge nearest the
// creator: servers shown, the key revealed only on request.
function IngestCard({ stream }: { stream: Stream }) {
  const ingest = useLoad<Ingest | null>(() => api.streams.ingest(stream.id).catch((e) => { if (e.status === 503) return null; throw e; }), [stream.id]);
  const [key, setKey] = useState("");
  const a = useAction();
  const masked = "•".repeat(24);
  return (
    <section class="card" aria-labelledby="ingest-h" id="ingest">
      <h2 id="ingest-h">Stream from OBS or an encoder</h2>
      <Loaded state={ingest}>{(g) => !g ? <Empty title="No edge online">Start an edge node to take ingest.</Empty> : (
        <div class="fields">
          <p class="muted">Nearest edge: <code>{g.edge_id}</code></p>
          {g.rtmp_server && <Field label="Server (RTMP)" value={g.rtmp_server} />}
          {g.rtmps_server && <Field label="Server (RTMPS)" value={g.rtmps_server} />}
          <div class="field">
            <span class="field-label">Stream key</span>
            <span class="field-value">
              <code id="stream-key">{key || masked}</code>
              <button type="button" class="small" onClick={() => (key ? setKey("") : a.run(async () => setKey((await api.streams.key(stream.id)).stream_key)))}>{key ? "Hide" : "Reveal"}</button>
              <button type="button" class="small" onClick={() => a.run(async () => { const k = key || (await api.streams.key(stream.id)).stream_key; await navigator.clipboard.writeText(k).catch(() => setKey(k)); })}>Copy key</button>
              <button type="button" class="small danger" onClick={() => {
                if (confirm("Reset the stream key? Encoders using the old key stop working at once.")) void a.run(async () => setKey((await api.streams.resetKey(stream.id)).stream_key));
              }}>Reset</button>
            </span>
          </div>
          {g.srt_url && <Field label="SRT URL" value={g.srt_url.replace(/streamid=[^&]*/, "streamid=#!::r=live/STREAM_KEY,m=publish")} />}
          {g.whip_url && <Field label="WHIP endpoint" value={g.whip_url} />}
          <ErrorBox error={a.error} />
        </div>
      )}</Loaded>
    </section>
  );
}

// Recordings lists the stream's recorded sessions.
function Recordings({ stream }: { stream: Stream }) {
  const assets = useLoad(() => api.assets.list({ stream_id: stream.id, limit: 20 }), [stream.id]);
  useEvents((e) => { if (e.stream_id === stream.id && (e.type.startsWith("asset.") || e.type.startsWith("recording."))) void assets.reload(); });
  usePoll(() => void assets.reload(), 10000, [stream.id]);
  return (
    <section class="card" aria-labelledby="rec-h" id="recordings">
      <h2 id="rec-h">Recordings</h2>
      <Loaded state={assets}>{(p) => p.items.length === 0 ? <p class="muted">{stream.recording ? "Each session's recording appears here once it ends." : "Recording is off for this stream."}</p> : (
        <ul class="asset-list">
          {p.items.map((x) => (
            <li key={x.id} data-asset={x.id}>
              <Link href={"/assets/" + x.id}>{x.type} of {when(x.created_at)}</Link> <Badge status={x.status} />
              {x.status === "ready" && <span class="muted"> · {duration(x.duration)}</span>}
              {x.status === "preparing" && <ProgressBar value={x.job?.progress.percent ?? x.progress} label="Preparing" />}
            </li>
          ))}
        </ul>
      )}</Loaded>
    </section>
  );
}

// Settings changes the stream's settings and deletes it.
function Settings({ stream, onSaved }: { stream: Stream; onSaved: () => void }) {
  const session = useSession();
  const a = useAction();
  const patch = (u: StreamUpdate) => a.run(async () => { await api.streams.update(stream.id, u); onSaved(); });
  if (!can(session.role, "member")) return null;
  return (
    <section class="card" aria-labelledby="settings-h" id="settings">
      <h2 id="settings-h">Settings</h2>
      <div class="form-row">
        <label>Latency
          <select value={stream.latency_mode} onChange={(e) => patch({ latency_mode: e.currentTarget.value })}>
            <option value="standard">Standard</option><option value="low">Low latency</option>
          </select>
        </label>
        <label class="check"><input type="checkbox" checked={stream.recording} onChange={(e) => patch({ recording: e.currentTarget.checked })} />Record</label>
        <label class="check"><input type="checkbox" checked={stream.playback_policy === "signed"} onChange={(e) => patch({ playback_policy: e.currentTarget.checked ? "signed" : "public" })} />Signed playback</label>
        <label class="check"><input type="checkbox" checked={stream.auto_captions} onChange={(e) => patch({ auto_captions: e.currentTarget.checked })} />Auto captions</label>
        <label class="check"><input type="checkbox" checked={stream.disabled} onChange={(e) => patch({ disabled: e.currentTarget.checked })} />Disabled</label>
      </div>
      <ErrorBox error={a.error} />
      {can(session.role, "admin") && (
        <button type="button" class="danger" onClick={() => {
          if (confirm(`Delete the stream "${stream.name}"?`)) void a.run(async () => { await api.streams.delete(stream.id); navigate("/streams"); });
        }}>Delete stream</button>
      )}
      <p class="muted">Stream id <code>{stream.id}</code> · playback id <code>{stream.playback_id}</code> <Copy text={stream.playback_id} label="Copy playback id" /></p>
    </section>
  );
}
