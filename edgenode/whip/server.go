package whip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// Defaults for zero Config fields.
const (
	DefaultBasePath         = "/whip"
	DefaultMaxOfferBytes    = 64 << 10
	DefaultStallTimeout     = 8 * time.Second
	DefaultNegotiateTimeout = 10 * time.Second
)

// Request is what the handler knows of a publisher when it asks Publish.
// StreamKey is the bearer token, a secret: never log it.
type Request struct {
	StreamKey  string
	Path       string // what followed the base path in the POST URL ("" or e.g. "live")
	RemoteAddr string
}

// Source is what the publisher sends, as negotiated and probed from its
// first keyframe. The stream is always MPEG-TS.
type Source struct {
	Width, Height          int
	FrameRate              float64 // from the SPS; 0 when it does not say
	HasAudio, HasVideo     bool
	VideoCodec, AudioCodec string // ffmpeg's names: "h264", "opus"
}

// Sink receives one session's MPEG-TS stream (live.Session has this
// shape). Start is called once, at the first keyframe, before any Write;
// Writes are serialized; Close is called exactly once, with nil for a
// clean unpublish (DELETE, the peer closing) or why the session ended.
// A Write error ends the session.
type Sink interface {
	Start(Source) error
	Write(p []byte) (int, error)
	Close(err error)
}

// Config configures a Server.
type Config struct {
	// Publish authorizes a publisher and opens where its stream goes. It
	// is called after the offer was checked and before any network
	// resource is set up; an error refuses the publish (see Refuse) and
	// its text is the answer's body, so it must not contain the key.
	Publish func(ctx context.Context, req Request) (Sink, error)

	BasePath string // the handler's mount point; "" is DefaultBasePath
	// UDPAddr is the one UDP address all sessions share (ICE UDP mux),
	// e.g. ":8189"; "" gives each session an ephemeral port.
	UDPAddr string
	// PublicIP replaces the host address in candidates (1:1 NAT).
	PublicIP string
	// LoopbackOnly gathers host candidates on the loopback interface
	// only, over UDP4 (tests, dev).
	LoopbackOnly bool

	MaxOfferBytes int64 // 0 is DefaultMaxOfferBytes
	// MaxPerIP bounds the publishes one remote address has at once, being
	// negotiated or running (0 is DefaultMaxPerIP); more are answered 429.
	// Behind a proxy every publish shares the proxy's address: raise it.
	MaxPerIP         int
	StallTimeout     time.Duration // no media for this long ends a session
	NegotiateTimeout time.Duration // bounds ICE gathering for an answer
	Logger           *slog.Logger
}

