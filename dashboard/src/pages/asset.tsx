// One asset: the player (poster, storyboard hover-scrub, captions), its
// job's progress, clipping by marking in and out, captions, delete, and
// its analytics.
import { useRef, useState } from "preact/hooks";
import { api, Asset, Token } from "../api";
import { can, useSession } from "../app";
import { useEvents, usePoll } from "../events";
import { Player } from "../player";
import { navigate } from "../router";
import { Badge, bytes, duration, ErrorBox, Field, Link, Loaded, ProgressBar, useAction, useLoad, when } from "../ui";
import { AnalyticsPanel } from "./analytics";

export function AssetPage({ id }: { id: string }) {
  const asset = useLoad(() => api.assets.get(id), [id]);
  const [live, setLive] = useState<number | undefined>();
  useEvents((e) => {
    if (e.asset_id !== id) return;
    if (e.type === "job.progress" && typeof e.data?.percent === "number") setLive(e.data.percent as number);
    else void asset.reload();
  });
  const preparing = asset.data?.status === "preparing" || asset.data?.captions?.some((c) => c.status === "queued" || c.status === "running" || c.status === "leased");
  usePoll(() => { if (preparing) void asset.reload(); }, 3000, [id, preparing]);
  return <Loaded state={asset}>{(a) => <AssetView a={a} live={live} reload={asset.reload} />}</Loaded>;
}

