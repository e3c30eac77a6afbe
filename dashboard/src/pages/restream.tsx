// A stream's restream targets: simulcast to YouTube, Twitch or any RTMP(S)
// server, each with an on/off toggle and its live state, and linking a
// YouTube or Twitch account to create targets without copying keys.
import { useState } from "preact/hooks";
import { api14, notAvailable, restreamPresets, RestreamTarget, Stream } from "../api";
import { can, useSession } from "../app";
import { useEvents, usePoll } from "../events";
import { Badge, Empty, ErrorBox, Loaded, useAction, useLoad } from "../ui";

export function RestreamPanel({ stream }: { stream: Stream }) {
  const session = useSession();
  const member = can(session.role, "member");
  const targets = useLoad<RestreamTarget[] | null>(() => api14.restream.list(stream.id).catch((e) => { if (notAvailable(e)) return null; throw e; }), [stream.id]);
  useEvents((e) => { if (e.stream_id === stream.id && e.type.startsWith("restream.")) void targets.reload(); });
  usePoll(() => { if (targets.data) void targets.reload(); }, 5000, [stream.id, !!targets.data]);
  const [adding, setAdding] = useState(false);
  const a = useAction();
  return (
    <section class="card" aria-labelledby="restream-h" id="restream">
      <div class="card-head">
        <h2 id="restream-h">Restream</h2>
        {member && targets.data && <button type="button" class="small" aria-expanded={adding} onClick={() => setAdding(!adding)}>Add target</button>}
      </div>
      <Loaded state={targets}>{(list) => list === null ? (
        <p class="muted" id="restream-unavailable">Restreaming is not available on this server.</p>
      ) : (
        <>
          {adding && <AddTarget stream={stream} onDone={() => { setAdding(false); void targets.reload(); }} />}
          {list.length === 0 && !adding ? <Empty title="No restream targets">Send this stream to YouTube, Twitch or any RTMP server while it is live.</Empty> : (
            <ul class="targets">
              {list.map((t) => (
                <li key={t.id} data-target={t.id} data-status={t.status}>
                  <label class="switch">
                    <input type="checkbox" role="switch" checked={t.enabled} disabled={!member || a.busy} aria-label={`Send to ${t.name}`}
                      onChange={(e) => { const on = e.currentTarget.checked; void a.run(async () => { await api14.restream.update(stream.id, t.id, { enabled: on }); await targets.reload(); }); }} />
                    <span>{t.name}</span>
                  </label>
                  <span class="muted">{t.preset}{t.key_last4 ? ` · key …${t.key_last4}` : ""}</span>
                  <Badge status={t.status || (t.enabled ? "waiting" : "off")} />
                  {t.last_error && <span class="error-text">{t.last_error}</span>}
                  {member && <button type="button" class="small danger" aria-label={`Delete ${t.name}`} onClick={() => {
                    if (confirm(`Delete the restream target ${t.name}?`)) void a.run(async () => { await api14.restream.delete(stream.id, t.id); await targets.reload(); });
                  }}>Delete</button>}
                </li>
              ))}
            </ul>
          )}
          <ErrorBox error={a.error} />
          {member && <LinkAccounts stream={stream} onAdded={() => void targets.reload()} />}
        </>
      )}</Loaded>
    </section>
  );
}

function AddTarget({ stream, onDone }: { stream: Stream; onDone: () => void }) {
  const [f, setF] = useState({ name: "", preset: "youtube", url: "", key: "" });
  const a = useAction();
  return (
    <form class="form-row" id="add-target" onSubmit={async (e) => {
      e.preventDefault();
      const r = await a.run(() => api14.restream.create(stream.id, { name: f.name, preset: f.preset, url: f.url || undefined, key: f.key, enabled: true }));
      if (r) onDone();
    }}>
      <label>Name<input name="target-name" required value={f.name} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} /></label>
      <label>Service<select name="preset" value={f.preset} onChange={(e) => setF({ ...f, preset: e.currentTarget.value })}>{restreamPresets.map((p) => <option key={p}>{p}</option>)}</select></label>
      {f.preset === "custom" && <label>RTMP(S) URL<input name="target-url" required value={f.url} placeholder="rtmp://host/app" onInput={(e) => setF({ ...f, url: e.currentTarget.value })} /></label>}
      <label>Stream key<input name="target-key" type="password" autocomplete="off" required value={f.key} onInput={(e) => setF({ ...f, key: e.currentTarget.value })} /></label>
      <button type="submit" class="primary" disabled={a.busy}>Add</button>
      <ErrorBox error={a.error} />
    </form>
  );
}

// LinkAccounts links YouTube or Twitch over OAuth (the consent page opens
// in a new tab; the account appears here once linked) and adds a target
// from a linked account, whose ingest URL and key the provider names.
function LinkAccounts({ stream, onAdded }: { stream: Stream; onAdded: () => void }) {
  const accounts = useLoad(() => api14.linkedAccounts.list().catch((e) => { if (notAvailable(e)) return null; throw e; }));
  const a = useAction();
  const [waiting, setWaiting] = useState(false);
  usePoll(() => { if (waiting) void accounts.reload(); }, 3000, [waiting]);
  const link = (provider: string) => a.run(async () => {
    try {
      const r = await api14.linkedAccounts.start(provider);
      window.open(r.authorization_url, "_blank", "noopener");
      setWaiting(true);
    } catch (e) {
      if ((e as { status?: number }).status === 503) throw new Error(`Linking ${provider} accounts is not configured on this server.`);
      throw e;
    }
  });
  if (accounts.data === null) return <p class="muted">Linking YouTube or Twitch accounts is not available on this server.</p>;
  return (
    <div class="linked">
      <h3>Linked accounts</h3>
      {(accounts.data ?? []).length > 0 && (
        <ul class="targets">{accounts.data!.map((x) => (
          <li key={x.id}>
            <span>{x.provider}: {x.account_name}</span>
            <button type="button" class="small" disabled={a.busy} onClick={() => a.run(async () => {
              await api14.restream.fromAccount(stream.id, { linked_account_id: x.id, name: `${x.provider} ${x.account_name}`, enabled: true });
              onAdded();
            })}>Restream here</button>
          </li>
        ))}</ul>
      )}
      <div class="actions">
        <button type="button" onClick={() => link("youtube")} disabled={a.busy}>Link YouTube</button>
        <button type="button" onClick={() => link("twitch")} disabled={a.busy}>Link Twitch</button>
      </div>
      <ErrorBox error={a.error} />
    </div>
  );
}
