package rtmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultMaxConns         = 1000
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultReadTimeout      = 8 * time.Second
	// DefaultMaxChunkSize is the largest Set Chunk Size accepted from a
	// peer. Encoders use 128 to 64 KiB; memory follows received bytes,
	// not the chunk size, so the cap is a sanity bound only.
	DefaultMaxChunkSize = 1 << 20
	// DefaultMaxMessageSize bounds one message; a 4K keyframe is well
	// below it.
	DefaultMaxMessageSize = 8 << 20
)

// ErrServerClosed is the reason a Sink is closed with when the server
// shuts down under it.
var ErrServerClosed = errors.New("rtmp: server closed")

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	Addr             string // listen address for ListenAndServe, e.g. ":1935"
	Logger           *slog.Logger
	MaxConns         int           // connections beyond this are closed at accept (idle handshakes evicted first)
	MaxConnsPerIP    int           // the same per remote address (limits.go)
	HandshakeRate    float64       // new connections a second per remote address, in bursts of MaxConnsPerIP
	HandshakeTimeout time.Duration // covers handshake, connect and publish
	ReadTimeout      time.Duration // a publisher silent this long is dropped; also bounds writes
	MaxChunkSize     uint32        // largest peer Set Chunk Size; larger closes the connection
	MaxMessageSize   uint32        // largest message; larger closes the connection
	OnPublish        PublishFunc   // required
	// App is the one application publishers may use (rtmp://host/App/KEY);
	// a publish to any other is refused before OnPublish is asked. ""
	// accepts every application.
	App string
}

// Server accepts RTMP publishers and hands their media to Sinks.
type Server struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	addr  net.Addr
	conns map[net.Conn]*tracked
	perIP map[netip.Addr]int
	rates map[netip.Addr]*bucket
	wg    sync.WaitGroup

	refused, evicted atomic.Int64
}

// NewServer validates cfg and returns a Server.
func NewServer(cfg Config) (*Server, error) {
	if cfg.OnPublish == nil {
		return nil, errors.New("rtmp: Config.OnPublish is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConnsPerIP <= 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if cfg.HandshakeRate <= 0 {
		cfg.HandshakeRate = DefaultHandshakeRate
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.MaxChunkSize == 0 {
		cfg.MaxChunkSize = DefaultMaxChunkSize
	}
	if cfg.MaxChunkSize < defaultChunkSize || cfg.MaxChunkSize > 0xFFFFFF {
		return nil, fmt.Errorf("rtmp: MaxChunkSize %d outside %d..%d", cfg.MaxChunkSize, defaultChunkSize, 0xFFFFFF)
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.MaxMessageSize < 4096 || cfg.MaxMessageSize > 0xFFFFFF {
		return nil, fmt.Errorf("rtmp: MaxMessageSize %d outside 4096..%d", cfg.MaxMessageSize, 0xFFFFFF)
	}
	if strings.ContainsAny(cfg.App, "/? ") {
		return nil, fmt.Errorf("rtmp: App %q is not an application name", cfg.App)
	}
	return &Server{cfg: cfg, log: cfg.Logger, conns: map[net.Conn]*tracked{},
		perIP: map[netip.Addr]int{}, rates: map[netip.Addr]*bucket{}}, nil
}

// Addr returns the address Serve is listening on, or nil before it starts.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// ListenAndServe listens on Config.Addr and serves until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("rtmp: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx is done (returning nil) or
// ln fails (returning the error). It may run for several listeners at
// once (RTMP and RTMPS) with the same ctx. Before returning it closes ln and every
// connection and waits for their goroutines, including Sink calls.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer func() {
		// Cancel first so connections see shutdown, not a broken socket.
		cancel()
		stop()
		ln.Close()
		s.closeAll()
	}()

	var lastRefusalLog time.Time
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				s.log.Warn("rtmp accept failed, retrying", "error", err, "backoff", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return nil
				}
				backoff = min(2*backoff, time.Second)
				continue
			}
			return fmt.Errorf("rtmp: accept: %w", err)
		}
		backoff = 5 * time.Millisecond
		t, reason := s.track(nc)
		if t == nil {
			nc.Close()
			s.refused.Add(1)
			if time.Since(lastRefusalLog) > time.Second {
				lastRefusalLog = time.Now()
				s.log.Warn("rtmp connection refused", "reason", reason, "remote_addr", nc.RemoteAddr().String(),
					"max_conns", s.cfg.MaxConns, "max_conns_per_ip", s.cfg.MaxConnsPerIP, "handshake_rate", s.cfg.HandshakeRate)
			}
			continue
		}
		s.wg.Go(func() {
			defer s.untrack(nc)
			s.serveConn(ctx, nc, t)
		})
	}
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn, t *tracked) {
	c := newConn(s.cfg, nc)
	c.published = &t.published
	defer func() {
		// A bug in the codec must cost one connection, not the edge.
		if p := recover(); p != nil {
			c.log.Error("rtmp connection panic", "panic", p, "stack", string(debug.Stack()))
			c.finish(ctx, fmt.Errorf("rtmp: internal error: %v", p))
		}
	}()
	c.serve(ctx)
}

// track admits nc under the connection limits (limits.go), or says why not.
func (s *Server) track(nc net.Conn) (*tracked, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admit(nc, time.Now())
}

func (s *Server) untrack(nc net.Conn) {
	nc.Close()
	s.mu.Lock()
	if t, ok := s.conns[nc]; ok { // not if evicted, which forgot it already
		s.forget(nc, t)
	}
	s.mu.Unlock()
}

func (s *Server) closeAll() {
	s.mu.Lock()
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
