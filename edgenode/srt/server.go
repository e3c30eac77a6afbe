package srt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultLatency          = 120 * time.Millisecond // libsrt's own default
	DefaultStallTimeout     = 8 * time.Second
	DefaultAuthorizeTimeout = 2 * time.Second
	DefaultMaxConns         = 1000
	DefaultMaxConnsPerIP    = 16
)

// pendingTimeout is how long an authorized handshake may take to become
// an accepted connection; past it (the caller gave up, or its passphrase
// was wrong) its slot under the caps is released.
const pendingTimeout = 10 * time.Second

// refusalTTL is how long a refusal from Authorize is remembered for the
// same caller and streamid. A caller resends its handshake every 250 ms
// while the listen callback runs; without it, each resend of a refused
// caller would run Authorize again, holding up every other handshake on
// the port each time. It outlasts callers' connect timeouts (3 s).
const refusalTTL = 5 * time.Second

// maxRefusals bounds the refusals remembered.
const maxRefusals = 4096

// pollInterval bounds each blocking receive so a read notices the server
// shutting down.
const pollInterval = 250 * time.Millisecond

// ErrServerClosed is what Conn.Read returns once the server shuts down.
var ErrServerClosed = errors.New("srt: server closed")

// ErrStalled is what Conn.Read returns when the publisher has sent
// nothing for the stall timeout while its connection stayed up.
var ErrStalled = errors.New("srt: publisher stalled")

// Request is what the server knows of a caller before its handshake
// completes, from its streamid and address. StreamKey is a secret: never
// log it.
type Request struct {
	StreamKey  string
	App        string // "live" in live/KEY, may be empty
	Query      string // what followed '?' in the resource
	User       string // u= of the streamid, if any
	Mode       Mode   // always ModePublish by the time Authorize sees it
	RemoteAddr string // ip:port
}

// Settings are what Authorize decides for an accepted caller.
type Settings struct {
	// Passphrase, if set, makes the connection AES-encrypted with it
	// (10 to 79 characters); a caller without the same passphrase is
	// refused by libsrt during the handshake.
	Passphrase string
	// KeyLength is the AES key length in bytes (16, 24 or 32); 0 lets
	// the caller choose.
	KeyLength int
	// Value is handed to Handle as Conn.Value, so that what Authorize
	// set up (a live session) reaches the connection.
	Value any
	// Release, if set, is called (once, never with Handle) when the
	// handshake Authorize allowed does not become a connection: libsrt
	// refused it after the callback (a wrong or missing passphrase), it
	// outlived its authorization, the same caller tried again from a new
	// socket, or the server shut down. It frees what Authorize set up at
	// once, so a caller retrying with the right passphrase is not refused
	// as a duplicate of its own failed attempt.
	Release func()
}

// AuthorizeFunc decides whether a caller may publish. It runs inside
// libsrt's listen callback, before the handshake completes, on the
// thread that receives every packet of the port: while it runs, other
// handshakes wait and other publishers' packets queue in the socket
// buffer. It must be quick and answer within ctx (Config.AuthorizeTimeout,
// below callers' 3 s connect timeout). An error refuses the caller with the
// RejectError's reason, RejectUnavailable when ctx ended, else
// RejectForbidden. The error is logged, so it must not contain the key.
type AuthorizeFunc func(ctx context.Context, req Request) (Settings, error)

// HandleFunc serves one accepted publisher: it reads the MPEG-TS bytes
// from c until Read fails. The connection is closed when it returns; ctx
// ends when the server shuts down.
type HandleFunc func(ctx context.Context, c *Conn)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	Addr             string // UDP listen address, e.g. ":9000" or "127.0.0.1:9000"
	Logger           *slog.Logger
	Latency          time.Duration // SRT latency (SRTO_LATENCY); the larger of both sides' applies
	StallTimeout     time.Duration // a publisher sending nothing this long ends with ErrStalled
	AuthorizeTimeout time.Duration // bound on each Authorize call
	MaxConns         int           // connections, accepted or mid-handshake, beyond this are refused
	MaxConnsPerIP    int           // the same per remote IP
	Authorize        AuthorizeFunc // required
	Handle           HandleFunc    // required
}

