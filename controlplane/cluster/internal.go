package cluster

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/state"
)

// Internal endpoint paths, mounted by the API server beside /v1.
const (
	PathApply     = "/internal/v1/apply"
	PathReadIndex = "/internal/v1/read-index"
	PathJoin      = "/internal/v1/join"
	PathRemove    = "/internal/v1/remove"
	PathStatus    = "/internal/v1/status"
)

const maxInternalBody = 512 << 20 // a restore carries the whole state

// JoinRequest asks the leader to add a node as a voter.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	QUICAddr string `json:"quic_addr,omitempty"`
}

type internalError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// InternalHandler serves the node-to-node endpoints. Every call must carry
// the cluster key as a bearer token.
func (n *Node) InternalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathApply, n.authed(n.handleApply))
	mux.HandleFunc("POST "+PathReadIndex, n.authed(n.handleReadIndex))
	mux.HandleFunc("POST "+PathJoin, n.authed(n.handleJoin))
	mux.HandleFunc("POST "+PathRemove, n.authed(n.handleRemove))
	mux.HandleFunc("POST "+PathRestore, n.authed(n.handleRestore))
	mux.HandleFunc("POST "+PathEphemeral, n.authed(n.handleEphemeral))
	mux.HandleFunc("GET "+PathStatus, n.authed(func(w http.ResponseWriter, r *http.Request) {
		writeInternal(w, http.StatusOK, n.Status())
	}))
	return mux
}

func (n *Node) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if n.cfg.ClusterKey == "" || subtle.ConstantTimeCompare([]byte(got), []byte(n.cfg.ClusterKey)) != 1 {
			writeInternal(w, http.StatusUnauthorized, internalError{Code: "unauthorized", Message: "cluster key required"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxInternalBody)
		h(w, r)
	}
}

func writeInternal(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeNotLeader answers a request only the leader takes; the sender
// finds the leader and retries there.
func writeNotLeader(w http.ResponseWriter) {
	writeInternal(w, http.StatusMisdirectedRequest, internalError{Code: "not_leader", Message: "not the leader"})
}

// leaderBody reads the body of a request only the leader takes, answering
// it (and returning false) when the body cannot be read or this node does
// not lead.
func (n *Node) leaderBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeInternal(w, http.StatusBadRequest, internalError{Code: "invalid", Message: err.Error()})
		return nil, false
	}
	if !n.IsLeader() {
		writeNotLeader(w)
		return nil, false
	}
	return data, true
}

func (n *Node) handleApply(w http.ResponseWriter, r *http.Request) {
	data, ok := n.leaderBody(w, r)
	if !ok {
		return
	}
	res, err := n.applyLocal(r.Context(), data)
	if errors.Is(err, errRetry) {
		writeNotLeader(w)
		return
	}
	if err != nil {
		writeInternal(w, http.StatusServiceUnavailable, internalError{Code: "unavailable", Message: err.Error()})
		return
	}
	writeInternal(w, http.StatusOK, res)
}

func (n *Node) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	if !n.IsLeader() {
		writeNotLeader(w)
		return
	}
	idx, err := n.readIndex(r.Context())
	if err != nil {
		writeNotLeader(w)
		return
	}
	writeInternal(w, http.StatusOK, map[string]uint64{"index": idx})
}

func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req JoinRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ID == "" || req.RaftAddr == "" {
		writeInternal(w, http.StatusBadRequest, internalError{Code: "invalid", Message: "join needs id and raft_addr"})
		return
	}
	if err := n.AddVoter(r.Context(), req); err != nil {
		writeInternal(w, http.StatusServiceUnavailable, internalError{Code: "unavailable", Message: err.Error()})
		return
	}
	out := joinReply{Leader: n.LeaderID()}
	if len(n.cfg.Keyring.IDs()) > 0 {
		raw, err := n.cfg.Keyring.Marshal()
		if err != nil {
			writeInternal(w, http.StatusInternalServerError, internalError{Code: "internal", Message: "keyring: " + err.Error()})
			return
		}
		out.Keyring = raw
	}
	writeInternal(w, http.StatusOK, out)
}

