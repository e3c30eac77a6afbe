package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/livestreams/livestreams/controlplane/api/auth"
	"github.com/livestreams/livestreams/controlplane/state"
)

// principal is who is calling and with what power in which org. A user
// acts in the org they picked (X-Livestreams-Org) or their first; an API
// key always in its own.
type principal struct {
	user         *state.User   // set for a session token
	key          *state.APIKey // set for an API key
	orgID        string        // "" when a user belongs to no org yet
	role         state.Role
	clusterAdmin bool
	memberships  []state.Member // a user's orgs, oldest first; a key's one
}

// actorID names the caller in records it creates (created_by).
func (p *principal) actorID() string {
	if p.user != nil {
		return p.user.ID
	}
	return p.key.ID
}

func caller(ctx context.Context) *principal {
	p, _ := ctx.Value(keyPrincipal).(*principal)
	return p
}

var (
	errBadKey     = &apiError{Code: codeUnauthorized, Message: "invalid or revoked API key"}
	errBadSession = &apiError{Code: codeUnauthorized, Message: "invalid or expired session token: log in again"}
	// errUnknownCredential is a well-formed credential this node's state
	// does not hold (yet, perhaps): worth one leader-confirmed retry.
	errUnknownCredential = errors.New("unknown credential")
)

// authenticated admits requests with a valid bearer session token or API
// key and puts the principal in the context.
func (h *Handler) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := h.authenticate(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyPrincipal, p)))
	})
}

func (h *Handler) authenticate(r *http.Request) (*principal, error) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, errUnauthorized
	}
	p, err := h.lookupPrincipal(r, tok)
	if errors.Is(err, errUnknownCredential) && !h.node.IsLeader() {
		// A key or user created through another node a moment ago may not
		// have reached this follower: catch up once before refusing.
		if ok, _ := h.catchUp.allow(clientIP(r.Context()), h.now()); ok && h.node.ConsistentRead(r.Context()) == nil {
			p, err = h.lookupPrincipal(r, tok)
		}
	}
	if errors.Is(err, errUnknownCredential) {
		if auth.IsAPIKey(tok) {
			return nil, errBadKey
		}
		return nil, errBadSession
	}
	if err != nil {
		return nil, err
	}
	if p.key != nil {
		h.touches.touch(p.key.ID, p.key.LastUsedAt)
	}
	return p, nil
}

func (h *Handler) lookupPrincipal(r *http.Request, tok string) (*principal, error) {
	var p *principal
	err := h.node.Store().View(func(tx *state.Tx) error {
		meta, ok, err := tx.Meta()
		if err != nil {
			return err
		}
		if !ok {
			return errorf(codeUnavailable, "the cluster is not initialized yet")
		}
		if auth.IsAPIKey(tok) {
			k, err := tx.APIKeyByHash(auth.HashAPIKey(tok))
			if state.IsNotFound(err) {
				return errUnknownCredential
			} else if err != nil {
				return err
			}
			if k.RevokedAt != nil {
				return errBadKey
			}
			role, clusterAdmin, alive, err := keyPower(tx, k)
			if err != nil {
				return err
			}
			if !alive {
				return errBadKey
			}
			p = &principal{key: &k, orgID: k.OrgID, role: role, clusterAdmin: clusterAdmin,
				memberships: []state.Member{{OrgID: k.OrgID, Role: role, CreatedAt: k.CreatedAt}}}
			return nil
		}
		uid, err := auth.ParseSession(meta.SessionSecret, tok, h.now())
		if err != nil {
			return errBadSession
		}
		u, err := tx.User(uid)
		if state.IsNotFound(err) {
			return errUnknownCredential
		} else if err != nil {
			return err
		}
		ms, err := tx.UserOrgs(uid)
		if err != nil {
			return err
		}
		sortByTime(ms, func(m state.Member) (time.Time, string) { return m.CreatedAt, m.OrgID })
		p = &principal{user: &u, clusterAdmin: u.Admin, memberships: ms}
		if want := r.Header.Get("X-Livestreams-Org"); want != "" {
			role, err := roleIn(tx, p, want)
			if err != nil {
				return err
			}
			p.orgID, p.role = want, role
		} else if len(ms) > 0 {
			p.orgID, p.role = ms[0].OrgID, ms[0].Role
		}
		return nil
	})
	return p, err
}

// roleIn is p's role in org, or not_found when p has none there. A
// cluster-admin user acts as owner in any org that exists: they can read
// and restore the whole state anyway.
func roleIn(tx *state.Tx, p *principal, orgID string) (state.Role, error) {
	for _, m := range p.memberships {
		if m.OrgID == orgID {
			return m.Role, nil
		}
	}
	if p.user != nil && p.user.Admin {
		if _, err := tx.Org(orgID); err == nil {
			return state.RoleOwner, nil
		}
	}
	return "", notFound("org %s not found", orgID)
}

// role admits callers with at least min in the org they act in.
func (h *Handler) role(min state.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := caller(r.Context())
			if err := p.need(min); err != nil {
				h.writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (p *principal) need(min state.Role) error {
	if p.orgID == "" {
		return forbidden("you belong to no org: create one with POST /v1/orgs or ask to be added")
	}
	if p.role.Rank() < min.Rank() {
		return forbidden("this needs the %s role in org %s; you are %s", min, p.orgID, p.role)
	}
	return nil
}

// pathOrg admits callers with at least min in the org named by {org},
// answering 404 for orgs they have no part in, and makes that org the one
// the request acts in.
func (h *Handler) pathOrg(min state.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := *caller(r.Context())
			orgID := chi.URLParam(r, "org")
			var role state.Role
			err := h.node.Store().View(func(tx *state.Tx) error {
				var err error
				role, err = roleIn(tx, &p, orgID)
				return err
			})
			if err == nil {
				p.orgID, p.role = orgID, role
				err = p.need(min)
			}
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyPrincipal, &p)))
		})
	}
}

// userOnly admits session tokens: some acts belong to a person, not to a
// key scoped to one org.
func (h *Handler) userOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if caller(r.Context()).user == nil {
			h.writeError(w, r, forbidden("this needs a user's session token (log in); an API key belongs to one org"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clusterAdmin admits cluster administrators only.
func (h *Handler) clusterAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !caller(r.Context()).clusterAdmin {
			h.writeError(w, r, forbidden("this needs a cluster admin"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
