package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/token"
)

// Bounds of a minted playback token's lifetime.
const (
	defaultTokenTTL = time.Hour
	maxTokenTTL     = 30 * 24 * time.Hour
)

func (h *Handler) listSigningKeys(w http.ResponseWriter, r *http.Request) {
	orgID := caller(r.Context()).orgID
	var keys []state.SigningKey
	err := h.view(func(tx *state.Tx) error {
		var err error
		keys, err = tx.SigningKeys(orgID)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sortByTime(keys, func(k state.SigningKey) (time.Time, string) { return k.CreatedAt, k.ID })
	out := make([]signingKeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, viewSigningKey(k))
	}
	writeJSON(w, http.StatusOK, items(out))
}

type createSigningKeyRequest = client.SigningKeyCreate

type createdSigningKey = client.SigningKeyCreated

// createSigningKey makes a P-256 key pair. The private half is stored only
// with keep_private (the default), which lets the API mint tokens; without
// it only the org holds it and mints its own.
func (h *Handler) createSigningKey(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	var in createSigningKeyRequest
	if err := decode(r, &in, true); err != nil {
		h.writeError(w, r, err)
		return
	}
	keep := in.KeepPrivate == nil || *in.KeepPrivate
	priv, err := token.GenerateKey()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	pub, err := token.PublicPEM(&priv.PublicKey)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	privPEM, err := token.PrivatePEM(priv)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	k := state.SigningKey{ID: ids.New("sig"), OrgID: p.orgID, PublicPEM: pub, CreatedAt: h.now()}
	if keep {
		if k.PrivatePEM, err = h.seal(state.SealSigningKey, privPEM); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if err := h.apply(r.Context(), fsm.CmdCreateSigningKey, k, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("signing key created", "signing_key_id", k.ID, "org_id", k.OrgID, "kept_private", keep)
	writeJSON(w, http.StatusCreated, createdSigningKey{SigningKey: viewSigningKey(k), PrivatePEM: privPEM})
}

// revokeSigningKey revokes a key: edges stop accepting its tokens and it
// mints no more.
func (h *Handler) revokeSigningKey(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	cmd := fsm.RevokeSigningKey{OrgID: orgID, ID: id, At: h.now()}
	if err := h.apply(r.Context(), fsm.CmdRevokeSigningKey, cmd, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type mintTokenRequest = client.TokenMint

type mintTokenAnswer = client.Token

// mintToken signs a playback token for one of the org's streams or assets
// with a key whose private half the control plane kept.
func (h *Handler) mintToken(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var in mintTokenRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.PlaybackID == "" {
		h.writeError(w, r, invalid("playback_id is required"))
		return
	}
	ttl := defaultTokenTTL
	if in.TTLSeconds != nil {
		if *in.TTLSeconds < 1 || *in.TTLSeconds > int64(maxTokenTTL/time.Second) {
			h.writeError(w, r, invalid("ttl_seconds must be 1 to %d", int64(maxTokenTTL/time.Second)))
			return
		}
		ttl = time.Duration(*in.TTLSeconds) * time.Second
	}
	var k state.SigningKey
	err := h.view(func(tx *state.Tx) error {
		var err error
		if k, err = tx.SigningKey(orgID, id); err != nil {
			return err
		}
		// A stream's or an asset's (recording, upload, clip) playback id.
		if s, err := tx.StreamByPlaybackID(in.PlaybackID); err == nil && s.OrgID == orgID {
			return nil
		}
		if a, err := tx.AssetByPlaybackID(in.PlaybackID); err == nil && a.OrgID == orgID {
			return nil
		}
		return notFound("playback id %s not found", in.PlaybackID)
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if k.RevokedAt != nil {
		h.writeError(w, r, conflict("signing key %s is revoked", id))
		return
	}
	if k.PrivatePEM == "" {
		h.writeError(w, r, conflict("signing key %s was created without keep_private: mint tokens with your copy of the private key", id))
		return
	}
	priv, err := token.ParsePrivatePEM(k.PrivatePEM)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	exp := h.now().Add(ttl).Truncate(time.Second)
	tok, err := token.Sign(priv, k.ID, in.PlaybackID, exp)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mintTokenAnswer{Token: tok, ExpiresAt: exp})
}

// seal seals a secret for the state with the cluster keyring before it is
// proposed (state/sealed.go); without a keyring (tests) it stays plain.
func (h *Handler) seal(purpose, plain string) (string, error) {
	if h.cfg.Keyring == nil {
		return plain, nil
	}
	sealed, err := h.cfg.Keyring.SealString(purpose, plain)
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", purpose, err)
	}
	return sealed, nil
}