// joinReply answers a join: the leader, and the cluster keyring the new
// node needs to read the state's sealed secrets (the call carries the
// cluster key, which already grants the whole state).
type joinReply struct {
	Leader  string          `json:"leader"`
	Keyring json.RawMessage `json:"keyring,omitempty"`
}

// takeKeyring keeps the keyring a join answered with, when this node has
// none yet.
func (n *Node) takeKeyring(raw []byte) error {
	if len(raw) == 0 || n.cfg.Keyring == nil || len(n.cfg.Keyring.IDs()) > 0 {
		return nil
	}
	k, err := keyring.Parse(raw)
	if err != nil {
		return err
	}
	if err := k.Save(n.cfg.DataDir); err != nil {
		return err
	}
	n.cfg.Keyring.Replace(k)
	n.log.Info("received the cluster keyring", "keys", len(k.IDs()))
	return nil
}

func (n *Node) handleRemove(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ID == "" {
		writeInternal(w, http.StatusBadRequest, internalError{Code: "invalid", Message: "remove needs id"})
		return
	}
	if err := n.Remove(r.Context(), req.ID); err != nil {
		writeInternal(w, http.StatusServiceUnavailable, internalError{Code: "unavailable", Message: err.Error()})
		return
	}
	writeInternal(w, http.StatusOK, map[string]string{})
}

// leaderHTTP finds the leader's internal base URL from the nodes table.
func (n *Node) leaderHTTP() (string, error) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return "", errRetry
	}
	var node state.Node
	var ok bool
	if err := n.store.View(func(tx *state.Tx) error {
		var err error
		node, ok, err = tx.Node(string(id))
		return err
	}); err != nil {
		return "", err
	}
	if !ok || node.HTTPAddr == "" {
		return "", errRetry // the new leader has not registered its address yet
	}
	return node.HTTPAddr, nil
}

// post calls another node's internal endpoint. Failures before the request
// was sent, and "not leader" answers, are retryable.
func (n *Node) post(ctx context.Context, base, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+n.cfg.ClusterKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		if isDialError(err) {
			return errRetry
		}
		return fmt.Errorf("call %s%s: %w", base, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxInternalBody))
	if resp.StatusCode == http.StatusMisdirectedRequest {
		return errRetry
	}
	if resp.StatusCode != http.StatusOK {
		var e internalError
		json.Unmarshal(raw, &e)
		return fmt.Errorf("call %s%s: %s: %s", base, path, resp.Status, e.Message)
	}
	return json.Unmarshal(raw, out)
}

func isDialError(err error) bool {
	return strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "dial tcp")
}

func (n *Node) forwardApply(ctx context.Context, data []byte) (fsm.Result, error) {
	base, err := n.leaderHTTP()
	if err != nil {
		return fsm.Result{}, err
	}
	var res fsm.Result
	err = n.post(ctx, base, PathApply, data, &res)
	return res, err
}

func (n *Node) forwardReadIndex(ctx context.Context) (uint64, error) {
	base, err := n.leaderHTTP()
	if err != nil {
		return 0, err
	}
	var out struct {
		Index uint64 `json:"index"`
	}
	err = n.post(ctx, base, PathReadIndex, []byte("{}"), &out)
	return out.Index, err
}

// AddVoter adds a node to the configuration (forwarding to the leader when
// needed) and records its addresses.
func (n *Node) AddVoter(ctx context.Context, req JoinRequest) error {
	return n.retryLeader(ctx, func(ctx context.Context) error {
		if !n.IsLeader() {
			base, err := n.leaderHTTP()
			if err != nil {
				return err
			}
			body, _ := json.Marshal(req)
			var out joinReply
			return n.post(ctx, base, PathJoin, body, &out)
		}
		f := n.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr), 0, 10*time.Second)
		if err := f.Error(); err != nil {
			if errors.Is(err, raft.ErrNotLeader) {
				return errRetry
			}
			return fmt.Errorf("add voter %s: %w", req.ID, err)
		}
		_, err := n.Apply(ctx, fsm.CmdPutNode, state.Node{ID: req.ID, RaftAddr: req.RaftAddr,
			HTTPAddr: req.HTTPAddr, QUICAddr: req.QUICAddr, JoinedAt: time.Now().UTC()})
		return err
	})
}