// Server accepts SRT publishers and hands each one's stream to Handle.
type Server struct {
	cfg Config
	log *slog.Logger

	done chan struct{} // closed when Run returns

	mu        sync.Mutex
	started   bool
	closed    bool
	closing   bool // no new listen callbacks may start
	ctx       context.Context
	cancel    context.CancelFunc
	addr      netip.AddrPort
	total     int                // pending + accepted
	perIP     map[netip.Addr]int // pending + accepted
	pending   map[socket]pendingConn
	refusals  map[refusalKey]refusal
	lastWarn  time.Time      // of the last "caps reached" log line
	callbacks sync.WaitGroup // listen callbacks in flight
	conns     sync.WaitGroup // Handle goroutines
}

// pendingConn is a caller that Authorize allowed and libsrt has not yet
// handed to accept.
type pendingConn struct {
	req      Request
	value    any
	release  func()
	remote   netip.AddrPort
	streamID string
	expiry   time.Time
}

// releaseAll calls the Release of abandoned authorizations, outside the
// server's lock.
func releaseAll(fns []func()) {
	for _, f := range fns {
		f()
	}
}

// refusalKey is one caller's handshake: its address and streamid.
type refusalKey struct {
	remote   netip.AddrPort
	streamID string
}

type refusal struct {
	reason RejectReason
	expiry time.Time
}

// NewServer validates cfg and returns a Server; it listens once Run runs.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Authorize == nil || cfg.Handle == nil {
		return nil, errors.New("srt: Config.Authorize and Config.Handle are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Latency <= 0 {
		cfg.Latency = DefaultLatency
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.AuthorizeTimeout <= 0 {
		cfg.AuthorizeTimeout = DefaultAuthorizeTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConnsPerIP <= 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	return &Server{cfg: cfg, log: cfg.Logger, done: make(chan struct{}),
		perIP: map[netip.Addr]int{}, pending: map[socket]pendingConn{}, refusals: map[refusalKey]refusal{}}, nil
}

// Addr returns the address the server listens on, or nil before it does.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.addr.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(s.addr)
}

// Run listens on Config.Addr and accepts publishers until ctx ends or
// Close is called (returning nil), or the listener fails. Before
// returning it ends every connection and waits for their Handle calls.
// A Server runs once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("srt: Server.Run called twice")
	}
	s.started = true
	if s.closed {
		s.mu.Unlock()
		close(s.done)
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	s.ctx, s.cancel = ctx, cancel
	s.mu.Unlock()
	defer close(s.done)
	defer cancel()

	ap, err := resolve(ctx, s.cfg.Addr)
	if err != nil {
		return err
	}
	if err := startup(); err != nil {
		return err
	}
	defer cleanup()
	h, releaseHandle := newCallbackHandle(s)
	lsn, err := s.listen(ap, h)
	if err != nil {
		s.shutdown()
		releaseHandle()
		return err
	}
	var closeOnce sync.Once
	closeListener := func() { closeOnce.Do(lsn.close) }
	stop := context.AfterFunc(ctx, closeListener)
	defer func() {
		stop()
		cancel()
		closeListener()
		s.shutdown()
		// No callback is in flight and the listener is gone: libsrt
		// will not call with h again.
		releaseHandle()
	}()
	s.log.Info("srt listening", "addr", s.Addr().String())

	for {
		ns, peer, err := lsn.accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("srt: %w", err)
		}
		s.serve(ctx, ns, peer)
	}
}

// Close stops the server and waits for Run to return.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	started, cancel := s.started, s.cancel
	s.mu.Unlock()
	if !started {
		return
	}
	if cancel != nil {
		cancel()
	}
	<-s.done
}

func (s *Server) listen(ap netip.AddrPort, h uintptr) (socket, error) {
	lsn, err := createSocket()
	if err != nil {
		return 0, err
	}
	// Accepted sockets inherit the listener's options. The peer idle
	// timeout is past the stall timeout so that a silent publisher ends
	// with ErrStalled rather than as a lost connection.
	err = errors.Join(
		lsn.setLiveMode(),
		lsn.setLatency(s.cfg.Latency),
		lsn.setPayloadSize(defaultPayload),
		lsn.setPeerIdleTimeout(s.cfg.StallTimeout+2*time.Second),
	)
	if err == nil && ap.Addr().Is6() {
		err = lsn.setIPv6Only(false)
	}
	if err == nil {
		err = lsn.bind(ap)
	}
	if err == nil {
		err = lsn.setListenCallback(h)
	}
	if err == nil {
		err = lsn.listen(128)
	}
	var local netip.AddrPort
	if err == nil {
		local, err = lsn.localAddr()
	}
	if err != nil {
		lsn.close()
		return 0, fmt.Errorf("srt: listen on %s: %w", s.cfg.Addr, err)
	}
	s.mu.Lock()
	s.addr = local
	s.mu.Unlock()
	return lsn, nil
}

