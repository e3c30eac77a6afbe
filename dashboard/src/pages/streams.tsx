// The streams list, with live status that follows the org's events, and
// the create-stream form.
import { useState } from "preact/hooks";
import { api, StreamCreate } from "../api";
import { can, useSession } from "../app";
import { useEvents, usePoll } from "../events";
import { navigate } from "../router";
import { Badge, Empty, ErrorBox, Link, Loaded, useAction, useLoad, when } from "../ui";

export function StreamsPage() {
  const session = useSession();
  const streams = useLoad(() => api.streams.list());
  const [creating, setCreating] = useState(false);
  useEvents((e) => {
    if (e.type.startsWith("session.") || e.type.startsWith("publish.")) void streams.reload();
  });
  usePoll(() => void streams.reload(), 15000);
  return (
    <section aria-labelledby="streams-h">
      <div class="page-head">
        <h1 id="streams-h">Streams</h1>
        {can(session.role, "member") && <button type="button" class="primary" id="new-stream" onClick={() => setCreating(!creating)} aria-expanded={creating}>New stream</button>}
      </div>
      {creating && <CreateStream onCancel={() => setCreating(false)} />}
      <Loaded state={streams}>{(list) => list.length === 0 ? (
        <Empty title="No streams yet">
          <p>Create a stream, then go live from this browser or point OBS at it.</p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table id="streams">
            <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Latency</th><th scope="col">Playback</th><th scope="col">Created</th></tr></thead>
            <tbody>
              {list.map((s) => (
                <tr key={s.id} data-stream={s.id}>
                  <td><Link href={"/streams/" + s.id}>{s.name}</Link></td>
                  <td><Badge status={s.disabled ? "disabled" : s.status} /></td>
                  <td>{s.latency_mode}</td>
                  <td>{s.playback_policy}{s.recording ? " · recorded" : ""}{s.auto_captions ? " · captions" : ""}</td>
                  <td>{when(s.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}</Loaded>
    </section>
  );
}

function CreateStream({ onCancel }: { onCancel: () => void }) {
  const [f, setF] = useState<StreamCreate>({ name: "", latency_mode: "standard", recording: true, playback_policy: "public", auto_captions: false, captions_language: "en" });
  const a = useAction();
  return (
    <form class="card form-grid" id="create-stream" onSubmit={async (e) => {
      e.preventDefault();
      const s = await a.run(() => api.streams.create({ ...f, captions_language: f.auto_captions ? f.captions_language : undefined }));
      if (s) navigate("/streams/" + s.id);
    }}>
      <h2>New stream</h2>
      <label>Name<input name="name" required value={f.name} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} /></label>
      <label>Latency
        <select name="latency_mode" value={f.latency_mode} onChange={(e) => setF({ ...f, latency_mode: e.currentTarget.value })}>
          <option value="standard">Standard (most compatible)</option>
          <option value="low">Low latency (LL-HLS)</option>
        </select>
      </label>
      <label class="check"><input type="checkbox" name="recording" checked={f.recording} onChange={(e) => setF({ ...f, recording: e.currentTarget.checked })} />Record every session</label>
      <label class="check"><input type="checkbox" name="signed" checked={f.playback_policy === "signed"} onChange={(e) => setF({ ...f, playback_policy: e.currentTarget.checked ? "signed" : "public" })} />Signed playback (viewers need a token)</label>
      <label class="check"><input type="checkbox" name="auto_captions" checked={f.auto_captions} onChange={(e) => setF({ ...f, auto_captions: e.currentTarget.checked })} />Caption recordings automatically</label>
      {f.auto_captions && (
        <label>Captions language<input name="captions_language" value={f.captions_language} size={4} onInput={(e) => setF({ ...f, captions_language: e.currentTarget.value })} /></label>
      )}
      <ErrorBox error={a.error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={a.busy}>Create stream</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
