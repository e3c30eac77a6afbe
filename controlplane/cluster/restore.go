package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/livestreams/livestreams/controlplane/state"
)

// PathRestore is the internal endpoint a follower forwards a restore to.
const PathRestore = "/internal/v1/restore"

// SaveSnapshot writes a consistent copy of the state (a bbolt file) to w,
// after a leader-confirmed read so it holds every acknowledged write.
func (n *Node) SaveSnapshot(ctx context.Context, w io.Writer) error {
	if err := n.ConsistentRead(ctx); err != nil {
		return err
	}
	_, err := n.store.WriteTo(w)
	return err
}

// RestoreSnapshot replaces the whole cluster's state with a file made by
// SaveSnapshot. The leader installs it through Raft so every node, and any
// node that joins later, ends up with it.
func (n *Node) RestoreSnapshot(ctx context.Context, data []byte) error {
	return n.retryLeader(ctx, func(ctx context.Context) error {
		if !n.IsLeader() {
			base, err := n.leaderHTTP()
			if err != nil {
				return err
			}
			var out map[string]string
			return n.post(ctx, base, PathRestore, data, &out)
		}
		data, err := state.PrepareRestore(data)
		if err != nil {
			return err
		}
		meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: int64(len(data))}
		if err := n.raft.Restore(meta, bytes.NewReader(data), 30*time.Second); err != nil {
			return fmt.Errorf("restore snapshot: %w", err)
		}
		return nil
	})
}

func (n *Node) handleRestore(w http.ResponseWriter, r *http.Request) {
	data, ok := n.leaderBody(w, r)
	if !ok {
		return
	}
	if err := n.RestoreSnapshot(r.Context(), data); err != nil {
		writeInternal(w, http.StatusBadRequest, internalError{Code: "invalid", Message: err.Error()})
		return
	}
	writeInternal(w, http.StatusOK, map[string]string{})
}
