package api

import (
	"context"
	"net/http"
	"time"

	"github.com/livestreams/livestreams/controlplane/api/auth"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
)

type signupRequest = client.Signup

type signupAnswer = client.SignupResult

// signup creates a user who owns a new org. With the one-time setup token
// the user is also a cluster admin, and the token is burnt in the same
// command; without it signup must be enabled.
func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	var in signupRequest
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
	orgName, err := cleanName("org_name", in.OrgName, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if orgName == "" {
		orgName = "Default"
	}
	if err := auth.CheckPasswordLength(in.Password); err != nil {
		h.writeError(w, r, invalid("%v", err))
		return
	}
	if in.SetupToken == "" && !h.cfg.AllowSignup {
		h.writeError(w, r, forbidden("signup is disabled on this cluster: ask an admin for an account"))
		return
	}
	hash, err := h.hashPassword(r.Context(), in.Password)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	now := h.now()
	user := state.User{ID: ids.New("usr"), Email: email, Name: name, PasswordHash: hash, CreatedAt: now}
	org := state.Org{ID: ids.New("org"), Name: orgName, CreatedAt: now}
	if in.SetupToken != "" {
		user.Admin = true
		err = h.apply(r.Context(), fsm.CmdCompleteSetup,
			fsm.CompleteSetup{SetupTokenHash: auth.HashSetupToken(in.SetupToken), Org: org, User: user}, nil)
	} else if err = h.apply(r.Context(), fsm.CmdCreateUser, fsm.CreateUser{User: user}, nil); err == nil {
		err = h.apply(r.Context(), fsm.CmdCreateOrg, fsm.CreateOrg{Org: org, OwnerID: user.ID}, nil)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	token, _, err := h.issueSession(user.ID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("user signed up", "user_id", user.ID, "org_id", org.ID, "cluster_admin", user.Admin)
	writeJSON(w, http.StatusCreated, signupAnswer{User: viewUser(user), Org: viewOrg(org), Token: token})
}

type loginRequest = client.Login

type loginAnswer = client.LoginResult

var errLogin = &apiError{Code: codeUnauthorized, Message: "wrong email or password"}

// login exchanges email and password for a session token. An unknown email
// is checked against a dummy hash, so it answers like a wrong password, in
// about the same time.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var in loginRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	email, addr := state.NormalizeEmail(in.Email), clientIP(r.Context())
	if ok, wait, why := h.logins.check(email, addr, h.now()); !ok {
		h.tooMany(w, r, wait, why)
		return
	}
	// No leader-confirmed retry for an unknown email here (unlike bearer
	// credentials): it would make unknown emails measurably slower.
	var u state.User
	err := h.view(func(tx *state.Tx) error {
		var err error
		u, err = tx.UserByEmail(email)
		return err
	})
	found := err == nil
	if state.IsNotFound(err) {
		err = nil
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hash := h.dummyHash
	if found {
		hash = u.PasswordHash
	}
	ok, err := h.verifyPassword(r.Context(), hash, in.Password)
	if err != nil && found {
		h.log.Error("stored password hash is unusable", "user_id", u.ID, "err", err)
	}
	if !found || !ok {
		h.logins.failed(email, addr, h.now())
		h.writeError(w, r, errLogin)
		return
	}
	h.logins.succeeded(email, addr)
	token, exp, err := h.issueSession(u.ID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, loginAnswer{Token: token, ExpiresAt: exp, User: viewUser(u)})
}

func (h *Handler) issueSession(userID string) (string, time.Time, error) {
	var secret []byte
	if err := h.view(func(tx *state.Tx) error {
		m, ok, err := tx.Meta()
		if err == nil && !ok {
			err = errorf(codeUnavailable, "the cluster is not initialized yet")
		}
		secret = m.SessionSecret
		return err
	}); err != nil {
		return "", time.Time{}, err
	}
	return auth.IssueSession(secret, userID, h.now())
}

// hashPassword and verifyPassword run argon2 under the hashing semaphore.
func (h *Handler) hashPassword(ctx context.Context, pw string) (string, error) {
	if err := h.acquireHashing(ctx); err != nil {
		return "", err
	}
	defer func() { <-h.hashing }()
	return auth.HashPassword(pw, h.pwParams)
}

func (h *Handler) verifyPassword(ctx context.Context, hash, pw string) (bool, error) {
	if err := h.acquireHashing(ctx); err != nil {
		return false, err
	}
	defer func() { <-h.hashing }()
	return auth.VerifyPassword(hash, pw)
}

func (h *Handler) acquireHashing(ctx context.Context) error {
	select {
	case h.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return errorf(codeUnavailable, "the server is busy; try again")
	}
}

type meOrg = client.MeOrg

type meAnswer = client.Me

// me says who the caller is, where they act and with what role.
func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	out := meAnswer{OrgID: p.orgID, Role: string(p.role), ClusterAdmin: p.clusterAdmin, Orgs: []meOrg{}}
	if p.user != nil {
		u := viewUser(*p.user)
		out.User = &u
	} else {
		k := viewAPIKey(*p.key)
		out.APIKey = &k
	}
	err := h.view(func(tx *state.Tx) error {
		for _, m := range p.memberships {
			o, err := tx.Org(m.OrgID)
			if state.IsNotFound(err) {
				continue
			} else if err != nil {
				return err
			}
			out.Orgs = append(out.Orgs, meOrg{ID: o.ID, Name: o.Name, Role: string(m.Role)})
		}
		return nil
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