// shutdown lets no new callback start, waits for those in flight and for
// every connection's Handle.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.callbacks.Wait()
	s.conns.Wait()
	s.mu.Lock()
	var abandoned []func()
	for ns, p := range s.pending {
		s.releaseLocked(p.remote.Addr())
		delete(s.pending, ns)
		if p.release != nil {
			abandoned = append(abandoned, p.release)
		}
	}
	s.mu.Unlock()
	releaseAll(abandoned)
}

// serve starts the Handle goroutine of a connection libsrt accepted.
func (s *Server) serve(ctx context.Context, ns socket, peer netip.AddrPort) {
	s.mu.Lock()
	abandoned := s.sweepLocked(time.Now())
	p, ok := s.pending[ns]
	delete(s.pending, ns)
	s.mu.Unlock()
	releaseAll(abandoned)
	if !ok {
		// Authorized too long ago: its slot is gone.
		s.log.Warn("srt connection dropped: handshake outlived its authorization", "remote_addr", peer.String())
		ns.close()
		return
	}
	if err := ns.setRecvTimeout(min(pollInterval, s.cfg.StallTimeout)); err != nil {
		s.log.Error("srt connection dropped", "remote_addr", peer.String(), "error", err)
		ns.close()
		s.release(p.remote.Addr())
		if p.release != nil {
			p.release()
		}
		return
	}
	c := &Conn{sock: ns, req: p.req, value: p.value, remote: peer, ctx: ctx, stall: s.cfg.StallTimeout,
		buf: make([]byte, maxPayload), last: time.Now()}
	log := s.log.With("remote_addr", peer.String(), "app", p.req.App)
	s.conns.Go(func() {
		defer func() {
			if v := recover(); v != nil {
				// A bug in Handle must cost one connection, not the edge.
				log.Error("srt connection panic", "panic", v, "stack", string(debug.Stack()))
			}
			ns.close()
			s.release(p.remote.Addr())
			log.Info("srt publisher disconnected")
		}()
		log.Info("srt publisher connected")
		s.cfg.Handle(ctx, c)
	})
}

// admit is the listen callback's decision on one caller, with the
// reason sent when it is refused. It runs on a libsrt thread.
func (s *Server) admit(ns socket, remote netip.AddrPort, streamID string) (RejectReason, bool) {
	s.mu.Lock()
	if s.closing || s.ctx == nil || s.ctx.Err() != nil {
		s.mu.Unlock()
		return RejectUnavailable, false
	}
	s.callbacks.Add(1)
	ctx := s.ctx
	s.mu.Unlock()
	defer s.callbacks.Done()

	log := s.log.With("remote_addr", remote.String())
	refuse := func(r RejectReason, err error) (RejectReason, bool) {
		log.Info("srt publish refused", "reason", r.String(), "code", int(r), "error", err)
		return r, false
	}
	id, err := ParseStreamID(streamID)
	if err != nil {
		return refuse(RejectBadRequest, err)
	}
	log = log.With("app", id.App)
	switch {
	case id.Mode != ModePublish:
		return refuse(RejectBadMode, fmt.Errorf("mode %s: this server only takes publishers (m=publish)", id.Mode))
	case id.Type != "" && id.Type != "stream":
		return refuse(RejectNotSupMedia, fmt.Errorf("type %q: only live streams (t=stream)", truncate(id.Type, 16)))
	}
	rk := refusalKey{remote: remote, streamID: streamID}
	if r, ok := s.refused(rk); ok {
		return r, false
	}
	ip := remote.Addr()
	s.supersede(remote, streamID)
	s.sweep()
	if r, ok := s.reserve(ip); !ok {
		return r, false
	}
	admitted := false
	defer func() {
		if !admitted {
			s.release(ip)
		}
	}()
	req := Request{StreamKey: id.Key, App: id.App, Query: id.Query, User: id.User, Mode: id.Mode,
		RemoteAddr: remote.String()}
	actx, cancel := context.WithTimeout(ctx, s.cfg.AuthorizeTimeout)
	settings, err := s.cfg.Authorize(actx, req)
	cancel()
	if err != nil {
		s.remember(rk, reasonOf(err))
		return refuse(reasonOf(err), err)
	}
	if err := applySettings(ns, settings); err != nil {
		log.Error("srt publish refused: bad settings from Authorize", "error", err)
		if settings.Release != nil {
			settings.Release()
		}
		return RejectInternal, false
	}
	s.mu.Lock()
	s.pending[ns] = pendingConn{req: req, value: settings.Value, release: settings.Release, remote: remote,
		streamID: streamID, expiry: time.Now().Add(pendingTimeout)}
	s.mu.Unlock()
	admitted = true
	return 0, true
}

