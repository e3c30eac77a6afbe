// API keys and playback signing keys (with a snippet that mints a token
// in the creator's own backend).
import { useState } from "preact/hooks";
import { api, APIKeyCreated, SigningKeyCreated, Token } from "../api";
import { can, useSession } from "../app";
import { Copy, Empty, ErrorBox, Loaded, useAction, useLoad, when } from "../ui";

export function APIKeysPage() {
  const session = useSession();
  const keys = useLoad(() => api.apiKeys.list());
  const [name, setName] = useState("");
  const [role, setRole] = useState("member");
  const [created, setCreated] = useState<APIKeyCreated | null>(null);
  const a = useAction();
  const roles = ["viewer", "member", "admin", "owner"].filter((r) => can(session.role, r as "viewer"));
  return (
    <section aria-labelledby="apikeys-h">
      <div class="page-head"><h1 id="apikeys-h">API keys</h1></div>
      <p class="muted">Keys let your scripts and backend call the same <code>/v1</code> API this dashboard uses, as <code>Authorization: Bearer lsk_…</code>.</p>
      <form class="card form-row" id="create-api-key" onSubmit={async (e) => {
        e.preventDefault();
        const k = await a.run(() => api.apiKeys.create({ name, role }));
        if (k) { setCreated(k); setName(""); void keys.reload(); }
      }}>
        <label>Name<input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="my backend" /></label>
        <label>Role<select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>{roles.map((r) => <option key={r}>{r}</option>)}</select></label>
        <button type="submit" class="primary" disabled={a.busy}>Create key</button>
      </form>
      <ErrorBox error={a.error} />
      {created && (
        <div class="card notice" role="status" id="new-api-key">
          <p><strong>{created.name}</strong>: copy this key now; it is not shown again.</p>
          <p class="field-value"><code>{created.key}</code><Copy text={created.key} label="Copy API key" /></p>
          <pre><code>{`curl -H "Authorization: Bearer ${created.key}" ${location.origin}/v1/streams`}</code></pre>
        </div>
      )}
      <Loaded state={keys}>{(list) => list.length === 0 ? <Empty title="No API keys" /> : (
        <div class="table-wrap">
          <table id="api-keys">
            <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>{list.map((k) => (
              <tr key={k.id} class={k.revoked_at ? "revoked" : ""}>
                <td>{k.name}</td><td><code>{k.prefix}</code></td><td>{k.role}{k.cluster_admin ? " · cluster admin" : ""}</td>
                <td>{when(k.created_at)}</td><td>{k.last_used_at ? when(k.last_used_at) : "never"}</td>
                <td>{k.revoked_at ? "revoked" : <button type="button" class="small danger" aria-label={`Revoke ${k.name}`} onClick={() => {
                  if (confirm(`Revoke the key ${k.name}?`)) void a.run(async () => { await api.apiKeys.revoke(k.id); await keys.reload(); });
                }}>Revoke</button>}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}</Loaded>
    </section>
  );
}

function snippet(kid: string, pem: string): string {
  return `// Node.js 18+: mint a playback token for PLAYBACK_ID, valid one hour.
import { createPrivateKey, sign } from "node:crypto";

const key = createPrivateKey(\`${pem.trim() || "-----BEGIN PRIVATE KEY-----\n…the private half you saved…\n-----END PRIVATE KEY-----"}\`);
const b64 = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");

export function playbackToken(playbackId, ttlSeconds = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: "ES256", typ: "JWT", kid: "${kid}" });
  const body = b64({ sub: playbackId, aud: "v", iat: now, exp: now + ttlSeconds });
  const sig = sign("sha256", Buffer.from(head + "." + body), { key, dsaEncoding: "ieee-p1363" });
  return head + "." + body + "." + sig.toString("base64url");
}

// ${location.origin}/v1/play/PLAYBACK_ID.m3u8?token=\${playbackToken("PLAYBACK_ID")}`;
}

export function SigningKeysPage() {
  const keys = useLoad(() => api.signingKeys.list());
  const [keep, setKeep] = useState(true);
  const [created, setCreated] = useState<SigningKeyCreated | null>(null);
  const [pid, setPid] = useState("");
  const [minted, setMinted] = useState<Token | null>(null);
  const a = useAction();
  const first = keys.data?.find((k) => !k.revoked_at);
  return (
    <section aria-labelledby="sk-h">
      <div class="page-head"><h1 id="sk-h">Signing keys</h1></div>
      <p class="muted">Signed streams and assets play only with a token signed by one of these keys. Your backend can mint tokens itself with the private half (ES256 JWTs), without calling this API.</p>
      <form class="card form-row" onSubmit={async (e) => {
        e.preventDefault();
        const k = await a.run(() => api.signingKeys.create({ keep_private: keep }));
        if (k) { setCreated(k); void keys.reload(); }
      }}>
        <label class="check"><input type="checkbox" checked={keep} onChange={(e) => setKeep(e.currentTarget.checked)} />Let the API mint tokens with it too (keep the private half)</label>
        <button type="submit" class="primary" disabled={a.busy}>Create signing key</button>
      </form>
      <ErrorBox error={a.error} />
      {created && (
        <div class="card notice" role="status">
          <p>Save the private half now; it is not shown again.</p>
          <pre id="private-pem"><code>{created.private_pem}</code></pre>
          <Copy text={created.private_pem} label="Copy private key" />
        </div>
      )}
      <Loaded state={keys}>{(list) => list.length === 0 ? <Empty title="No signing keys" /> : (
        <div class="table-wrap">
          <table id="signing-keys">
            <thead><tr><th scope="col">Key id</th><th scope="col">Created</th><th scope="col">API can mint</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>{list.map((k) => (
              <tr key={k.id} class={k.revoked_at ? "revoked" : ""}>
                <td><code>{k.id}</code></td><td>{when(k.created_at)}</td><td>{k.can_mint ? "yes" : "no"}</td>
                <td>{k.revoked_at ? "revoked" : <button type="button" class="small danger" aria-label={`Revoke ${k.id}`} onClick={() => {
                  if (confirm("Revoke this signing key? Tokens it signed stop working.")) void a.run(async () => { await api.signingKeys.revoke(k.id); await keys.reload(); });
                }}>Revoke</button>}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}</Loaded>
      {first && (
        <section class="card" aria-labelledby="mint-h">
          <h2 id="mint-h">Mint a playback token</h2>
          <pre class="snippet"><code>{snippet(first.id, created?.id === first.id ? created.private_pem : "")}</code></pre>
          <Copy text={snippet(first.id, created?.id === first.id ? created.private_pem : "")} label="Copy snippet" />
          {first.can_mint && (
            <form class="form-row" onSubmit={async (e) => {
              e.preventDefault();
              const t = await a.run(() => api.signingKeys.mint(first.id, { playback_id: pid, ttl_seconds: 3600 }));
              if (t) setMinted(t);
            }}>
              <label>Playback id<input required value={pid} onInput={(e) => setPid(e.currentTarget.value)} /></label>
              <button type="submit">Mint with the API</button>
            </form>
          )}
          {minted && <p class="field-value"><code>{minted.token}</code><Copy text={minted.token} label="Copy token" /> <span class="muted">expires {when(minted.expires_at)}</span></p>}
        </section>
      )}
    </section>
  );
}
