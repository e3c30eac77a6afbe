package server

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/livestreams/livestreams/controlplane/events"
	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/shared/config"
	"github.com/livestreams/livestreams/shared/objstore"
)

// Command runs `livestreams control`: it parses flags (with LIVESTREAMS_*
// environment equivalents), starts the node and serves until ctx ends.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := config.NewFlagSet("control", "Run a control-plane node (Raft member, /v1 API, edge endpoint).", stderr)
	var cfg Config
	fs.StringVar(&cfg.NodeID, "node-id", hostname(), "unique id of this node in the cluster")
	config.PathVar(fs, &cfg.DataDir, "data-dir", "", "directory for the Raft log, snapshots and state (required)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", ":8080", "listen address of the REST API and dashboard")
	fs.StringVar(&cfg.RaftAddr, "raft-addr", "127.0.0.1:7000", "listen address of Raft (TCP)")
	fs.StringVar(&cfg.QUICAddr, "quic-addr", ":7443", "listen address for edges (QUIC over UDP); empty disables")
	fs.StringVar(&cfg.AdvertiseHost, "advertise-addr", "", "host or IP other nodes and edges reach this node by (default: the listen host, or 127.0.0.1)")
	fs.BoolVar(&cfg.Bootstrap, "bootstrap", false, "start a new cluster with this node as its first member")
	fs.StringVar(&cfg.Join, "join", "", "HTTP address of an existing node to join (e.g. http://10.0.0.1:8080)")
	fs.StringVar(&cfg.ClusterKey, "cluster-key", "", "shared secret of the control-plane nodes (generated and printed on --bootstrap if empty)")
	proxies := fs.String("trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is trusted")
	rotateKeyring := fs.Bool("rotate-keyring", false, "add a new key to DATA_DIR/keyring.json that seals from now on, print what to do next, and exit")
	cors := fs.String("cors-origins", "*", "comma-separated origins allowed by CORS")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "base URL clients reach the API by, e.g. https://api.example.com (default: the request host)")
	fs.StringVar(&cfg.GossipAddr, "gossip-addr", "", "join the edges' gossip as an observer on this address, e.g. 0.0.0.0:7946 (empty: routing uses edge leases only)")
	gossipJoin := fs.String("gossip-join", "", "comma-separated gossip addresses of edges to join through")
	fs.StringVar(&cfg.GossipKey, "gossip-key", "", "the fleet's gossip encryption key (16, 24 or 32 bytes, base64 or hex); a comma-separated list during a rotation: the first encrypts, all decrypt")
	fs.DurationVar(&cfg.GossipProbeInterval, "gossip-probe-interval", 500*time.Millisecond, "how often gossip probes a peer; a dead edge is noticed after about 4 of these")
	config.PathVar(fs, &cfg.GeoIPDB, "geoip-db", "", "GeoLite2/GeoIP2 City .mmdb file for routing to the nearest edge (reloaded when it changes); empty routes by region and load")
	fs.BoolVar(&cfg.AllowSignup, "allow-signup", false, "let anyone sign up and create an org (otherwise admins create users)")
	fs.BoolVar(&cfg.WebhookAllowPrivate, "webhook-allow-private", false, "let webhook endpoints be on loopback, private, link-local and metadata addresses (refused by default: SSRF)")
	var store objstore.Flags
	store.Register(fs)
	var oauthFlags oauth.Flags
	oauthFlags.Register(fs)
	fs.DurationVar(&cfg.JobLeaseTTL, "job-lease-ttl", 0, "how long an edge holds a media job without renewing it (default 30s)")
	fs.Int64Var(&cfg.MaxUploadBytes, "max-upload-bytes", 0, "largest VOD upload accepted, in bytes (default 10 GiB)")
	fs.DurationVar(&cfg.EventRetention, "event-retention", events.DefaultRetention, "how long each org's events are kept (a Go duration, e.g. 168h)")
	fs.Uint64Var(&cfg.EventRetentionMax, "event-retention-max", events.DefaultRetentionMax, "most events kept per org (0: no count bound)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := config.Parse(fs, args, nil); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	if *rotateKeyring {
		return RotateKeyring(cfg.DataDir, stdout, stderr)
	}
	logger, err := config.NewLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	cfg.Logger, cfg.Out = logger, stdout
	if cfg.TrustedProxies, err = ParsePrefixes(*proxies); err != nil {
		fmt.Fprintln(stderr, "Error:", config.Fail("trusted-proxies", err.Error()))
		return 2
	}
	cfg.CORSOrigins = config.SplitList(*cors)
	if cfg.OAuth, err = oauthFlags.Config(cfg.PublicURL); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	cfg.GossipJoin = config.SplitList(*gossipJoin)
	if cfg.ClusterKey == "" && cfg.Bootstrap {
		if cfg.ClusterKey, err = LoadOrCreateClusterKey(cfg.DataDir, stdout); err != nil {
			fmt.Fprintln(stderr, "Error:", err)
			return 1
		}
	}
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + advertise(cfg.HTTPAddr, cfg.AdvertiseHost)
	}
	if cfg.ObjectStore, err = store.Open(ctx, base, logger); err != nil {
		fmt.Fprintln(stderr, "Error:", config.Fail("object-store", err.Error()))
		return 2
	}
	if cfg.ObjectStore != nil {
		defer cfg.ObjectStore.Close()
	}
	srv, err := New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	fmt.Fprintf(stdout, "control plane %s: API %s\n", cfg.NodeID, srv.URL())
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}

// ParsePrefixes parses a comma-separated list of CIDRs or IPs.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range config.SplitList(s) {
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an IP", part)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
