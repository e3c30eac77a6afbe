package api

import (
	"net/http"

	"github.com/livestreams/livestreams/controlplane/api/auth"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
)

type createUserRequest = client.UserCreate

// createUser lets a cluster admin make an account, optionally as a member
// of an org (role member unless said otherwise).
func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	var in createUserRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	email, err := cleanEmail(in.Email)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	name, err := cleanName("name", in.Name, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := auth.CheckPasswordLength(in.Password); err != nil {
		h.writeError(w, r, invalid("%v", err))
		return
	}
	if in.Role != "" && in.OrgID == "" {
		h.writeError(w, r, invalid("role needs org_id"))
		return
	}
	role, err := parseRole(in.Role, state.RoleMember)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hash, err := h.hashPassword(r.Context(), in.Password)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	now := h.now()
	u := state.User{ID: ids.New("usr"), Email: email, Name: name, PasswordHash: hash, CreatedAt: now}
	cmd := fsm.CreateUser{User: u}
	if in.OrgID != "" {
		cmd.Membership = &state.Member{OrgID: in.OrgID, UserID: u.ID, Role: role, CreatedAt: now}
	}
	if err := h.apply(r.Context(), fsm.CmdCreateUser, cmd, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewUser(u))
}
