// The org's assets: recordings, uploads and clips with their status and
// job progress (SSE), and uploading a file with a progress bar.
import { useState } from "preact/hooks";
import { api, Asset, Upload } from "../api";
import { can, useSession } from "../app";
import { useEvents, usePoll } from "../events";
import { Badge, bytes, duration, Empty, ErrorBox, Link, Loaded, ProgressBar, useLoad, when } from "../ui";

export function AssetsPage() {
  const session = useSession();
  const [type, setType] = useState("");
  const assets = useLoad(() => api.assets.list({ type, limit: 100 }), [type]);
  const [progress, setProgress] = useState<Record<string, number>>({});
  useEvents((e) => {
    if (e.type === "job.progress" && e.asset_id && typeof e.data?.percent === "number") {
      setProgress((p) => ({ ...p, [e.asset_id!]: e.data!.percent as number }));
    } else if (e.asset_id || e.type.startsWith("recording.")) void assets.reload();
  });
  const preparing = assets.data?.items.some((a) => a.status === "preparing");
  usePoll(() => { if (preparing) void assets.reload(); }, 3000, [preparing, type]);
  return (
    <section aria-labelledby="assets-h">
      <div class="page-head">
        <h1 id="assets-h">Assets</h1>
        <label class="inline">Show
          <select value={type} onChange={(e) => setType(e.currentTarget.value)}>
            <option value="">All</option><option value="recording">Recordings</option><option value="upload">Uploads</option><option value="clip">Clips</option>
          </select>
        </label>
      </div>
      {can(session.role, "member") && <UploadCard onUploaded={assets.reload} />}
      <Loaded state={assets}>{(p) => p.items.length === 0 ? (
        <Empty title="No assets yet"><p>Recordings of your streams, uploads and clips appear here.</p></Empty>
      ) : (
        <div class="table-wrap">
          <table id="assets">
            <thead><tr><th scope="col">Asset</th><th scope="col">Status</th><th scope="col">Duration</th><th scope="col">Size</th><th scope="col">Created</th></tr></thead>
            <tbody>{p.items.map((a) => <AssetRow key={a.id} a={a} live={progress[a.id]} />)}</tbody>
          </table>
        </div>
      )}</Loaded>
    </section>
  );
}

function AssetRow({ a, live }: { a: Asset; live?: number }) {
  const pct = live ?? a.job?.progress.percent ?? a.progress;
  return (
    <tr data-asset={a.id} data-status={a.status}>
      <td>
        <Link href={"/assets/" + a.id} class="asset-link">
          {a.thumbnail_url && a.status === "ready" && a.playback_policy !== "signed" && <img src={a.thumbnail_url} alt="" width={64} height={36} loading="lazy" />}
          <span>{a.type} <span class="muted">{a.id.slice(0, 10)}</span></span>
        </Link>
      </td>
      <td>
        <Badge status={a.status} />
        {a.status === "preparing" && <ProgressBar value={pct} label={`Preparing ${a.id}`} />}
        {a.error && <span class="error-text"> {a.error}</span>}
      </td>
      <td>{a.status === "ready" ? duration(a.duration) : ""}</td>
      <td>{a.size ? bytes(a.size) : ""}</td>
      <td>{when(a.created_at)}</td>
    </tr>
  );
}

// put sends the file to the presigned URL with progress; network errors
// and 5xx answers are retried (the PUT is idempotent).
function put(u: Upload, file: File, onProgress: (pct: number) => void): Promise<void> {
  const once = () => new Promise<void>((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open(u.method || "PUT", u.upload_url);
    for (const [k, v] of Object.entries(u.headers ?? {})) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => { if (e.lengthComputable) onProgress((e.loaded / e.total) * 100); };
    x.onload = () => {
      if (x.status >= 200 && x.status < 300) { onProgress(100); resolve(); }
      else reject(Object.assign(new Error(`upload answered ${x.status}`), { retry: x.status >= 500 }));
    };
    x.onerror = () => reject(Object.assign(new Error("the upload was interrupted"), { retry: true }));
    x.send(file);
  });
  return (async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once();
      } catch (e) {
        if (!(e as { retry?: boolean }).retry || attempt >= 4) throw e;
        onProgress(0);
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  })();
}

function UploadCard({ onUploaded }: { onUploaded: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [pct, setPct] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<Asset | null>(null);
  const [signed, setSigned] = useState(false);
  const start = async () => {
    if (!file) return;
    setError(null);
    setDone(null);
    setPct(0);
    try {
      const u = await api.assets.upload({ size: file.size, playback_policy: signed ? "signed" : undefined });
      if (u.max_bytes && file.size > u.max_bytes) throw new Error(`the file is larger than this server takes (${bytes(u.max_bytes)})`);
      await put(u, file, setPct);
      setDone(u.asset);
      onUploaded();
    } catch (e) {
      setError(e);
    }
  };
  const uploading = pct !== null && pct < 100 && !error;
  return (
    <section class="card" aria-labelledby="upload-h" id="upload">
      <h2 id="upload-h">Upload a video</h2>
      <div class="form-row">
        <label>File<input type="file" name="file" accept="video/*,.mp4,.mov,.mkv,.webm" onChange={(e) => { setFile(e.currentTarget.files?.[0] ?? null); setPct(null); }} /></label>
        <label class="check"><input type="checkbox" checked={signed} onChange={(e) => setSigned(e.currentTarget.checked)} />Signed playback</label>
        <button type="button" class="primary" id="upload-btn" disabled={!file || uploading} onClick={start}>{error ? "Retry upload" : "Upload"}</button>
      </div>
      {pct !== null && <ProgressBar value={pct} label="Upload progress" />}
      <ErrorBox error={error} />
      {done && <p role="status" id="upload-done">Uploaded. <Link href={"/assets/" + done.id}>Open the asset</Link>; it is ready once transcoded.</p>}
    </section>
  );
}
