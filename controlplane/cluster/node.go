// Package cluster is one control-plane node's membership in the Raft group:
// it starts hashicorp/raft over a bbolt log and the state machine, bootstraps
// or joins, forwards writes to the leader so callers never see "not leader",
// and serves leader-confirmed reads. It knows nothing of the REST API.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/state"
)

// Config configures a node.
type Config struct {
	NodeID  string
	DataDir string
	// RaftAddr is the address Raft listens on; RaftAdvertise is what peers
	// dial (defaults to RaftAddr, which must then be a routable host:port).
	RaftAddr      string
	RaftAdvertise string
	// HTTPAdvertise is the base URL (http://host:port) where this node's
	// internal endpoints are reachable by the other nodes.
	HTTPAdvertise string
	QUICAdvertise string
	Bootstrap     bool
	// ClusterKey authenticates node-to-node calls (join, forwarded writes).
	ClusterKey string
	// Keyring opens the state's sealed secrets for readers; it is handed
	// to joining nodes in the answer to their (cluster-key authenticated)
	// join, and one that joins with an empty keyring saves what it gets
	// in DataDir. Nil: no keyring.
	Keyring *keyring.Keyring
	Logger  *slog.Logger

	// Raft timing; zero values take the defaults below, tuned so a dead
	// leader is replaced in about a second on a LAN.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration
}

// Node is a running control-plane Raft member.
type Node struct {
	cfg       Config
	log       *slog.Logger
	raft      *raft.Raft
	fsm       *fsm.FSM
	store     *state.Store
	logStore  *raftboltdb.BoltStore
	transport *raft.NetworkTransport
	client    *http.Client
	metrics   applyMetrics // metrics.go
	// ephemeralFn receives the messages other nodes broadcast (events.go).
	ephemeralFn atomic.Pointer[func([]byte)]

	closeOnce sync.Once
	stop      chan struct{}
	wg        sync.WaitGroup
}

// ErrNoLeader is returned when no leader emerged before the deadline.
var ErrNoLeader = errors.New("no raft leader")

// Open starts the node. A node with existing data resumes its cluster; a
// new node bootstraps a one-member cluster when cfg.Bootstrap is set and
// otherwise waits to be added by Join.
func Open(cfg Config) (*Node, error) {
	if cfg.NodeID == "" {
		return nil, errors.New("cluster: node id is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.RaftAdvertise == "" {
		cfg.RaftAdvertise = cfg.RaftAddr
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("node_id", cfg.NodeID), stop: make(chan struct{}), metrics: newApplyMetrics(),
		client: &http.Client{Timeout: 10 * time.Second}}

	var err error
	n.store, err = state.Open(filepath.Join(cfg.DataDir, "state.db"))
	if err != nil {
		return nil, err
	}
	n.store.SetKeyring(cfg.Keyring)
	n.fsm = fsm.New(n.store, n.log)
	// The log is appended to and truncated all day: without
	// NoFreelistSync every commit (one per Raft batch) also writes bbolt's
	// whole freelist, which grows with the truncations. It is rebuilt from
	// the pages when the file opens instead, as etcd does.
	n.logStore, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db"),
		BoltOptions: &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true}})
	if err != nil {
		n.store.Close()
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{n.log}})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.DataDir, "snapshots"), 3, hlog)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	adv, err := net.ResolveTCPAddr("tcp", cfg.RaftAdvertise)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("raft advertise address %q: %w", cfg.RaftAdvertise, err)
	}
	n.transport, err = raft.NewTCPTransportWithLogger(cfg.RaftAddr, adv, 3, 5*time.Second, hlog)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("listen raft on %s: %w", cfg.RaftAddr, err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	// Followers start an election after 0.5-1 s without a heartbeat, which
	// keeps failover well under 3 s. The leader keeps its lease as long as
	// that: a shorter lease made a CPU-starved leader (a busy 2-core VPS)
	// step down while its followers still considered it alive.
	rc.HeartbeatTimeout = orDefault(cfg.HeartbeatTimeout, 500*time.Millisecond)
	rc.ElectionTimeout = orDefault(cfg.ElectionTimeout, 500*time.Millisecond)
	rc.LeaderLeaseTimeout = orDefault(cfg.LeaderLeaseTimeout, 500*time.Millisecond)
	rc.CommitTimeout = 20 * time.Millisecond
	// Writes that arrive together go to the log, the followers and the
	// state machine together (one fsync each per batch, see fsm.ApplyBatch).
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
		rc.TrailingLogs = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}

	if cfg.Bootstrap {
		has, err := raft.HasExistingState(n.logStore, n.logStore, snaps)
		if err != nil {
			n.closeStores()
			return nil, fmt.Errorf("inspect raft state: %w", err)
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: n.transport.LocalAddr()}}}
			if err := raft.BootstrapCluster(rc, n.logStore, n.logStore, snaps, n.transport, conf); err != nil {
				n.closeStores()
				return nil, fmt.Errorf("bootstrap raft: %w", err)
			}
		}
	}
	n.raft, err = raft.NewRaft(rc, n.fsm, n.logStore, n.logStore, snaps, n.transport)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	n.wg.Add(1)
	go n.registerSelf()
	return n, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (n *Node) closeStores() {
	if n.transport != nil {
		n.transport.Close()
	}
	if n.logStore != nil {
		n.logStore.Close()
	}
	n.store.Close()
}

// Close shuts the node down (it stays a member; see Remove to leave).
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		close(n.stop)
		n.wg.Wait()
		err = n.raft.Shutdown().Error()
		n.transport.Close()
		n.logStore.Close()
		n.store.Close()
	})
	return err
}

// ID returns the node id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Store returns the local state store, for reads.
func (n *Node) Store() *state.Store { return n.store }

