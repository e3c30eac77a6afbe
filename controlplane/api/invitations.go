package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
)

// invitationTTL is how long an invitation may be answered.
const invitationTTL = 7 * 24 * time.Hour

type (
	invitationView    = client.Invitation
	invitationRequest = client.InvitationCreate
)

func viewInvitation(i state.Invitation, orgName string, now time.Time) invitationView {
	return invitationView{ID: i.ID, OrgID: i.OrgID, OrgName: orgName, Email: i.Email, Role: string(i.Role),
		Status: i.Status(now), CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt, DoneAt: i.DoneAt}
}

// invite invites an email address to the org. The answer does not depend
// on whether the address belongs to a user, a member or nobody: the
// invitation waits for whoever logs in with it. Nobody invites above
// their own role.
func (h *Handler) invite(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	var in invitationRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	email, err := cleanEmail(in.Email)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	role, err := parseRole(in.Role, state.RoleMember)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if role.Rank() > p.role.Rank() {
		h.writeError(w, r, forbidden("only an owner can invite an owner"))
		return
	}
	now := h.now()
	inv := state.Invitation{ID: ids.New("inv"), OrgID: p.orgID, Email: email, Role: role, InvitedBy: p.actorID(),
		CreatedAt: now, ExpiresAt: now.Add(invitationTTL)}
	if err := h.apply(r.Context(), fsm.CmdInvite, inv, &inv); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("invitation created", "invitation_id", inv.ID, "org_id", inv.OrgID, "role", inv.Role, "by", inv.InvitedBy)
	writeJSON(w, http.StatusCreated, viewInvitation(inv, "", now))
}

// listOrgInvitations lists the org's invitations, answered ones included.
func (h *Handler) listOrgInvitations(w http.ResponseWriter, r *http.Request) {
	orgID, now := caller(r.Context()).orgID, h.now()
	var inv []state.Invitation
	err := h.view(func(tx *state.Tx) error {
		var err error
		inv, err = tx.Invitations(func(i state.Invitation) bool { return i.OrgID == orgID })
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sortByTime(inv, func(i state.Invitation) (time.Time, string) { return i.CreatedAt, i.ID })
	out := make([]invitationView, 0, len(inv))
	for _, i := range inv {
		out = append(out, viewInvitation(i, "", now))
	}
	writeJSON(w, http.StatusOK, items(out))
}

// revokeInvitation withdraws an invitation of the org.
func (h *Handler) revokeInvitation(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	cmd := fsm.RevokeInvitation{OrgID: p.orgID, ID: chi.URLParam(r, "id"), At: h.now()}
	if err := h.apply(r.Context(), fsm.CmdRevokeInvitation, cmd, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// myInvitations lists the pending invitations addressed to the calling
// user's email.
func (h *Handler) myInvitations(w http.ResponseWriter, r *http.Request) {
	u, now := caller(r.Context()).user, h.now()
	email := state.NormalizeEmail(u.Email)
	out := []invitationView{}
	err := h.view(func(tx *state.Tx) error {
		inv, err := tx.Invitations(func(i state.Invitation) bool { return i.Email == email && i.Pending(now) })
		if err != nil {
			return err
		}
		sortByTime(inv, func(i state.Invitation) (time.Time, string) { return i.CreatedAt, i.ID })
		for _, i := range inv {
			o, err := tx.Org(i.OrgID)
			if state.IsNotFound(err) {
				continue
			} else if err != nil {
				return err
			}
			out = append(out, viewInvitation(i, o.Name, now))
		}
		return nil
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, items(out))
}

// answeringInvitation accepts or declines an invitation addressed to the
// caller; any other invitation is not found.
func answeringInvitation(accept bool) func(h *Handler, w http.ResponseWriter, r *http.Request) {
	return func(h *Handler, w http.ResponseWriter, r *http.Request) {
		u := caller(r.Context()).user
		cmd := fsm.AnswerInvitation{ID: chi.URLParam(r, "id"), UserID: u.ID, Accept: accept, At: h.now()}
		var m state.Member
		if err := h.apply(r.Context(), fsm.CmdAnswerInvitation, cmd, &m); err != nil {
			h.writeError(w, r, err)
			return
		}
		h.log.Info("invitation answered", "invitation_id", cmd.ID, "user_id", u.ID, "accepted", accept)
		if !accept {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, http.StatusOK, viewMember(m, *u))
	}
}
