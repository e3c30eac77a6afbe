package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/state"
)

type clusterNodeView = client.ClusterNode

type clusterView = client.ClusterStatus

// clusterStatus shows the Raft configuration as this node sees it. A node
// is healthy when its /healthz answers within a second (this node is,
// since it is answering).
func (h *Handler) clusterStatus(w http.ResponseWriter, r *http.Request) {
	st := h.node.Status()
	out := clusterView{LeaderID: st.Leader, Term: st.Term, LastIndex: st.LastIndex, AppliedIndex: st.AppliedIndex,
		CommitIndex: st.CommitIndex, LastSnapshotIndex: st.LastSnapshotIndex, Nodes: []clusterNodeView{}}
	h.view(func(tx *state.Tx) error {
		m, _, err := tx.Meta()
		out.ClusterID = m.ClusterID
		return err
	})
	for _, s := range st.Servers {
		n := clusterNodeView{ID: s.ID, RaftAddr: s.RaftAddr, HTTPAddr: s.HTTPAddr, State: s.State, Voter: s.Suffrage == "voter"}
		if s.ID == st.NodeID && st.State == "candidate" {
			n.State = "candidate"
		}
		out.Nodes = append(out.Nodes, n)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range out.Nodes {
		n := &out.Nodes[i]
		if n.ID == st.NodeID {
			n.Healthy = true
			continue
		}
		if n.HTTPAddr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Healthy = h.probe(ctx, n.HTTPAddr)
		}()
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) probe(ctx context.Context, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := h.health.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

type addMemberRequest = client.ClusterMember

// addClusterMember adds a running control-plane node as a voter; the
// leader does it, wherever the request lands.
func (h *Handler) addClusterMember(w http.ResponseWriter, r *http.Request) {
	var in addMemberRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	switch {
	case strings.TrimSpace(in.ID) == "" || len(in.ID) > 64:
		h.writeError(w, r, invalid("id is required (at most 64 characters)"))
		return
	case !hostPort(in.RaftAddr):
		h.writeError(w, r, invalid("raft_addr must be host:port"))
		return
	case in.HTTPAddr == "":
		h.writeError(w, r, invalid("http_addr is required"))
		return
	}
	if !strings.HasPrefix(in.HTTPAddr, "http://") && !strings.HasPrefix(in.HTTPAddr, "https://") {
		in.HTTPAddr = "http://" + in.HTTPAddr
	}
	if err := h.node.AddVoter(r.Context(), cluster.JoinRequest{ID: in.ID, RaftAddr: in.RaftAddr, HTTPAddr: in.HTTPAddr}); err != nil {
		h.writeError(w, r, clusterFailure("add node "+in.ID, err))
		return
	}
	h.log.Info("control-plane node added", "node_id", in.ID, "raft_addr", in.RaftAddr, "by", caller(r.Context()).actorID())
	writeJSON(w, http.StatusOK, in)
}

func hostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	return err == nil && host != "" && port != ""
}

// clusterFailure reports a membership change that failed; the cause is
// shown, since only cluster admins get here and need it.
func clusterFailure(what string, err error) error {
	if _, expected := toAPIError(err); expected {
		return err
	}
	return errorf(codeUnavailable, "%s: %v", what, err)
}

// removeClusterMember takes a node out of the Raft configuration.
func (h *Handler) removeClusterMember(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	known := false
	for _, s := range h.node.Status().Servers {
		known = known || s.ID == id
	}
	if !known {
		h.writeError(w, r, notFound("node %s is not a cluster member", id))
		return
	}
	if err := h.node.Remove(r.Context(), id); err != nil {
		h.writeError(w, r, clusterFailure("remove node "+id, err))
		return
	}
	h.log.Info("control-plane node removed", "node_id", id, "by", caller(r.Context()).actorID())
	w.WriteHeader(http.StatusNoContent)
}

// countingWriter tells whether an answer has begun.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// saveSnapshot streams the whole state, after a leader-confirmed read.
func (h *Handler) saveSnapshot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="livestreams.snapshot"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := &countingWriter{w: w}
	if err := h.node.SaveSnapshot(r.Context(), cw); err != nil {
		if cw.n == 0 {
			w.Header().Del("Content-Disposition")
			h.writeError(w, r, clusterFailure("snapshot", err))
			return
		}
		// Mid-stream: abort the connection so the client sees a truncated
		// body, not a complete-looking one.
		h.log.Error("snapshot stream failed", "request_id", requestID(r.Context()), "after_bytes", cw.n, "err", err)
		panic(http.ErrAbortHandler)
	}
	h.log.Info("snapshot saved", "bytes", cw.n, "by", caller(r.Context()).actorID())
}

// restoreSnapshot replaces the whole cluster state with the body.
func (h *Handler) restoreSnapshot(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(data) == 0 {
		h.writeError(w, r, invalid("the body must be a snapshot file made by GET /v1/cluster/snapshot"))
		return
	}
	// Check here, where the error can be told apart from an outage, rather
	// than after forwarding to the leader.
	if _, err := state.PrepareRestore(data); err != nil {
		h.writeError(w, r, invalid("not a livestreams snapshot"))
		return
	}
	if err := h.node.RestoreSnapshot(r.Context(), data); err != nil {
		h.writeError(w, r, clusterFailure("restore", err))
		return
	}
	h.log.Warn("cluster state restored from a snapshot", "bytes", len(data), "by", caller(r.Context()).actorID())
	w.WriteHeader(http.StatusNoContent)
}

type joinTokenRequest = client.JoinTokenCreate

type joinTokenAnswer = client.JoinToken

// createJoinToken makes a single-use token an edge joins the cluster with,
// valid for ttl (one hour by default).
func (h *Handler) createJoinToken(w http.ResponseWriter, r *http.Request) {
	var in joinTokenRequest
	if err := decode(r, &in, true); err != nil {
		h.writeError(w, r, err)
		return
	}
	desc, err := cleanName("description", in.Description, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if h.cfg.JoinTokens == nil {
		h.writeError(w, r, errorf(codeUnavailable, "this node cannot issue edge join tokens"))
		return
	}
	var ttl time.Duration
	if in.TTL != "" {
		if ttl, err = time.ParseDuration(in.TTL); err != nil || ttl < time.Minute || ttl > maxJoinTokenTTL {
			h.writeError(w, r, invalid("ttl must be a duration from 1m to %s, e.g. 1h", maxJoinTokenTTL))
			return
		}
	}
	tok, err := h.cfg.JoinTokens(r.Context(), desc, ttl)
	if err != nil {
		h.writeError(w, r, clusterFailure("create join token", err))
		return
	}
	writeJSON(w, http.StatusCreated, tok)
}
