package cluster

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// PathEphemeral carries ephemeral messages (job progress) from the node an
// edge reported to, to every other node, so each serves them to its own
// event-stream clients. They are not in the Raft log.
const PathEphemeral = "/internal/v1/ephemeral"

// maxEphemeralBody bounds one ephemeral message.
const maxEphemeralBody = 256 << 10

// OnApply registers fn to be told of each entry this node's state machine
// applies (the events hub's wake-up). fn must not block.
func (n *Node) OnApply(fn func(index uint64)) { n.fsm.OnApply(fn) }

// OnEphemeral registers fn to receive the ephemeral messages other nodes
// broadcast. fn must not block.
func (n *Node) OnEphemeral(fn func(body []byte)) { n.ephemeralFn.Store(&fn) }

func (n *Node) handleEphemeral(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEphemeralBody+1))
	if err != nil || len(body) > maxEphemeralBody {
		writeInternal(w, http.StatusBadRequest, internalError{Code: "invalid", Message: "unreadable or oversized body"})
		return
	}
	if fn := n.ephemeralFn.Load(); fn != nil {
		(*fn)(body)
	}
	writeInternal(w, http.StatusOK, struct{}{})
}

// Broadcast posts an ephemeral message to every other control-plane node,
// each within timeout; it returns the first failure (the others are
// still tried). Nothing is retried: the next message supersedes it.
func (n *Node) Broadcast(ctx context.Context, body []byte, timeout time.Duration) error {
	var peers []state.Node
	if err := n.store.View(func(tx *state.Tx) error {
		var err error
		peers, err = tx.Nodes()
		return err
	}); err != nil {
		return err
	}
	var errs []error
	for _, p := range peers {
		if p.ID == n.cfg.NodeID || p.HTTPAddr == "" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		var out struct{}
		if err := n.post(cctx, p.HTTPAddr, PathEphemeral, body, &out); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	return errors.Join(errs...)
}
