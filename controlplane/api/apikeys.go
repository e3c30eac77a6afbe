package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/livestreams/livestreams/controlplane/api/auth"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
)

func (h *Handler) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	orgID := caller(r.Context()).orgID
	var keys []state.APIKey
	err := h.view(func(tx *state.Tx) error {
		var err error
		keys, err = tx.APIKeys(orgID)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sortByTime(keys, func(k state.APIKey) (time.Time, string) { return k.CreatedAt, k.ID })
	out := make([]apiKeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, viewAPIKey(k))
	}
	writeJSON(w, http.StatusOK, items(out))
}

type createAPIKeyRequest = client.APIKeyCreate

type createdAPIKey = client.APIKeyCreated

// createAPIKey makes a key in the caller's org. A key cannot outrank its
// creator: no higher role, and cluster_admin only from a cluster admin.
func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	var in createAPIKeyRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	name, err := cleanName("name", in.Name, true)
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
		h.writeError(w, r, forbidden("a key cannot outrank its creator: you are %s, the key would be %s", p.role, role))
		return
	}
	if in.ClusterAdmin && !p.clusterAdmin {
		h.writeError(w, r, forbidden("only a cluster admin can create a cluster_admin key"))
		return
	}
	secret, prefix, hash := auth.NewAPIKey()
	k := state.APIKey{ID: ids.New("key"), OrgID: p.orgID, Name: name, Prefix: prefix, Hash: hash, Role: role,
		ClusterAdmin: in.ClusterAdmin, CreatedBy: p.actorID(), CreatorUserID: p.creatorUserID(), CreatedAt: h.now()}
	if err := h.apply(r.Context(), fsm.CmdCreateAPIKey, k, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("api key created", "api_key_id", k.ID, "org_id", k.OrgID, "role", k.Role,
		"cluster_admin", k.ClusterAdmin, "by", k.CreatedBy)
	writeJSON(w, http.StatusCreated, createdAPIKey{APIKey: viewAPIKey(k), Key: secret})
}

// revokeAPIKey revokes a key of the caller's org; requests with it get 401
// from then on. Keys above the caller's role are not theirs to revoke.
func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	id := chi.URLParam(r, "id")
	err := h.view(func(tx *state.Tx) error {
		k, err := tx.APIKey(id)
		if err != nil || k.OrgID != p.orgID {
			return notFound("api key %s not found", id)
		}
		if k.Role.Rank() > p.role.Rank() {
			return forbidden("only an owner can revoke an owner's key")
		}
		return nil
	})
	if err == nil {
		err = h.apply(r.Context(), fsm.CmdRevokeAPIKey, fsm.RevokeAPIKey{OrgID: p.orgID, ID: id, At: h.now()}, nil)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// creatorUserID is the user a key made by p derives its power from.
func (p *principal) creatorUserID() string {
	if p.user != nil {
		return p.user.ID
	}
	return p.key.Creator()
}

// keyPower is what key k may do now: its role capped by its creator's
// current role in the org (a cluster-admin creator acts as owner there),
// cluster_admin only while the creator still is one. ok is false when the
// creator is gone from the org: the key is dead even before the removal's
// revocation reaches this node.
func keyPower(tx *state.Tx, k state.APIKey) (role state.Role, clusterAdmin, ok bool, err error) {
	creator := k.Creator()
	if creator == "" {
		return k.Role, k.ClusterAdmin, true, nil // an older key made by a key: as it was
	}
	u, err := tx.User(creator)
	if state.IsNotFound(err) {
		return "", false, false, nil
	} else if err != nil {
		return "", false, false, err
	}
	var creatorRole state.Role
	if m, err := tx.Member(k.OrgID, creator); err == nil {
		creatorRole = m.Role
	} else if !state.IsNotFound(err) {
		return "", false, false, err
	} else if u.Admin {
		creatorRole = state.RoleOwner
	} else {
		return "", false, false, nil
	}
	role = k.Role
	if creatorRole.Rank() < role.Rank() {
		role = creatorRole
	}
	return role, k.ClusterAdmin && u.Admin, true, nil
}

// toucher records API keys' last use without making every request a Raft
// write: at most one touch per key per touchEvery, proposed in the
// background. Close waits for touches in flight.
type toucher struct {
	node *cluster.Node
	log  *slog.Logger
	now  func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	last   map[string]time.Time
}

func newToucher(node *cluster.Node, log *slog.Logger, now func() time.Time) *toucher {
	ctx, cancel := context.WithCancel(context.Background())
	return &toucher{node: node, log: log, now: now, ctx: ctx, cancel: cancel, last: map[string]time.Time{}}
}

func (t *toucher) touch(id string, lastUsed *time.Time) {
	now := t.now().UTC()
	if lastUsed != nil && now.Sub(*lastUsed) < touchEvery {
		return
	}
	t.mu.Lock()
	if t.closed || now.Sub(t.last[id]) < touchEvery {
		t.mu.Unlock()
		return
	}
	if len(t.last) >= 10_000 {
		for k, at := range t.last {
			if now.Sub(at) >= touchEvery {
				delete(t.last, k)
			}
		}
	}
	t.last[id] = now
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
		defer cancel()
		if _, err := t.node.Apply(ctx, fsm.CmdTouchAPIKey, fsm.TouchAPIKey{ID: id, At: now}); err != nil && t.ctx.Err() == nil {
			t.log.Warn("record api key use", "api_key_id", id, "err", err)
		}
	}()
}

func (t *toucher) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.cancel()
	t.wg.Wait()
}
