package gossip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a Node.
type Config struct {
	NodeID string
	Role   Role
	// BindAddr is the IP and port for gossip over UDP and TCP, such as
	// "0.0.0.0:7946"; port 0 picks a free one.
	BindAddr string
	// AdvertiseAddr is the address peers reach this node at, when it is
	// not the bound one (NAT, 0.0.0.0). Optional.
	AdvertiseAddr string
	// Join lists seed addresses (host:port). Joining runs in the
	// background, retrying with backoff until a seed answers, and again
	// whenever the node finds itself alone, so an edge may start before
	// its seeds.
	Join []string
	// Key is the AES key (16, 24 or 32 bytes) every message is encrypted
	// and authenticated with; a node with another key can neither join
	// nor read. Required.
	Key []byte
	// SecondaryKeys are further keys accepted for decryption, never used
	// to encrypt: the keyring of a rolling key rotation (add the new key
	// as secondary everywhere, make it primary everywhere, then drop the
	// old one). Optional.
	SecondaryKeys [][]byte
	Logger        *slog.Logger // nil discards

	// Tuning; zero means memberlist's LAN default, in parentheses. Tests
	// shorten these to detect deaths in about a second.
	ProbeInterval           time.Duration // (1 s)
	ProbeTimeout            time.Duration // (500 ms)
	SuspicionMult           int           // (4)
	SuspicionMaxTimeoutMult int           // (6)
	GossipInterval          time.Duration // (200 ms)
	PushPullInterval        time.Duration // (30 s)
	TCPTimeout              time.Duration // (10 s)
	// JoinRetryMin and JoinRetryMax bound the backoff between join
	// attempts (1 s, 30 s).
	JoinRetryMin, JoinRetryMax time.Duration
	// DeadRetention is how long a dead or left member is still listed by
	// Members (5 min), so that routers can tell it from one never seen.
	DeadRetention time.Duration
}

const (
	defaultJoinRetryMin  = time.Second
	defaultJoinRetryMax  = 30 * time.Second
	defaultDeadRetention = 5 * time.Minute
	defaultLeaveTimeout  = 5 * time.Second

	// maxBroadcastLen is the largest record sent by gossip; larger ones
	// go over TCP. A gossip packet is 1400 bytes, less encryption and
	// framing, shared with memberlist's own messages.
	maxBroadcastLen = 1000
)

func (c *Config) check() error {
	if c.NodeID == "" {
		return errors.New("node id required")
	}
	if err := checkString(c.NodeID, maxIDLen); err != nil {
		return fmt.Errorf("node id: %w", err)
	}
	if _, ok := roleCode(c.Role); !ok {
		return fmt.Errorf("role %q: want %q or %q", c.Role, RoleEdge, RoleControl)
	}
	if _, _, err := splitAddr(c.BindAddr); err != nil {
		return fmt.Errorf("bind address: %w", err)
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := splitAddr(c.AdvertiseAddr); err != nil {
			return fmt.Errorf("advertise address: %w", err)
		}
	}
	for _, s := range c.Join {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("seed %q: want host:port", s)
		}
	}
	if err := checkKeyLen(len(c.Key)); err != nil {
		return err
	}
	for i, k := range c.SecondaryKeys {
		if err := checkKeyLen(len(k)); err != nil {
			return fmt.Errorf("secondary key %d: %w", i+1, err)
		}
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	lan := memberlist.DefaultLANConfig()
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ProbeInterval, lan.ProbeInterval)
	def(&c.ProbeTimeout, lan.ProbeTimeout)
	def(&c.GossipInterval, lan.GossipInterval)
	def(&c.PushPullInterval, lan.PushPullInterval)
	def(&c.TCPTimeout, lan.TCPTimeout)
	def(&c.JoinRetryMin, defaultJoinRetryMin)
	def(&c.JoinRetryMax, defaultJoinRetryMax)
	def(&c.DeadRetention, defaultDeadRetention)
	if c.SuspicionMult <= 0 {
		c.SuspicionMult = lan.SuspicionMult
	}
	if c.SuspicionMaxTimeoutMult <= 0 {
		c.SuspicionMaxTimeoutMult = lan.SuspicionMaxTimeoutMult
	}
	c.JoinRetryMax = max(c.JoinRetryMax, c.JoinRetryMin)
}

func (n *Node) memberlistConfig() *memberlist.Config {
	c := n.cfg
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.NodeID
	mc.BindAddr, mc.BindPort, _ = splitAddr(c.BindAddr)
	mc.AdvertisePort = mc.BindPort
	if c.AdvertiseAddr != "" {
		mc.AdvertiseAddr, mc.AdvertisePort, _ = splitAddr(c.AdvertiseAddr)
	}
	mc.SecretKey = slices.Clone(c.Key)
	if len(c.SecondaryKeys) > 0 {
		// Validated in check: NewKeyring only fails on key lengths.
		mc.Keyring, _ = memberlist.NewKeyring(c.SecondaryKeys, slices.Clone(c.Key))
	}
	mc.ProbeInterval = c.ProbeInterval
	mc.ProbeTimeout = c.ProbeTimeout
	mc.SuspicionMult = c.SuspicionMult
	mc.SuspicionMaxTimeoutMult = c.SuspicionMaxTimeoutMult
	mc.GossipInterval = c.GossipInterval
	mc.PushPullInterval = c.PushPullInterval
	mc.TCPTimeout = c.TCPTimeout
	mc.Delegate = delegate{n}
	mc.Events = delegate{n}
	mc.Logger = log.New(logWriter{n.log}, "", 0)
	return mc
}

// splitAddr splits an "ip:port" address; memberlist binds IPs, not names.
func splitAddr(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%q: want ip:port", s)
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("%q: %q is not an IP address", s, host)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > math.MaxUint16 {
		return "", 0, fmt.Errorf("%q: bad port", s)
	}
	return host, port, nil
}

// logWriter turns memberlist's log lines ("[WARN] memberlist: ...") into
// debug records: memberlist reports every lost UDP packet and refused
// connection, which is routine in a fleet; what matters reaches our own
// logs as joins, leaves and deaths.
type logWriter struct{ log *slog.Logger }

var _ io.Writer = logWriter{}

func (w logWriter) Write(p []byte) (int, error) {
	if !w.log.Enabled(context.Background(), slog.LevelDebug) {
		return len(p), nil
	}
	line := strings.TrimSpace(string(p))
	level := ""
	if strings.HasPrefix(line, "[") {
		if i := strings.IndexByte(line, ']'); i > 0 {
			level, line = line[1:i], strings.TrimSpace(line[i+1:])
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	w.log.Debug("memberlist", "memberlist_level", level, "detail", line)
	return len(p), nil
}
