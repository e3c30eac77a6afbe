package api

import (
	"net/http"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/state"
)

type statusAnswer = client.Health

// healthz answers while the process serves HTTP at all.
func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, statusAnswer{Status: "ok"})
}

// readyz answers 200 once this node knows a leader and holds the cluster
// meta, i.e. it can authenticate requests and get writes committed.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.node.LeaderID() == "" {
		h.writeError(w, r, errorf(codeUnavailable, "no raft leader known"))
		return
	}
	var ok bool
	err := h.view(func(tx *state.Tx) error {
		var err error
		_, ok, err = tx.Meta()
		return err
	})
	if err != nil || !ok {
		h.writeError(w, r, errorf(codeUnavailable, "the cluster meta has not been applied yet"))
		return
	}
	writeJSON(w, http.StatusOK, statusAnswer{Status: "ready"})
}
