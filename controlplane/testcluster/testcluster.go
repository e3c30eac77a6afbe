// Package testcluster starts a real N-node control plane on loopback free
// ports for tests, in-process (fast, inspectable), and tears it down with
// t.Cleanup. Multi-process tests that drive the binary live in e2e/. Nomad's
// TestServer and Consul's sdk/testutil are the model: one call, real servers.
package testcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/server"
	"github.com/livestreams/livestreams/shared/testutil"
)

// Options configures a cluster.
type Options struct {
	Nodes int // default 3
	// SnapshotThreshold lowers Raft's snapshot threshold.
	SnapshotThreshold uint64
	// Verbose sends node logs to the test log.
	Verbose bool
	// Configure, when set, edits each node's configuration before it
	// starts (a flag a test needs, such as WebhookAllowPrivate).
	Configure func(*server.Config)
}

// Cluster is a running control plane.
type Cluster struct {
	t       testing.TB
	opts    Options
	Key     string
	Members []*Member
}

// Member is one control-plane node.
type Member struct {
	c        *Cluster
	Index    int
	ID       string
	DataDir  string
	HTTPAddr string
	RaftAddr string

	mu     sync.Mutex
	srv    *server.Server
	cancel context.CancelFunc
	done   chan error
	up     bool
}

// Start launches opts.Nodes nodes: the first bootstraps, the rest join it.
// It returns once every node is a voter and a leader is known.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	c := &Cluster{t: t, opts: opts, Key: "test-cluster-key-" + strconv.Itoa(os.Getpid())}
	base := t.TempDir()
	for i := 0; i < opts.Nodes; i++ {
		m := &Member{c: c, Index: i, ID: fmt.Sprintf("cp%d", i+1), DataDir: filepath.Join(base, fmt.Sprintf("cp%d", i+1)),
			HTTPAddr: testutil.FreeAddr(t), RaftAddr: testutil.FreeAddr(t)}
		c.Members = append(c.Members, m)
	}
	t.Cleanup(c.Stop)
	for _, m := range c.Members {
		m.Start()
	}
	c.WaitVoters(opts.Nodes, 30*time.Second)
	return c
}

// AddMember starts one more node that joins the cluster.
func (c *Cluster) AddMember() *Member {
	c.t.Helper()
	i := len(c.Members)
	m := &Member{c: c, Index: i, ID: fmt.Sprintf("cp%d", i+1), DataDir: filepath.Join(c.t.TempDir(), fmt.Sprintf("cp%d", i+1)),
		HTTPAddr: testutil.FreeAddr(c.t), RaftAddr: testutil.FreeAddr(c.t)}
	c.Members = append(c.Members, m)
	m.Start()
	return m
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for _, m := range c.Members {
		m.Kill()
	}
}

// URL returns the member's API base URL.
func (m *Member) URL() string { return "http://" + m.HTTPAddr }

// Client returns a /v1 client of every member acting with token: a
// request goes to the next member when one is down, as the CLI's do.
func (c *Cluster) Client(token string) *client.Client {
	c.t.Helper()
	addrs := make([]string, 0, len(c.Members))
	for _, m := range c.Members {
		addrs = append(addrs, m.URL())
	}
	cl, err := client.New(client.Config{Addrs: addrs, Token: token, Timeout: 10 * time.Second, UserAgent: "livestreams-testcluster"})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// Client returns a /v1 client of this member alone acting with token.
func (m *Member) Client(token string) *client.Client {
	m.c.t.Helper()
	cl, err := client.New(client.Config{Addrs: []string{m.URL()}, Token: token, Timeout: 10 * time.Second, UserAgent: "livestreams-testcluster"})
	if err != nil {
		m.c.t.Fatal(err)
	}
	return cl
}

// Server returns the member's server (nil when down).
func (m *Member) Server() *server.Server {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.srv
}

// Up reports whether the member is running.
func (m *Member) Up() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.up
}

// Start (re)starts the member from its data dir.
func (m *Member) Start() {
	t := m.c.t
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.up {
		return
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if m.c.opts.Verbose {
		logger = slog.New(slog.NewTextHandler(testutil.LogWriter(t, ""), &slog.HandlerOptions{Level: slog.LevelInfo})).With("member", m.ID)
	}
	cfg := server.Config{NodeID: m.ID, DataDir: m.DataDir, HTTPAddr: m.HTTPAddr, RaftAddr: m.RaftAddr,
		ClusterKey: m.c.Key, Logger: logger, SnapshotThreshold: m.c.opts.SnapshotThreshold, AllowSignup: true}
	if m.Index == 0 {
		cfg.Bootstrap = true
	} else {
		cfg.Join = m.c.Members[0].URL()
	}
	if m.c.opts.Configure != nil {
		m.c.opts.Configure(&cfg)
	}
	var srv *server.Server
	var err error
	// The ports were free a moment ago; retry briefly if something raced us.
	for i := 0; i < 20; i++ {
		if srv, err = server.New(cfg); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("start %s: %v", m.ID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.srv, m.cancel, m.done, m.up = srv, cancel, make(chan error, 1), true
	go func() { m.done <- srv.Run(ctx) }()
}

// Kill stops the member abruptly: Raft and its listeners stop without
// leaving the cluster.
func (m *Member) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.up {
		return
	}
	m.up = false
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		m.c.t.Errorf("%s did not stop within 20s", m.ID)
	}
	m.srv = nil
}

// Leader polls until a member that is up reports itself leader.
func (c *Cluster) Leader(timeout time.Duration) *Member {
	c.t.Helper()
	var found *Member
	testutil.EventuallyEvery(c.t, timeout, 20*time.Millisecond, "a leader", func() bool {
		for _, m := range c.Members {
			if !m.Up() {
				continue
			}
			st, err := m.Status()
			if err == nil && st.State == "leader" {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// WaitVoters polls until the leader's configuration has n voters that all
// registered their addresses.
func (c *Cluster) WaitVoters(n int, timeout time.Duration) {
	c.t.Helper()
	testutil.UntilEvery(c.t, timeout, 50*time.Millisecond, fmt.Sprintf("%d voters", n), func() error {
		for _, m := range c.Members {
			if !m.Up() {
				continue
			}
			st, err := m.Status()
			if err != nil || st.State != "leader" {
				continue
			}
			voters := 0
			for _, s := range st.Servers {
				if s.Suffrage == "voter" && s.HTTPAddr != "" {
					voters++
				}
			}
			if voters < n {
				return fmt.Errorf("leader's status %+v", st)
			}
			return nil
		}
		return errors.New("no leader")
	})
}