// refused returns the remembered refusal of a resent handshake.
func (s *Server) refused(k refusalKey) (RejectReason, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refusals[k]
	if !ok || time.Now().After(r.expiry) {
		return 0, false
	}
	return r.reason, true
}

func (s *Server) remember(k refusalKey, reason RejectReason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if len(s.refusals) >= maxRefusals {
		for k, r := range s.refusals {
			if now.After(r.expiry) {
				delete(s.refusals, k)
			}
		}
	}
	if len(s.refusals) < maxRefusals {
		s.refusals[k] = refusal{reason: reason, expiry: now.Add(refusalTTL)}
	}
}

func applySettings(ns socket, st Settings) error {
	if st.Passphrase != "" {
		if n := len(st.Passphrase); n < 10 || n > 79 {
			return fmt.Errorf("passphrase of %d characters, want 10 to 79", n)
		}
		if err := ns.setPassphrase(st.Passphrase); err != nil {
			return err
		}
	}
	switch st.KeyLength {
	case 0:
	case 16, 24, 32:
		if err := ns.setKeyLength(st.KeyLength); err != nil {
			return err
		}
	default:
		return fmt.Errorf("key length %d, want 16, 24 or 32", st.KeyLength)
	}
	return nil
}

// reserve takes a slot under both caps for a caller from ip.
func (s *Server) reserve(ip netip.Addr) (RejectReason, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.total >= s.cfg.MaxConns || s.perIP[ip] >= s.cfg.MaxConnsPerIP {
		if now.Sub(s.lastWarn) > time.Second {
			s.lastWarn = now
			s.log.Warn("srt publish refused: too many connections", "remote_addr", ip.String(),
				"conns", s.total, "conns_from_ip", s.perIP[ip], "max_conns", s.cfg.MaxConns, "max_conns_per_ip", s.cfg.MaxConnsPerIP)
		}
		return RejectOverload, false
	}
	s.total++
	s.perIP[ip]++
	return 0, true
}

func (s *Server) release(ip netip.Addr) {
	s.mu.Lock()
	s.releaseLocked(ip)
	s.mu.Unlock()
}

func (s *Server) releaseLocked(ip netip.Addr) {
	s.total--
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

// sweepLocked releases the slots of authorizations that never became
// connections.
// It returns their Release functions, for the caller to run once it has
// let go of the lock.
func (s *Server) sweepLocked(now time.Time) []func() {
	var abandoned []func()
	for ns, p := range s.pending {
		if now.After(p.expiry) {
			s.releaseLocked(p.remote.Addr())
			delete(s.pending, ns)
			if p.release != nil {
				abandoned = append(abandoned, p.release)
			}
		}
	}
	return abandoned
}

// sweep releases the authorizations that never became connections.
func (s *Server) sweep() {
	s.mu.Lock()
	abandoned := s.sweepLocked(time.Now())
	s.mu.Unlock()
	releaseAll(abandoned)
}

// supersede drops the pending authorizations of an earlier handshake of
// the same caller (same address and streamid, another source port): the
// encoder gave up on it (libsrt refused its passphrase, say) and is trying
// again, so what Authorize set up for it is released before the new
// attempt is judged. A resent handshake of the same socket keeps its port
// and is left alone.
func (s *Server) supersede(remote netip.AddrPort, streamID string) {
	s.mu.Lock()
	var abandoned []func()
	for ns, p := range s.pending {
		if p.streamID == streamID && p.remote.Addr() == remote.Addr() && p.remote.Port() != remote.Port() {
			s.releaseLocked(p.remote.Addr())
			delete(s.pending, ns)
			if p.release != nil {
				abandoned = append(abandoned, p.release)
			}
		}
	}
	s.mu.Unlock()
	releaseAll(abandoned)
}

// resolve turns a listen address into an IP and port; an empty host is
// every IPv4 interface.
func resolve(ctx context.Context, addr string) (netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("srt: listen address %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("srt: listen address %q: bad port", addr)
	}
	if host == "" {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if lerr != nil || len(ips) == 0 {
			return netip.AddrPort{}, fmt.Errorf("srt: listen address %q: %w", addr, errors.Join(err, lerr))
		}
		ip = ips[0]
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}