function AssetView({ a, live, reload }: { a: Asset; live?: number; reload: () => void }) {
  const session = useSession();
  const member = can(session.role, "member");
  const video = useRef<HTMLVideoElement | null>(null);
  const [t, setT] = useState(0);
  const [tok, setTok] = useState<Token | null>(null);
  const [marks, setMarks] = useState<{ in?: number; out?: number }>({});
  const a2 = useAction();
  const signed = a.playback_policy === "signed";
  const q = tok ? "?token=" + encodeURIComponent(tok.token) : "";

  const mint = () => a2.run(async () => {
    const k = (await api.signingKeys.list()).find((x) => x.can_mint && !x.revoked_at);
    if (!k) throw new Error("Signed playback: create a signing key that the API keeps to watch here.");
    setTok(await api.signingKeys.mint(k.id, { playback_id: a.playback_id, ttl_seconds: 3600 }));
  });

  return (
    <article aria-labelledby="asset-h" class="asset-page">
      <p><Link href="/assets">← All assets</Link></p>
      <div class="page-head">
        <h1 id="asset-h">{a.type === "recording" ? "Recording" : a.type === "clip" ? "Clip" : "Upload"} <span class="muted">{a.id}</span></h1>
        <Badge status={a.status} />
      </div>
      <div class="grid-2">
        <div class="stack">
          {a.status === "ready" && a.playback_url && (!signed || tok) ? (
            <Player src={a.playback_url + q} poster={a.thumbnail_url ? a.thumbnail_url + q : undefined} storyboard={a.storyboard_url ? a.storyboard_url + q : undefined}
              captions={a.captions?.map((c) => ({ ...c, vtt_url: c.vtt_url ? c.vtt_url + q : undefined }))} label="Asset player" id="asset-player"
              videoRef={video} onTime={(x) => setT(x)} />
          ) : a.status === "ready" && signed ? (
            <div class="card"><p>This asset plays with a token.</p><button type="button" onClick={mint}>Watch with a token</button><ErrorBox error={a2.error} /></div>
          ) : a.status === "preparing" ? (
            <div class="card" id="preparing">
              <p>Preparing {a.job ? `(${a.job.type} job, ${a.job.state})` : ""}…</p>
              <ProgressBar value={live ?? a.job?.progress.percent ?? a.progress} label="Asset progress" />
            </div>
          ) : (
            <div class="card error" role="alert">This asset failed: {a.error || "unknown error"}</div>
          )}
          {a.status === "ready" && member && a.type !== "clip" && (
            <section class="card" aria-labelledby="clip-h" id="clip">
              <h2 id="clip-h">Make a clip</h2>
              <p class="muted">Play or scrub to a moment, then mark the in and out points.</p>
              <div class="actions">
                <button type="button" id="mark-in" onClick={() => setMarks({ ...marks, in: video.current?.currentTime ?? t })}>Mark in{marks.in !== undefined ? ` (${duration(marks.in)})` : ""}</button>
                <button type="button" id="mark-out" onClick={() => setMarks({ ...marks, out: video.current?.currentTime ?? t })}>Mark out{marks.out !== undefined ? ` (${duration(marks.out)})` : ""}</button>
                <button type="button" class="primary" id="make-clip" disabled={marks.in === undefined || marks.out === undefined || marks.out <= marks.in || a2.busy}
                  onClick={() => a2.run(async () => { const c = await api.assets.clip(a.id, { start: marks.in!, end: marks.out! }); navigate("/assets/" + c.asset.id); })}>Cut clip</button>
              </div>
              <ErrorBox error={a2.error} />
            </section>
          )}
        </div>
        <div class="stack">
          <section class="card" aria-labelledby="details-h">
            <h2 id="details-h">Details</h2>
            <dl class="details">
              <dt>Created</dt><dd>{when(a.created_at)}</dd>
              {a.ready_at && <><dt>Ready</dt><dd>{when(a.ready_at)}</dd></>}
              <dt>Duration</dt><dd>{duration(a.duration)}</dd>
              <dt>Size</dt><dd>{bytes(a.size)}</dd>
              <dt>Playback</dt><dd>{a.playback_policy}</dd>
              {a.stream_id && <><dt>Stream</dt><dd><Link href={"/streams/" + a.stream_id}>{a.stream_id}</Link></dd></>}
              {a.source_asset_id && <><dt>Clipped from</dt><dd><Link href={"/assets/" + a.source_asset_id}>{a.source_asset_id}</Link></dd></>}
              {a.renditions?.length > 0 && <><dt>Renditions</dt><dd>{a.renditions.map((r) => r.name).join(", ")}</dd></>}
            </dl>
            {a.playback_url && <Field label="Playback URL" value={a.playback_url} />}
          </section>
          <Captions a={a} onChange={reload} />
          {member && (
            <button type="button" class="danger" id="delete-asset" onClick={() => {
              if (confirm("Delete this asset and its files?")) void a2.run(async () => { await api.assets.delete(a.id); navigate("/assets"); });
            }}>Delete asset</button>
          )}
        </div>
      </div>
      <AnalyticsPanel query={{ asset_id: a.id }} title="Asset analytics" />
    </article>
  );
}

function Captions({ a, onChange }: { a: Asset; onChange: () => void }) {
  const session = useSession();
  const [lang, setLang] = useState("en");
  const act = useAction();
  return (
    <section class="card" aria-labelledby="captions-h" id="captions">
      <h2 id="captions-h">Captions</h2>
      {(a.captions ?? []).length === 0 ? <p class="muted">No captions.</p> : (
        <ul class="captions-list">
          {a.captions.map((c) => (
            <li key={c.language} data-lang={c.language} data-status={c.status}>
              <strong>{c.language}</strong> <Badge status={c.status} />
              {(c.status === "running" || c.status === "queued" || c.status === "leased") && <ProgressBar value={c.progress} label={`Captions ${c.language}`} />}
              {c.error && <span class="error-text"> {c.error}</span>}
            </li>
          ))}
        </ul>
      )}
      {a.status === "ready" && can(session.role, "member") && (
        <form class="form-row" onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await api.assets.captions(a.id, { language: lang }); onChange(); }); }}>
          <label>Language<input value={lang} size={4} onInput={(e) => setLang(e.currentTarget.value)} /></label>
          <button type="submit" disabled={act.busy}>Caption speech</button>
        </form>
      )}
      <ErrorBox error={act.error} />
    </section>
  );
}
