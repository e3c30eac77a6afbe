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

// listOrgs lists the caller's orgs; a cluster admin sees every org.
func (h *Handler) listOrgs(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	var out []orgView
	err := h.view(func(tx *state.Tx) error {
		if p.clusterAdmin {
			all, err := tx.Orgs()
			for _, o := range all {
				out = append(out, viewOrg(o))
			}
			return err
		}
		for _, m := range p.memberships {
			o, err := tx.Org(m.OrgID)
			if state.IsNotFound(err) {
				continue
			} else if err != nil {
				return err
			}
			out = append(out, viewOrg(o))
		}
		return nil
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sortByTime(out, func(o orgView) (time.Time, string) { return o.CreatedAt, o.ID })
	writeJSON(w, http.StatusOK, items(out))
}

type createOrgRequest = client.OrgCreate

// createOrg makes a new org owned by the calling user.
func (h *Handler) createOrg(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	var in createOrgRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	name, err := cleanName("name", in.Name, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	org := state.Org{ID: ids.New("org"), Name: name, CreatedAt: h.now()}
	if err := h.apply(r.Context(), fsm.CmdCreateOrg, fsm.CreateOrg{Org: org, OwnerID: p.user.ID}, &org); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewOrg(org))
}

func (h *Handler) getOrg(w http.ResponseWriter, r *http.Request) {
	var o state.Org
	err := h.view(func(tx *state.Tx) error {
		var err error
		o, err = tx.Org(caller(r.Context()).orgID)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOrg(o))
}

// deleteOrg removes the org with its members, keys, streams and signing keys.
func (h *Handler) deleteOrg(w http.ResponseWriter, r *http.Request) {
	id := caller(r.Context()).orgID
	if err := h.apply(r.Context(), fsm.CmdDeleteOrg, fsm.DeleteOrg{ID: id}, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("org deleted", "org_id", id, "by", caller(r.Context()).actorID())
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) listMembers(w http.ResponseWriter, r *http.Request) {
	orgID := caller(r.Context()).orgID
	var out []memberView
	err := h.view(func(tx *state.Tx) error {
		ms, err := tx.Members(orgID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			u, err := tx.User(m.UserID)
			if err != nil {
				return err
			}
			out = append(out, viewMember(m, u))
		}
		return nil
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sortByTime(out, func(m memberView) (time.Time, string) { return m.CreatedAt, m.UserID })
	writeJSON(w, http.StatusOK, items(out))
}

type putMemberRequest = client.MemberPut

// putMember changes a member's role. Nobody grants a role above their
// own, so only an owner makes (or unmakes) an owner. It adds nobody: a
// user joins by accepting an invitation, and anyone who is not a member
// is not found, whether or not they are a user.
func (h *Handler) putMember(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	userID := chi.URLParam(r, "user")
	var in putMemberRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.Role == "" {
		h.writeError(w, r, invalid("role is required"))
		return
	}
	role, err := parseRole(in.Role, "")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if role.Rank() > p.role.Rank() {
		h.writeError(w, r, forbidden("only an owner can grant the %s role", role))
		return
	}
	var u state.User
	err = h.view(func(tx *state.Tx) error {
		old, err := tx.Member(p.orgID, userID)
		if err != nil {
			return notFound("member %s not found", userID)
		}
		if u, err = tx.User(userID); err != nil {
			return err
		}
		if old.Role.Rank() > p.role.Rank() {
			return forbidden("only an owner can change an owner's role")
		}
		return nil
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	m := state.Member{OrgID: p.orgID, UserID: userID, Role: role, CreatedAt: h.now()}
	if err := h.apply(r.Context(), fsm.CmdPutMember, fsm.PutMember{Member: m, RequireExisting: true}, &m); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewMember(m, u))
}

// removeMember takes a user out of the org; the last owner stays.
func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	userID := chi.URLParam(r, "user")
	err := h.view(func(tx *state.Tx) error {
		old, err := tx.Member(p.orgID, userID)
		if err != nil {
			return err
		}
		if old.Role.Rank() > p.role.Rank() {
			return forbidden("only an owner can remove an owner")
		}
		return nil
	})
	if err == nil {
		err = h.apply(r.Context(), fsm.CmdRemoveMember, fsm.RemoveMember{OrgID: p.orgID, UserID: userID, At: h.now()}, nil)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
