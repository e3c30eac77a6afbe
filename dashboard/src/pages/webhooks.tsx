// Webhooks: endpoints, the event types each takes, its signing secret,
// and the delivery log with response codes and redelivery.
import { useState } from "preact/hooks";
import { api14, notAvailable, Webhook, WebhookWithSecret } from "../api";
import { can, useSession } from "../app";
import { eventTypes, useEvents } from "../events";
import { Badge, Copy, Empty, ErrorBox, Loaded, useAction, useLoad, when } from "../ui";

export function WebhooksPage() {
  const session = useSession();
  const hooks = useLoad<Webhook[] | null>(() => api14.webhooks.list().catch((e) => { if (notAvailable(e)) return null; throw e; }));
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState<string[]>([]);
  const [created, setCreated] = useState<WebhookWithSecret | null>(null);
  const [open, setOpen] = useState("");
  const a = useAction();
  const admin = can(session.role, "admin");
  return (
    <section aria-labelledby="webhooks-h">
      <div class="page-head"><h1 id="webhooks-h">Webhooks</h1></div>
      <Loaded state={hooks}>{(list) => list === null ? <Empty title="Webhooks are not available on this server" /> : (
        <>
          <p class="muted">Each event is POSTed as JSON, signed with the endpoint's secret (HMAC-SHA256), and retried with backoff until your server answers 2xx.</p>
          {admin && (
            <form class="card" id="create-webhook" onSubmit={async (e) => {
              e.preventDefault();
              const w = await a.run(() => api14.webhooks.create({ url, event_types: types.length ? types : undefined }));
              if (w) { setCreated(w); setUrl(""); setTypes([]); setOpen(w.id); void hooks.reload(); }
            }}>
              <h2>New endpoint</h2>
              <label>URL<input type="url" name="url" required placeholder="https://example.com/hooks/livestreams" value={url} onInput={(e) => setUrl(e.currentTarget.value)} /></label>
              <fieldset class="types">
                <legend>Event types (none: all)</legend>
                {eventTypes.map((t) => (
                  <label key={t} class="check"><input type="checkbox" checked={types.includes(t)} onChange={(e) => setTypes(e.currentTarget.checked ? [...types, t] : types.filter((x) => x !== t))} />{t}</label>
                ))}
              </fieldset>
              <button type="submit" class="primary" disabled={a.busy}>Add endpoint</button>
            </form>
          )}
          <ErrorBox error={a.error} />
          {created && (
            <div class="card notice" role="status">
              <p>Signing secret of {created.url} (shown once):</p>
              <p class="field-value"><code>{created.secret}</code><Copy text={created.secret} label="Copy secret" /></p>
            </div>
          )}
          {list.length === 0 ? <Empty title="No webhook endpoints">Add an endpoint to be told when streams go live and assets are ready.</Empty> : (
            <ul class="webhooks">
              {list.map((w) => (
                <li key={w.id} class="card" data-webhook={w.id}>
                  <div class="card-head">
                    <button type="button" class="link" aria-expanded={open === w.id} onClick={() => setOpen(open === w.id ? "" : w.id)}><code>{w.url}</code></button>
                    <Badge status={w.enabled ? "enabled" : "disabled"} />
                  </div>
                  <p class="muted">{w.event_types?.length ? w.event_types.join(", ") : "all events"} · since {when(w.created_at)}</p>
                  {admin && (
                    <div class="actions">
                      <button type="button" class="small" onClick={() => a.run(async () => { await api14.webhooks.test(w.id); setOpen(w.id); })}>Send test event</button>
                      <button type="button" class="small" onClick={() => a.run(async () => { await api14.webhooks.update(w.id, { enabled: !w.enabled }); await hooks.reload(); })}>{w.enabled ? "Disable" : "Enable"}</button>
                      <button type="button" class="small" onClick={() => a.run(async () => setCreated(await api14.webhooks.rotateSecret(w.id)))}>Rotate secret</button>
                      <button type="button" class="small danger" onClick={() => { if (confirm(`Delete the endpoint ${w.url}?`)) void a.run(async () => { await api14.webhooks.delete(w.id); await hooks.reload(); }); }}>Delete</button>
                    </div>
                  )}
                  {open === w.id && <Deliveries hook={w} admin={admin} />}
                </li>
              ))}
            </ul>
          )}
        </>
      )}</Loaded>
    </section>
  );
}

function Deliveries({ hook, admin }: { hook: Webhook; admin: boolean }) {
  const log = useLoad(() => api14.webhooks.deliveries(hook.id, 50), [hook.id]);
  const a = useAction();
  useEvents((e) => { if (e.type.startsWith("webhook.")) void log.reload(); });
  return (
    <div class="deliveries">
      <div class="card-head"><h3>Deliveries</h3><button type="button" class="small" onClick={() => log.reload()}>Refresh</button></div>
      <Loaded state={log}>{(list) => list.length === 0 ? <p class="muted">No deliveries yet.</p> : (
        <div class="table-wrap">
          <table class="delivery-log">
            <thead><tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Response</th><th scope="col">Attempts</th><th scope="col">When</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>{list.map((d) => {
              const last = d.attempts?.[d.attempts.length - 1];
              return (
                <tr key={d.id} data-delivery={d.id} data-status={d.status}>
                  <td><code>{d.event_type}</code>{d.redelivery_of && <span class="muted"> (redelivery)</span>}</td>
                  <td><Badge status={d.status} /></td>
                  <td class="response-code">{last ? (last.response_code || last.error || "") : ""}{last ? <span class="muted"> {last.latency_ms} ms</span> : null}</td>
                  <td>{d.attempts?.length ?? 0}</td>
                  <td>{when(d.created_at)}</td>
                  <td>{admin && <button type="button" class="small" onClick={() => a.run(async () => { await api14.webhooks.redeliver(d.id); await log.reload(); })}>Redeliver</button>}</td>
                </tr>
              );
            })}</tbody>
          </table>
        </div>
      )}</Loaded>
      <ErrorBox error={a.error} />
    </div>
  );
}