// Refusal is a Publish error with the HTTP status it is answered with.
type Refusal struct {
	Status int
	Err    error
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// Refuse marks a Publish error with its HTTP status: 401 for a wrong key,
// 409 for a key already live, 503 for an edge that cannot take it now.
// An unmarked error is answered 403.
func Refuse(status int, err error) error { return &Refusal{Status: status, Err: err} }

// ErrShuttingDown ends the sessions when the Server's context ends.
var ErrShuttingDown = errors.New("whip server shutting down")

// Server is the WHIP endpoint: an http.Handler that runs its sessions
// until Run's context ends.
type Server struct {
	cfg  Config
	log  *slog.Logger
	api  *webrtc.API
	udp  net.PacketConn // the shared ICE port, nil without UDPAddr
	umux ice.UDPMux

	mu       sync.Mutex
	ctx      context.Context // Run's; nil before Run
	stopping bool
	sessions map[string]*Session
	perIP    map[netip.Addr]int // publishes being negotiated or running
	wg       sync.WaitGroup     // sessions' goroutines
}

// DefaultMaxPerIP is Config.MaxPerIP's default, as RTMP's and SRT's.
const DefaultMaxPerIP = 16

// hold counts a publish from addr (host:port) against MaxPerIP; it
// returns false when the address has its fill. release undoes it.
func (s *Server) hold(addr string) (ip netip.Addr, ok bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err == nil {
		ip = ap.Addr().Unmap()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip] >= s.cfg.MaxPerIP {
		return ip, false
	}
	s.perIP[ip]++
	return ip, true
}

func (s *Server) release(ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

// NewServer validates cfg, binds the shared UDP port if one is set, and
// returns a Server that accepts publishes once Run runs.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Publish == nil {
		return nil, errors.New("whip: Config.Publish is required")
	}
	if cfg.BasePath == "" {
		cfg.BasePath = DefaultBasePath
	}
	cfg.BasePath = "/" + strings.Trim(cfg.BasePath, "/")
	if cfg.MaxOfferBytes <= 0 {
		cfg.MaxOfferBytes = DefaultMaxOfferBytes
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.MaxPerIP <= 0 {
		cfg.MaxPerIP = DefaultMaxPerIP
	}
	if cfg.NegotiateTimeout <= 0 {
		cfg.NegotiateTimeout = DefaultNegotiateTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PublicIP != "" && net.ParseIP(cfg.PublicIP) == nil {
		return nil, fmt.Errorf("whip: public IP %q is not an IP address", cfg.PublicIP)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, sessions: map[string]*Session{}, perIP: map[netip.Addr]int{}}
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.LoopbackOnly {
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		se.SetIncludeLoopbackCandidate(true)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	}
	if cfg.PublicIP != "" {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: []string{cfg.PublicIP},
			AsCandidateType: webrtc.ICECandidateTypeHost}); err != nil {
			return nil, fmt.Errorf("whip: public IP: %w", err)
		}
	}
	if cfg.UDPAddr != "" {
		network := "udp"
		if cfg.LoopbackOnly {
			network = "udp4"
		}
		conn, err := net.ListenPacket(network, cfg.UDPAddr)
		if err != nil {
			return nil, fmt.Errorf("whip: listen on the WebRTC UDP address: %w", err)
		}
		s.udp = conn
		s.umux = webrtc.NewICEUDPMux(nil, conn)
		se.SetICEUDPMux(s.umux)
	}
	me := &webrtc.MediaEngine{}
	if err := registerCodecs(me); err != nil {
		s.closeUDP()
		return nil, fmt.Errorf("whip: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		s.closeUDP()
		return nil, fmt.Errorf("whip: %w", err)
	}
	s.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return s, nil
}

// registerCodecs offers H264 (the packetization modes and profiles
// browsers and OBS use) and Opus, nothing else.
func registerCodecs(me *webrtc.MediaEngine) error {
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	for i, fmtp := range []string{
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f",
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f",
		"level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
	} {
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: fb},
			PayloadType: webrtc.PayloadType(102 + 2*i)}, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("register h264: %w", err)
		}
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		return fmt.Errorf("register opus: %w", err)
	}
	return nil
}

// Run accepts publishes until ctx ends; then it ends every session and
// returns once all have ended and the UDP port is closed. A Server runs
// once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ctx != nil {
		s.mu.Unlock()
		return errors.New("whip: Server.Run called twice")
	}
	s.ctx = ctx
	s.mu.Unlock()

	<-ctx.Done()
	s.mu.Lock()
	s.stopping = true
	for _, ss := range s.sessions {
		ss.end(ErrShuttingDown)
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.closeUDP()
	return nil
}

func (s *Server) closeUDP() {
	if s.umux != nil {
		_ = s.umux.Close()
	}
	if s.udp != nil {
		_ = s.udp.Close()
	}
}