// IsLeader reports whether this node is the Raft leader now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderID returns the id of the current leader, or "".
func (n *Node) LeaderID() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// LeaderCh reports leadership changes (see raft.LeaderCh; one consumer only).
func (n *Node) LeaderCh() <-chan bool { return n.raft.LeaderCh() }

// WaitLeader blocks until some node is leader or ctx ends.
func (n *Node) WaitLeader(ctx context.Context) error {
	return poll(ctx, 20*time.Millisecond, func() bool { return n.LeaderID() != "" })
}

// registerSelf keeps this node's addresses in the replicated nodes table so
// others can forward to it; it retries until it succeeds or the node closes.
func (n *Node) registerSelf() {
	defer n.wg.Done()
	self := state.Node{ID: n.cfg.NodeID, RaftAddr: string(n.transport.LocalAddr()),
		HTTPAddr: n.cfg.HTTPAdvertise, QUICAddr: n.cfg.QUICAdvertise}
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		go func() {
			select {
			case <-n.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		var cur state.Node
		var ok bool
		n.store.View(func(tx *state.Tx) error { cur, ok, _ = tx.Node(self.ID); return nil })
		if ok && cur.RaftAddr == self.RaftAddr && cur.HTTPAddr == self.HTTPAddr && cur.QUICAddr == self.QUICAddr {
			cancel()
			return
		}
		// Only a member of the configuration may register.
		if n.isVoter() {
			self.JoinedAt = time.Now().UTC()
			_, err := n.Apply(ctx, fsm.CmdPutNode, self)
			if err == nil {
				cancel()
				return
			}
			if attempt%20 == 5 {
				n.log.Warn("register node in cluster", "err", err)
			}
		}
		cancel()
		select {
		case <-n.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (n *Node) isVoter() bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(n.cfg.NodeID) {
			return true
		}
	}
	return false
}

// Apply proposes a command and returns its result value. On a follower the
// command is forwarded to the leader; during an election it waits for one
// (bounded by ctx). A refused command comes back as a *state.Error.
func (n *Node) Apply(ctx context.Context, typ string, body any) (json.RawMessage, error) {
	data, err := fsm.Encode(typ, body)
	if err != nil {
		return nil, err
	}
	return n.applyRaw(ctx, data)
}

// ApplyInto is Apply that decodes the result value into out.
func (n *Node) ApplyInto(ctx context.Context, typ string, body, out any) error {
	raw, err := n.Apply(ctx, typ, body)
	if err != nil || out == nil || len(raw) == 0 {
		return err
	}
	return json.Unmarshal(raw, out)
}

func (n *Node) applyRaw(ctx context.Context, data []byte) (json.RawMessage, error) {
	start, committed := time.Now(), false
	defer func() { n.metrics.observe(start, committed) }()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	for {
		var res fsm.Result
		var err error
		if n.IsLeader() {
			res, err = n.applyLocal(ctx, data)
		} else {
			res, err = n.forwardApply(ctx, data)
		}
		if err == nil {
			committed = true
			if res.Err != nil {
				return nil, res.Err
			}
			return res.Value, nil
		}
		if !errors.Is(err, errRetry) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("apply: %w (%v)", ErrNoLeader, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// errRetry marks failures that certainly did not commit the command, so
// trying again (at the next leader) cannot apply it twice.
var errRetry = errors.New("retry")

func (n *Node) applyLocal(ctx context.Context, data []byte) (fsm.Result, error) {
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := n.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) {
			return fsm.Result{}, errRetry
		}
		// ErrLeadershipLost and friends: the entry may or may not commit.
		return fsm.Result{}, fmt.Errorf("apply: outcome unknown: %w", err)
	}
	res, _ := f.Response().(fsm.Result)
	return res, nil
}

// AppliedIndex is the index of the last entry applied to the local state.
func (n *Node) AppliedIndex() uint64 { return n.raft.AppliedIndex() }

// ConsistentRead makes the next local read reflect every write acknowledged
// before it began: the leader confirms it still leads, and this node waits
// until it has applied up to the leader's log index at that moment.
func (n *Node) ConsistentRead(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	for {
		var idx uint64
		var err error
		if n.IsLeader() {
			idx, err = n.readIndex(ctx)
		} else {
			idx, err = n.forwardReadIndex(ctx)
		}
		if err == nil {
			return poll(ctx, time.Millisecond, func() bool { return n.fsm.Applied() >= idx })
		}
		if !errors.Is(err, errRetry) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("consistent read: %w", ErrNoLeader)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readIndex is the ReadIndex step of a linearizable read, run on the leader.
// It returns the index of the last state-changing entry a read must see.
func (n *Node) readIndex(ctx context.Context) (uint64, error) {
	// LastIndex is at least the commit index and includes the no-op a new
	// leader appends, so once it is applied every write acknowledged by any
	// earlier leader is too.
	last := n.raft.LastIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, errRetry
	}
	if err := poll(ctx, time.Millisecond, func() bool { return n.raft.AppliedIndex() >= last }); err != nil {
		return 0, errRetry
	}
	return n.lastStateEntry(last), nil
}

// lastStateEntry finds the newest entry at or below upTo that reaches the
// FSM (commands and configuration changes; no-ops and barriers do not), so
// readers wait on an index their own FSM will actually report.
func (n *Node) lastStateEntry(upTo uint64) uint64 {
	for i := upTo; i > 0 && upTo-i < 4096; i-- {
		var l raft.Log
		if err := n.logStore.GetLog(i, &l); err != nil {
			break // compacted: the snapshot holds it
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return i
		}
	}
	return n.fsm.Applied()
}

func poll(ctx context.Context, every time.Duration, cond func() bool) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// slogWriter lets hclog (raft's logger) write into our slog logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(string(trimNL(p)), "component", "raft")
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
