// The org's members and roles, invitations (sent and received), and new
// orgs.
import { useState } from "preact/hooks";
import { api } from "../api";
import { can, useSession } from "../app";
import { Empty, ErrorBox, Loaded, useAction, useLoad, when } from "../ui";

const roles = ["viewer", "member", "admin", "owner"];

export function MembersPage() {
  const session = useSession();
  const admin = can(session.role, "admin");
  const members = useLoad(() => api.orgs.members(session.org), [session.org]);
  const invitations = useLoad(() => (admin ? api.orgs.invitations(session.org) : Promise.resolve([])), [session.org]);
  const mine = useLoad(() => (session.me.user ? api.invitations.mine() : Promise.resolve([])));
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("member");
  const [orgName, setOrgName] = useState("");
  const a = useAction();
  const grantable = roles.filter((r) => can(session.role, r as "viewer"));
  const orgName0 = session.me.orgs.find((o) => o.id === session.org)?.name ?? "";
  return (
    <section aria-labelledby="members-h">
      <div class="page-head"><h1 id="members-h">Members of {orgName0}</h1><span class="muted">You are {session.role}</span></div>
      <ErrorBox error={a.error} />
      <Loaded state={members}>{(list) => (
        <div class="table-wrap">
          <table id="members">
            <thead><tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col">Since</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>{list.map((m) => (
              <tr key={m.user_id}>
                <td>{m.name || m.email}<br /><span class="muted">{m.email}</span></td>
                <td>{admin && m.user_id !== session.me.user?.id ? (
                  <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => {
                    const r = e.currentTarget.value;
                    void a.run(async () => { await api.orgs.putMember(session.org, m.user_id, { role: r }); await members.reload(); });
                  }}>{roles.map((r) => <option key={r} disabled={!grantable.includes(r)}>{r}</option>)}</select>
                ) : m.role}</td>
                <td>{when(m.created_at)}</td>
                <td>{admin && m.user_id !== session.me.user?.id && <button type="button" class="small danger" aria-label={`Remove ${m.email}`} onClick={() => {
                  if (confirm(`Remove ${m.email} from the org? The API keys they created are revoked.`)) void a.run(async () => { await api.orgs.removeMember(session.org, m.user_id); await members.reload(); });
                }}>Remove</button>}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}</Loaded>
      {admin && (
        <section class="card" aria-labelledby="invite-h">
          <h2 id="invite-h">Invite someone</h2>
          <form class="form-row" onSubmit={async (e) => {
            e.preventDefault();
            if (await a.run(() => api.orgs.invite(session.org, { email, role }))) { setEmail(""); void invitations.reload(); }
          }}>
            <label>Email<input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} /></label>
            <label>Role<select value={role} onChange={(e) => setRole(e.currentTarget.value)}>{grantable.map((r) => <option key={r}>{r}</option>)}</select></label>
            <button type="submit" class="primary" disabled={a.busy}>Invite</button>
          </form>
          <Loaded state={invitations}>{(list) => list.length === 0 ? <p class="muted">No invitations.</p> : (
            <ul>{list.map((i) => (
              <li key={i.id}>{i.email} as {i.role}: {i.status}{i.status === "pending" && <> <button type="button" class="small" onClick={() => a.run(async () => { await api.orgs.revokeInvitation(session.org, i.id); await invitations.reload(); })}>Withdraw</button></>}</li>
            ))}</ul>
          )}</Loaded>
        </section>
      )}
      <Loaded state={mine}>{(list) => list.length === 0 ? null : (
        <section class="card" aria-labelledby="mine-h">
          <h2 id="mine-h">Invitations for you</h2>
          <ul>{list.map((i) => (
            <li key={i.id}>{i.org_name ?? i.org_id} as {i.role}
              {" "}<button type="button" class="small primary" onClick={() => a.run(async () => { await api.invitations.accept(i.id); await session.refresh(); await mine.reload(); })}>Accept</button>
              {" "}<button type="button" class="small" onClick={() => a.run(async () => { await api.invitations.decline(i.id); await mine.reload(); })}>Decline</button>
            </li>
          ))}</ul>
        </section>
      )}</Loaded>
      {session.me.user && (
        <section class="card" aria-labelledby="neworg-h">
          <h2 id="neworg-h">New organization</h2>
          <form class="form-row" onSubmit={async (e) => {
            e.preventDefault();
            const o = await a.run(() => api.orgs.create({ name: orgName }));
            if (o) { setOrgName(""); await session.switchOrg(o.id); }
          }}>
            <label>Name<input required value={orgName} onInput={(e) => setOrgName(e.currentTarget.value)} /></label>
            <button type="submit">Create and switch</button>
          </form>
        </section>
      )}
      {members.data?.length === 0 && <Empty title="No members" />}
    </section>
  );
}
