package api

import (
	"net/http"
	"sort"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/pki"
)

// Edge identity: join tokens (single-use, expiring, listable, revocable),
// the certificates that own edge node ids, and the cluster CA's rotation.

// maxJoinTokenTTL bounds a join token's life: it is a bearer secret.
const maxJoinTokenTTL = 7 * 24 * time.Hour

type joinTokenView = client.JoinTokenInfo

func joinTokenInfo(j state.JoinToken, now time.Time) joinTokenView {
	v := joinTokenView{ID: j.ID, Description: j.Description, CreatedAt: j.CreatedAt, ExpiresAt: j.ExpiresAt,
		UsedAt: j.UsedAt, UsedBy: j.UsedBy, RevokedAt: j.RevokedAt, State: "usable"}
	switch {
	case j.RevokedAt != nil:
		v.State = "revoked"
	case j.UsedAt != nil:
		v.State = "used"
	case !j.ExpiresAt.IsZero() && !now.Before(j.ExpiresAt):
		v.State = "expired"
	}
	return v
}

// listJoinTokens lists every join token, newest first, without secrets.
func (h *Handler) listJoinTokens(w http.ResponseWriter, r *http.Request) {
	var toks []state.JoinToken
	if err := h.view(func(tx *state.Tx) error { var err error; toks, err = tx.JoinTokens(); return err }); err != nil {
		h.writeError(w, r, err)
		return
	}
	sort.Slice(toks, func(i, j int) bool { return toks[i].CreatedAt.After(toks[j].CreatedAt) })
	out := list[joinTokenView]{Items: []joinTokenView{}}
	now := h.now()
	for _, j := range toks {
		out.Items = append(out.Items, joinTokenInfo(j, now))
	}
	writeJSON(w, http.StatusOK, out)
}

// revokeJoinToken makes a token join nothing.
func (h *Handler) revokeJoinToken(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := h.apply(r.Context(), fsm.CmdRevokeJoinToken, fsm.RevokeJoinToken{ID: id, At: h.now()}, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("join token revoked", "token_id", id, "by", caller(r.Context()).actorID())
	w.WriteHeader(http.StatusNoContent)
}

// removeNode revokes an edge's certificate, forgets the edge and ends its
// sessions; the QUIC endpoint cuts the edge off.
func (h *Handler) removeNode(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := h.apply(r.Context(), fsm.CmdRemoveEdgeNode, fsm.RemoveEdgeNode{ID: id, At: h.now()}, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Warn("edge removed: certificate revoked", "node_id", id, "by", caller(r.Context()).actorID())
	w.WriteHeader(http.StatusNoContent)
}

type caStatusView = client.CAStatus

// caStatus shows the trusted CAs and the edges a rotation waits for.
func (h *Handler) caStatus(w http.ResponseWriter, r *http.Request) {
	st, err := h.loadCAStatus()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *Handler) loadCAStatus() (caStatusView, error) {
	out := caStatusView{CAs: []client.ClusterCA{}, Pending: []string{}}
	err := h.view(func(tx *state.Tx) error {
		m, ok, err := tx.Meta()
		if err != nil {
			return err
		}
		if !ok {
			return errorf(codeUnavailable, "cluster is not initialized yet")
		}
		cur := pki.CA{CertPEM: m.CACertPEM}
		out.CAs = append(out.CAs, caView(cur, "current"))
		old, err := tx.RetiringCAs()
		if err != nil {
			return err
		}
		for _, o := range old {
			out.CAs = append(out.CAs, caView(pki.CA{CertPEM: o.CertPEM}, "retiring"))
		}
		out.Rotating = len(old) > 0
		certs, err := tx.NodeCerts()
		now := h.now()
		for _, c := range certs {
			if c.Owns(now) && c.CAFingerprint != cur.Fingerprint() {
				out.Pending = append(out.Pending, c.NodeID)
			}
		}
		return err
	})
	return out, err
}

func caView(ca pki.CA, role string) client.ClusterCA {
	v := client.ClusterCA{Fingerprint: ca.Fingerprint(), Role: role}
	if c, err := ca.Certificate(); err == nil {
		v.Subject, v.NotAfter = c.Subject.CommonName, c.NotAfter.UTC()
	}
	return v
}

// rotateCA creates a new cluster CA through Raft. The old one stays
// trusted, and keeps signing the control plane's certificates, until the
// rotation finishes; edges learn the new bundle over their connection and
// renew their certificates from the new CA.
func (h *Handler) rotateCA(w http.ResponseWriter, r *http.Request) {
	var in client.CARotate
	if err := decode(r, &in, true); err != nil {
		h.writeError(w, r, err)
		return
	}
	var cur pki.CA
	var clusterID string
	if err := h.view(func(tx *state.Tx) error {
		m, ok, err := tx.Meta()
		if err == nil && !ok {
			err = errorf(codeUnavailable, "cluster is not initialized yet")
		}
		cur, clusterID = pki.CA{CertPEM: m.CACertPEM}, m.ClusterID
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.ExpectCurrent != "" && in.ExpectCurrent != cur.Fingerprint() {
		h.writeError(w, r, conflict("the current CA is %s, not %s", cur.Fingerprint(), in.ExpectCurrent))
		return
	}
	ca, err := pki.NewCA(clusterID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sealedKey, err := h.seal(state.SealCAKey, ca.KeyPEM)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	cmd := fsm.RotateCA{CertPEM: ca.CertPEM, KeyPEM: sealedKey, Fingerprint: ca.Fingerprint(),
		OldFingerprint: cur.Fingerprint(), At: h.now()}
	if err := h.apply(r.Context(), fsm.CmdRotateCA, cmd, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Warn("cluster CA rotation started", "new_ca", ca.Fingerprint(), "old_ca", cur.Fingerprint(), "by", caller(r.Context()).actorID())
	h.answerCAStatus(w, r)
}

// finishCARotation drops the retiring CA once every edge renewed (or when
// forced).
func (h *Handler) finishCARotation(w http.ResponseWriter, r *http.Request) {
	var in client.CAFinish
	if err := decode(r, &in, true); err != nil {
		h.writeError(w, r, err)
		return
	}
	st, err := h.loadCAStatus()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !st.Rotating {
		h.writeError(w, r, conflict("no CA rotation is under way"))
		return
	}
	if len(st.Pending) > 0 && !in.Force {
		h.writeError(w, r, conflict("%d edge(s) still hold a certificate from the retiring CA (%v); wait for them to reconnect, or force (they must then join again)", len(st.Pending), st.Pending))
		return
	}
	if err := h.apply(r.Context(), fsm.CmdFinishCARotation, fsm.FinishCARotation{}, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Warn("cluster CA rotation finished", "forced", in.Force, "by", caller(r.Context()).actorID())
	h.answerCAStatus(w, r)
}

func (h *Handler) answerCAStatus(w http.ResponseWriter, r *http.Request) {
	st, err := h.loadCAStatus()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