// Remove takes a node out of the configuration and the nodes table.
func (n *Node) Remove(ctx context.Context, id string) error {
	return n.retryLeader(ctx, func(ctx context.Context) error {
		if !n.IsLeader() {
			base, err := n.leaderHTTP()
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"id": id})
			var out map[string]string
			return n.post(ctx, base, PathRemove, body, &out)
		}
		if err := n.raft.RemoveServer(raft.ServerID(id), 0, 10*time.Second).Error(); err != nil {
			if errors.Is(err, raft.ErrNotLeader) {
				return errRetry
			}
			return fmt.Errorf("remove server %s: %w", id, err)
		}
		_, err := n.Apply(ctx, fsm.CmdRemoveNode, fsm.RemoveNode{ID: id})
		return err
	})
}

func (n *Node) retryLeader(ctx context.Context, fn func(context.Context) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
	}
	for {
		err := fn(ctx)
		if !errors.Is(err, errRetry) {
			return err
		}
		select {
		case <-ctx.Done():
			return ErrNoLeader
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Join asks an existing node (by its HTTP base URL) to add this node. It
// retries until ctx ends, so nodes can be started in any order.
func (n *Node) Join(ctx context.Context, existing string) error {
	req := JoinRequest{ID: n.cfg.NodeID, RaftAddr: string(n.transport.LocalAddr()),
		HTTPAddr: n.cfg.HTTPAdvertise, QUICAddr: n.cfg.QUICAdvertise}
	body, _ := json.Marshal(req)
	var last error
	for {
		if n.isVoter() && (n.cfg.Keyring == nil || len(n.cfg.Keyring.IDs()) > 0) {
			return nil
		}
		var out joinReply
		err := n.post(ctx, existing, PathJoin, body, &out)
		if err == nil {
			if err := n.takeKeyring(out.Keyring); err != nil {
				return fmt.Errorf("join %s: %w", existing, err)
			}
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("join %s: %v", existing, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ServerStatus is one member of the Raft configuration.
type ServerStatus struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr,omitempty"`
	Suffrage string `json:"suffrage"`
	State    string `json:"state"` // leader | follower
}

// Status is the cluster as this node sees it.
type Status struct {
	NodeID       string `json:"node_id"`
	State        string `json:"state"`
	Leader       string `json:"leader"`
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"last_index"`
	AppliedIndex uint64 `json:"applied_index"`
	CommitIndex  uint64 `json:"commit_index"`
	// LastSnapshotIndex is the index of the newest snapshot on this node.
	LastSnapshotIndex uint64         `json:"last_snapshot_index"`
	Servers           []ServerStatus `json:"servers"`
}

// Status reports the configuration, leader, term and indexes.
func (n *Node) Status() Status {
	st := Status{NodeID: n.cfg.NodeID, State: strings.ToLower(n.raft.State().String()), Leader: n.LeaderID(),
		LastIndex: n.raft.LastIndex(), AppliedIndex: n.raft.AppliedIndex(), CommitIndex: n.raft.CommitIndex()}
	stats := n.raft.Stats()
	fmt.Sscan(stats["term"], &st.Term)
	fmt.Sscan(stats["last_snapshot_index"], &st.LastSnapshotIndex)
	nodes := map[string]state.Node{}
	n.store.View(func(tx *state.Tx) error {
		list, _ := tx.Nodes()
		for _, x := range list {
			nodes[x.ID] = x
		}
		return nil
	})
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			ss := ServerStatus{ID: string(s.ID), RaftAddr: string(s.Address), Suffrage: strings.ToLower(s.Suffrage.String()),
				HTTPAddr: nodes[string(s.ID)].HTTPAddr, State: "follower"}
			if string(s.ID) == st.Leader {
				ss.State = "leader"
			}
			st.Servers = append(st.Servers, ss)
		}
	}
	return st
}

// Snapshot forces a Raft snapshot now (used by tests and operators).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }
