// Package server runs one control-plane node: the Raft member, the HTTP
// listener (the /v1 API, the node-to-node endpoints), the QUIC listener for
// edges, and the duties only the leader performs. It owns their lifetimes;
// the behaviour lives in the packages it wires together.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/livestreams/livestreams/controlplane/analytics"
	"github.com/livestreams/livestreams/controlplane/api/auth"
	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/directupload"
	"github.com/livestreams/livestreams/controlplane/events"
	"github.com/livestreams/livestreams/controlplane/fleet"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/webhooks"
	"github.com/livestreams/livestreams/shared/geoip"
	"github.com/livestreams/livestreams/shared/gossip"
	"github.com/livestreams/livestreams/shared/objstore"
)

// Config configures a control-plane node.
type Config struct {
	NodeID   string
	DataDir  string
	HTTPAddr string // listen address of the API, e.g. ":8080"
	RaftAddr string // listen address of Raft, e.g. ":7000"
	QUICAddr string // listen address for edges (UDP), e.g. ":7443"; "" disables
	// AdvertiseHost is the host other nodes and edges reach this one by;
	// defaults to the host of the listen addresses, or 127.0.0.1.
	AdvertiseHost  string
	Bootstrap      bool
	Join           string // HTTP base URL of an existing node
	ClusterKey     string
	TrustedProxies []netip.Prefix
	CORSOrigins    []string
	AllowSignup    bool
	// PublicURL is the base URL clients reach the API by (playback URLs are
	// built from it); empty means the request's own scheme and host.
	PublicURL string
	Logger    *slog.Logger
	// Out receives the lines meant for the operator (setup token, URLs).
	Out io.Writer
	// GossipAddr, when set, joins the edge fleet's gossip (encrypted with
	// GossipKey) as an observer, seeded by GossipJoin (edge addresses).
	GossipAddr          string
	GossipJoin          []string
	GossipKey           string
	GossipProbeInterval time.Duration // tests; zero is memberlist's default
	// GeoIPDB is a GeoLite2/GeoIP2 City database for routing viewers and
	// creators to the nearest edge; "" routes by region and load only.
	GeoIPDB string
	// EdgeLeaseTTL is how long an edge may stay silent before its sessions
	// are closed; zero means the edgeapi default (10 s).
	EdgeLeaseTTL time.Duration
	// Raft tuning (tests); zero means the cluster package defaults.
	SnapshotThreshold uint64
	// ObjectStore holds recordings, uploads and VOD renditions; nil turns
	// uploads and clips off (recordings then stay on the edges). A Local
	// store is also served at /objects/ for its presigned URLs. The caller
	// closes it after Run.
	ObjectStore objstore.Store
	// JobLeaseTTL is how long an edge holds a media job without renewing
	// it; zero means the jobs package default (30 s).
	JobLeaseTTL time.Duration
	// MaxUploadBytes bounds VOD uploads; zero means the API default.
	MaxUploadBytes int64
	// OAuth is the YouTube and Twitch account linking (apps, provider
	// URLs); no client ids turns it off. An empty PublicURL redirects to
	// the node's own URL.
	OAuth oauth.Config
	// EventRetention and EventRetentionMax bound each org's event log:
	// events older than the first and beyond the count of the second are
	// pruned by the leader (events.DefaultRetention if zero; 0 max: none).
	EventRetention    time.Duration
	EventRetentionMax uint64
	// WebhookAllowPrivate lets webhook endpoints be on loopback, private
	// and link-local addresses (a developer's receiver, tests).
	WebhookAllowPrivate bool
	// WebhookBackoff is the webhook retry policy (tests); zero means
	// webhooks.DefaultBackoff.
	WebhookBackoff webhooks.Backoff
}

// Server is a running control-plane node.
type Server struct {
	cfg  Config
	log  *slog.Logger
	node *cluster.Node
	http *http.Server
	hln  net.Listener
	// Handler serves the public API; set by New from the api package.
	handler http.Handler
	// metrics is the node's Prometheus registry, served by the API at
	// /metrics (wiring.go).
	metrics *prometheus.Registry

	quicConn net.PacketConn
	quicAddr string
	geoip    *geoip.Resolver
	fleet    *fleet.Fleet
	jobs     *jobs.Service
	gossip   *gossip.Node
	// events fans the event log out (events.go); tails keeps running
	// jobs' output.
	events   *events.Hub
	tails    *events.Tails
	progress *progressRelay
	// keyring seals the state's secrets (keyring.go); keyringSeen is the
	// version of its file last loaded (leader loop only).
	keyring     *keyring.Keyring
	keyringSeen keyringStamp

	mu         sync.Mutex
	setupToken string // plaintext of the setup token this process printed
	wg         sync.WaitGroup
}

// New validates cfg, opens the Raft node and binds the listeners, so that
// the addresses are known (and port clashes reported) before Run.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "control")}
	hln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen http on %s: %w", cfg.HTTPAddr, err)
	}
	s.hln = hln
	if cfg.QUICAddr != "" {
		if s.quicConn, err = net.ListenPacket("udp", cfg.QUICAddr); err != nil {
			hln.Close()
			return nil, fmt.Errorf("listen quic on %s: %w", cfg.QUICAddr, err)
		}
		s.quicAddr = advertise(s.quicConn.LocalAddr().String(), cfg.AdvertiseHost)
	}
	raftAddr, err := resolveListen(cfg.RaftAddr)
	if err != nil {
		hln.Close()
		return nil, err
	}
	if s.keyring, err = openKeyring(cfg); err != nil {
		hln.Close()
		if s.quicConn != nil {
			s.quicConn.Close()
		}
		return nil, err
	}
	host := cfg.AdvertiseHost
	s.node, err = cluster.Open(cluster.Config{
		NodeID:            cfg.NodeID,
		DataDir:           cfg.DataDir,
		RaftAddr:          raftAddr,
		RaftAdvertise:     advertise(raftAddr, host),
		HTTPAdvertise:     "http://" + advertise(hln.Addr().String(), host),
		QUICAdvertise:     s.quicAddr,
		Bootstrap:         cfg.Bootstrap,
		ClusterKey:        cfg.ClusterKey,
		Keyring:           s.keyring,
		Logger:            cfg.Logger,
		SnapshotThreshold: cfg.SnapshotThreshold,
	})
	if err != nil {
		hln.Close()
		if s.quicConn != nil {
			s.quicConn.Close()
		}
		return nil, err
	}
	if s.geoip, err = geoip.Open(cfg.GeoIPDB, cfg.Logger); err != nil {
		hln.Close()
		if s.quicConn != nil {
			s.quicConn.Close()
		}
		s.node.Close()
		return nil, fmt.Errorf("--geoip-db: %w", err)
	}
	if err := s.startGossip(); err != nil {
		hln.Close()
		if s.quicConn != nil {
			s.quicConn.Close()
		}
		s.node.Close()
		return nil, fmt.Errorf("--gossip-addr: %w", err)
	}
	fc := fleet.Config{Store: s.node.Store(), GeoIP: s.geoip}
	if s.gossip != nil {
		fc.Members = gossipMembers{s.gossip}
	}
	s.fleet = fleet.New(fc)
	if s.jobs, err = jobs.New(jobs.Config{Node: s.node, LeaseTTL: cfg.JobLeaseTTL, Logger: cfg.Logger}); err != nil {
		hln.Close()
		if s.quicConn != nil {
			s.quicConn.Close()
		}
		s.node.Close()
		return nil, err
	}
	s.startEvents()
	s.handler = s.buildHandler()
	return s, nil
}

func validate(cfg *Config) error {
	if cfg.NodeID == "" {
		return errors.New("--node-id (LIVESTREAMS_NODE_ID): required, e.g. cp1")
	}
	if cfg.DataDir == "" {
		return errors.New("--data-dir (LIVESTREAMS_DATA_DIR): required")
	}
	if cfg.Bootstrap && cfg.Join != "" {
		return errors.New("--bootstrap and --join are exclusive: bootstrap the first node, join the others to it")
	}
	if cfg.Join != "" && cfg.ClusterKey == "" {
		return errors.New("--cluster-key (LIVESTREAMS_CLUSTER_KEY): required to join a cluster; use the key the first node printed")
	}
	if cfg.Join != "" && !strings.HasPrefix(cfg.Join, "http://") && !strings.HasPrefix(cfg.Join, "https://") {
		cfg.Join = "http://" + cfg.Join
	}
	return nil
}

// resolveListen turns ":0"-style addresses into concrete loopback ones,
// because Raft must advertise a dialable address.
func resolveListen(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--raft-addr %q: %w", addr, err)
	}
	if port == "0" {
		ln, err := net.Listen("tcp", net.JoinHostPort(orLoopback(host), "0"))
		if err != nil {
			return "", err
		}
		port = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
	}
	return net.JoinHostPort(host, port), nil
}

func orLoopback(h string) string {
	if h == "" || h == "0.0.0.0" || h == "::" {
		return "127.0.0.1"
	}
	return h
}

// advertise replaces an unspecified listen host with the advertised one.
func advertise(listen, host string) string {
	h, p, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" {
		host = orLoopback(h)
	}
	if ip, err := netip.ParseAddr(h); err == nil && !ip.IsUnspecified() && host == orLoopback("") {
		host = h
	}
	return net.JoinHostPort(host, p)
}

// Node returns the Raft member.
func (s *Server) Node() *cluster.Node { return s.node }

// URL returns the base URL of the HTTP API.
func (s *Server) URL() string {
	return "http://" + advertise(s.hln.Addr().String(), s.cfg.AdvertiseHost)
}

// Handler returns the HTTP handler (for in-process tests).
func (s *Server) Handler() http.Handler { return s.handler }

// SetupToken returns the setup token this process issued, if any.
func (s *Server) SetupToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setupToken
}

// Run serves until ctx ends, then shuts everything down.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.http = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 4)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(s.hln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	if s.cfg.Join != "" {
		jctx, jcancel := context.WithTimeout(ctx, 2*time.Minute)
		err := s.node.Join(jctx, s.cfg.Join)
		jcancel()
		if err != nil {
			s.shutdown()
			return err
		}
		s.log.Info("joined cluster", "via", s.cfg.Join)
	}
	if s.cfg.Bootstrap {
		if err := s.initCluster(ctx); err != nil {
			s.shutdown()
			return err
		}
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.leaderLoop(ctx) }()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.runEvents(ctx) }()
	go func() { defer s.wg.Done(); s.geoip.Watch(ctx) }()
	go func() {
		defer s.wg.Done()
		jobs.NewReaper(jobs.ReaperConfig{Node: s.node, Logger: s.cfg.Logger}).Run(ctx)
	}()
	hooks := webhooks.New(webhooks.Config{Node: s.node, AllowPrivate: s.cfg.WebhookAllowPrivate,
		Backoff: s.cfg.WebhookBackoff, Logger: s.cfg.Logger})
	s.metrics.MustRegister(hooks.Collectors()...)
	s.wg.Add(1)
	go func() { defer s.wg.Done(); hooks.Run(ctx) }()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		analytics.New(analytics.Config{Node: s.node, Logger: s.cfg.Logger}).RunCompactor(ctx)
	}()
	if s.cfg.ObjectStore != nil {
		// The API's upload URLs and this watcher share one Limits.
		w, err := directupload.NewWatcher(directupload.Config{Node: s.node, Jobs: s.jobs, Store: s.cfg.ObjectStore,
			Limits: s.uploadLimits(), Logger: s.cfg.Logger})
		if err != nil {
			cancel()
			s.shutdown()
			return err
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); w.Run(ctx) }()
	}
	if s.quicConn != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.serveQUIC(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("quic: %w", err)
			}
		}()
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.shutdown()
	return err
}

func (s *Server) shutdown() {
	if s.http != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.http.Shutdown(sctx)
		cancel()
	} else {
		s.hln.Close()
	}
	if s.quicConn != nil {
		s.quicConn.Close()
	}
	s.leaveGossip()
	s.wg.Wait()
	s.node.Close()
}

// initCluster creates the cluster meta the first time a bootstrap node
// leads, and (re)issues a setup token while no owner exists yet.
func (s *Server) initCluster(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.node.WaitLeader(wctx); err != nil {
		return fmt.Errorf("wait for leader: %w", err)
	}
	var meta state.Meta
	var ok bool
	if err := s.node.Store().View(func(tx *state.Tx) error {
		var err error
		meta, ok, err = tx.Meta()
		return err
	}); err != nil {
		return err
	}
	if ok && meta.SetupTokenHash == "" {
		return nil // set up already
	}
	token, hash := auth.NewSetupToken()
	if !ok {
		m, err := newMeta(s.cfg.NodeID)
		if err != nil {
			return err
		}
		m.SetupTokenHash = hash
		if err := sealMeta(s.keyring, &m); err != nil {
			return fmt.Errorf("initialize cluster: %w", err)
		}
		var gotID string
		if err := s.node.ApplyInto(wctx, fsm.CmdInitCluster, fsm.InitCluster{Meta: m}, &gotID); err != nil {
			return fmt.Errorf("initialize cluster: %w", err)
		}
		if gotID != m.ClusterID {
			return nil // another bootstrap won the race
		}
	} else if err := s.node.ApplyInto(wctx, fsm.CmdSetSetupToken, fsm.SetSetupToken{Hash: hash}, nil); err != nil {
		return fmt.Errorf("issue setup token: %w", err)
	}
	s.mu.Lock()
	s.setupToken = token
	s.mu.Unlock()
	fmt.Fprintf(s.cfg.Out, "\nThis cluster has no users yet. Create the first owner with:\n  livestreams bootstrap --addr %s --token %s --email you@example.com --password '...' --org 'My Org'\n(the token works once; restarting this node before using it issues a new one)\n\n", s.URL(), token)
	return nil
}

func newMeta(nodeID string) (state.Meta, error) {
	m := state.Meta{ClusterID: ids.New("cls"), CreatedAt: time.Now().UTC(),
		StreamKeySecret: random(32), SessionSecret: random(32)}
	ca, err := newClusterCA(m.ClusterID)
	if err != nil {
		return m, fmt.Errorf("create cluster CA: %w", err)
	}
	m.CACertPEM, m.CAKeyPEM = ca.CertPEM, ca.KeyPEM
	return m, nil
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