// Len returns how many sessions run.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Session returns the running session with that id, or nil.
func (s *Server) Session(id string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// ServeHTTP implements http.Handler for the base path and what is under it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.cfg.BasePath)
	if !ok || (rest != "" && rest[0] != '/') {
		http.NotFound(w, r)
		return
	}
	rest = strings.TrimPrefix(rest, "/")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Expose-Headers", "Location, ETag, Accept-Patch, Link")
	if id, ok := strings.CutPrefix(rest, "resource/"); ok {
		s.serveResource(w, r, id)
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.servePublish(w, r, rest)
	case http.MethodOptions:
		w.Header().Set("Accept-Post", "application/sdp")
		preflight(w, "POST, OPTIONS")
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "a WHIP endpoint takes POST with an SDP offer")
	}
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, id string) {
	const allow = "DELETE, OPTIONS"
	switch r.Method {
	case http.MethodDelete:
		ss := s.Session(id)
		if ss == nil {
			httpError(w, http.StatusNotFound, "no such WHIP session")
			return
		}
		ss.end(nil)
		w.WriteHeader(http.StatusOK)
	case http.MethodOptions:
		preflight(w, allow)
	default:
		// PATCH (trickle ICE, ICE restart) is not supported: the answer
		// carries every candidate.
		w.Header().Set("Allow", allow)
		httpError(w, http.StatusMethodNotAllowed, "this WHIP session supports DELETE only (no trickle ICE or ICE restart)")
	}
}

func preflight(w http.ResponseWriter, methods string) {
	w.Header().Set("Access-Control-Allow-Methods", methods)
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) servePublish(w http.ResponseWriter, r *http.Request, path string) {
	ip, ok := s.hold(r.RemoteAddr)
	if !ok {
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusTooManyRequests, fmt.Sprintf("too many publishes from this address (at most %d at once)", s.cfg.MaxPerIP))
		return
	}
	handed := false // to the session, which releases the hold when it ends
	defer func() {
		if !handed {
			s.release(ip)
		}
	}()
	key, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="whip"`)
		httpError(w, http.StatusUnauthorized, "missing stream key: send Authorization: Bearer STREAM_KEY")
		return
	}
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); !strings.EqualFold(strings.TrimSpace(ct), "application/sdp") {
		httpError(w, http.StatusUnsupportedMediaType, "the offer must be sent as Content-Type: application/sdp")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxOfferBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("SDP offer larger than %d bytes", s.cfg.MaxOfferBytes))
			return
		}
		httpError(w, http.StatusBadRequest, "read the SDP offer: "+err.Error())
		return
	}
	off, err := parseOffer(body)
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	s.mu.Lock()
	base, stopping := s.ctx, s.stopping
	s.mu.Unlock()
	if base == nil || stopping {
		httpError(w, http.StatusServiceUnavailable, "the WHIP endpoint is not running")
		return
	}

	req := Request{StreamKey: key, Path: path, RemoteAddr: r.RemoteAddr}
	sink, err := s.cfg.Publish(r.Context(), req)
	if err != nil {
		status := http.StatusForbidden
		var rf *Refusal
		if errors.As(err, &rf) && rf.Status >= 400 && rf.Status <= 599 {
			status = rf.Status
		}
		s.log.Info("whip publish refused", "remote_addr", r.RemoteAddr, "status", status, "err", err)
		httpError(w, status, "publish refused: "+err.Error())
		return
	}
	id := newID()
	ss, answer, err := s.negotiate(r.Context(), id, req, off, sink)
	if err != nil {
		sink.Close(err)
		s.log.Warn("whip negotiation failed", "remote_addr", r.RemoteAddr, "err", err)
		httpError(w, statusOf(err), err.Error())
		return
	}
	if !s.add(ss, ip) {
		ss.pc.Close()
		sink.Close(ErrShuttingDown)
		httpError(w, http.StatusServiceUnavailable, "the WHIP endpoint is shutting down")
		return
	}
	handed = true
	s.log.Info("whip session started", "session", id, "remote_addr", r.RemoteAddr, "audio", off.hasAudio)
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", s.cfg.BasePath+"/resource/"+id)
	w.Header().Set("ETag", `"`+ss.etag+`"`)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// add registers a negotiated session and starts its goroutine, unless the
// server is stopping; the session releases ip's hold when it ends.
func (s *Server) add(ss *Session, ip netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.sessions[ss.id] = ss
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ss.run(s.ctx)
		s.mu.Lock()
		delete(s.sessions, ss.id)
		s.mu.Unlock()
		s.release(ip)
	}()
	return true
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
