package protocol

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// QUIC application error codes, for connections and streams. A refused
// connection closes with connRefused and the error code as its reason, so a
// client that missed the error response still learns why.
const (
	connClosed        quic.ApplicationErrorCode = 0
	connRefused       quic.ApplicationErrorCode = 1
	connServerClosing quic.ApplicationErrorCode = 2

	streamCanceled      quic.StreamErrorCode = 1
	streamFrameTooLarge quic.StreamErrorCode = 2
)

// Defaults for ServerConfig and ClientConfig.
const (
	DefaultIdleTimeout    = 30 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	defaultMaxStreams     = 100
	// refuseLinger is how long a refused connection stays open for its
	// error response to arrive before the server closes it.
	refuseLinger = 2 * time.Second
)

// Handler answers the requests of authenticated edges. It returns the reply
// body (marshalled to JSON; nil means {}) or an error; an *Error chooses the
// code sent back, any other error is sent as CodeInternal and logged. ctx
// ends when the request times out, the edge cancels it, the connection
// drops or the server closes; handlers must honour it.
type Handler interface {
	Handle(ctx context.Context, peer Peer, msgType string, body json.RawMessage) (any, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, peer Peer, msgType string, body json.RawMessage) (any, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, peer Peer, msgType string, body json.RawMessage) (any, error) {
	return f(ctx, peer, msgType, body)
}

// Peer is the authenticated edge behind a request.
type Peer struct {
	Hello      Hello // as the edge sent it, JoinToken cleared
	RemoteAddr net.Addr
}

// ServerConfig configures a Server.
type ServerConfig struct {
	// Addr is the UDP address to listen on, e.g. ":7443". Ignored when
	// PacketConn is set.
	Addr string
	// PacketConn, if set, is the socket to serve on. The caller keeps it
	// and closes it after the server is done.
	PacketConn net.PacketConn
	// TLS holds the server certificate (see pki.CA.IssueServerCert).
	// NextProtos defaults to ALPN.
	TLS *tls.Config
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Authenticate checks a connection's hello (its join token above all)
	// and returns the reply. An *Error chooses the code sent back (use
	// CodeUnavailable for faults worth retrying elsewhere); any other error
	// refuses the edge with CodeUnauthorized. Either way the connection is
	// then closed.
	Authenticate func(ctx context.Context, hello Hello) (HelloReply, error)
	// Handler answers every request after the hello.
	Handler Handler
	// Join, if set, answers a connection whose first request is a join
	// (TypeJoin): an edge without a certificate trading its join token for
	// one. The connection closes after the answer either way. An *Error
	// chooses the code sent back; any other error is CodeUnauthorized.
	Join func(ctx context.Context, req JoinRequest, remote net.Addr) (CertificateReply, error)
	// MaxFrame limits request frames in bytes; DefaultMaxFrame if zero.
	MaxFrame int
	// IdleTimeout closes connections silent for this long (the client
	// sends keepalives); DefaultIdleTimeout if zero.
	IdleTimeout time.Duration
	// RequestTimeout bounds reading, handling and answering one request,
	// hello included; DefaultRequestTimeout if zero.
	RequestTimeout time.Duration
	// MaxConcurrentRequests per connection; further requests wait in the
	// client. 100 if zero.
	MaxConcurrentRequests int
	// StatelessResetKey, if set and kept across restarts, lets clients of
	// a crashed server notice at once instead of after IdleTimeout.
	StatelessResetKey *quic.StatelessResetKey
}

// Server serves the protocol to edges over QUIC.
type Server struct {
	cfg ServerConfig
	log *slog.Logger

	pc     net.PacketConn
	ownsPC bool
	tr     *quic.Transport
	ln     *quic.Listener

	ctx    context.Context // ends when the server closes
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	serving bool
	conns   map[*quic.Conn]struct{}
	peers   map[*quic.Conn]Peer // connections past their hello
	wg      sync.WaitGroup      // connection goroutines

	closeOnce sync.Once
	closeErr  error
}

// NewServer validates cfg and starts listening, so Addr is known before
// Serve runs. Close releases the socket even if Serve never ran.
func NewServer(cfg ServerConfig) (*Server, error) {
	switch {
	case cfg.TLS == nil:
		return nil, errors.New("protocol server: TLS config is required")
	case cfg.Authenticate == nil:
		return nil, errors.New("protocol server: Authenticate is required")
	case cfg.Handler == nil:
		return nil, errors.New("protocol server: Handler is required")
	case cfg.PacketConn == nil && cfg.Addr == "":
		return nil, errors.New("protocol server: Addr or PacketConn is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.MaxFrame = frameLimit(cfg.MaxFrame)
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxConcurrentRequests <= 0 {
		cfg.MaxConcurrentRequests = defaultMaxStreams
	}
	tlsConf := cfg.TLS.Clone()
	if len(tlsConf.NextProtos) == 0 {
		tlsConf.NextProtos = []string{ALPN}
	}

	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "protocol_server"), conns: map[*quic.Conn]struct{}{}, peers: map[*quic.Conn]Peer{}}
	s.pc = cfg.PacketConn
	if s.pc == nil {
		pc, err := net.ListenPacket("udp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("protocol server: listen on %s: %w", cfg.Addr, err)
		}
		s.pc, s.ownsPC = pc, true
	}
	s.tr = &quic.Transport{Conn: s.pc, StatelessResetKey: cfg.StatelessResetKey}
	ln, err := s.tr.Listen(tlsConf, &quic.Config{
		MaxIdleTimeout:     cfg.IdleTimeout,
		KeepAlivePeriod:    cfg.IdleTimeout / 3,
		MaxIncomingStreams: int64(cfg.MaxConcurrentRequests),
		// Requests are bidirectional streams; nothing uses the others.
		MaxIncomingUniStreams: -1,
	})
	if err != nil {
		s.tr.Close()
		if s.ownsPC {
			s.pc.Close()
		}
		return nil, fmt.Errorf("protocol server: %w", err)
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.pc.LocalAddr() }

// Serve accepts connections until ctx ends or Close is called, then closes
// the server and returns once every connection goroutine has finished. It
// returns nil after such a shutdown.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving || s.closed {
		s.mu.Unlock()
		return errors.New("protocol server: Serve called twice or after Close")
	}
	s.serving = true
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	defer s.Close()
	for {
		conn, err := s.ln.Accept(s.ctx)
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("protocol server: accept: %w", err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.CloseWithError(connServerClosing, "server closing")
			return nil
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer s.forget(conn)
			s.serveConn(conn)
		}()
	}
}

// Close stops the server: it closes every connection, cancels running
// handlers, waits for the connection goroutines and releases the socket
// (unless it was passed in as PacketConn).
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*quic.Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()

		s.cancel()
		s.ln.Close()
		for _, c := range conns {
			c.CloseWithError(connServerClosing, "server closing")
		}
		s.wg.Wait()
		s.closeErr = s.tr.Close()
		if s.ownsPC {
			if err := s.pc.Close(); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
	})
	// A second caller waits for the first to finish too.
	s.wg.Wait()
	return s.closeErr
}

func (s *Server) forget(conn *quic.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	delete(s.peers, conn)
	s.mu.Unlock()
}

// serveConn runs one edge connection: the hello, then one goroutine per
// request stream, all waited for before it returns.
func (s *Server) serveConn(conn *quic.Conn) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	stop := context.AfterFunc(conn.Context(), cancel)
	defer stop()
	log := s.log.With("remote_addr", conn.RemoteAddr().String())

	peer, ok := s.hello(ctx, conn, log)
	if !ok {
		return
	}
	log = log.With("node_id", peer.Hello.NodeID)
	s.mu.Lock()
	s.peers[conn] = peer
	s.mu.Unlock()
	log.Info("edge connected", "region", peer.Hello.Region, "version", peer.Hello.Version)

	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		str, err := conn.AcceptStream(ctx)
		if err != nil {
			reason := "server closing"
			if s.ctx.Err() == nil {
				reason = disconnectReason(conn, err)
			}
			log.Info("edge disconnected", "reason", reason)
			if s.ctx.Err() == nil {
				conn.CloseWithError(connClosed, "")
			}
			return
		}
		wg.Go(func() { s.serveStream(ctx, peer, str, log) })
	}
}

// hello runs the first request of a connection. On refusal it answers,
// closes the connection and returns false.
func (s *Server) hello(ctx context.Context, conn *quic.Conn, log *slog.Logger) (Peer, bool) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	str, err := conn.AcceptStream(ctx)
	if err != nil {
		log.Debug("no hello", "err", err)
		conn.CloseWithError(connRefused, CodeInvalid)
		return Peer{}, false
	}
	str.SetDeadline(time.Now().Add(s.cfg.RequestTimeout))

	var hello Hello
	var reply HelloReply
	req, perr, err := s.readRequest(str)
	if err != nil {
		log.Debug("read hello", "err", err)
		str.CancelRead(streamCanceled)
		str.CancelWrite(streamCanceled)
		conn.CloseWithError(connRefused, CodeInvalid)
		return Peer{}, false
	}
	if perr == nil && req.Type == TypeJoin && s.cfg.Join != nil {
		s.join(ctx, conn, str, req, log)
		return Peer{}, false
	}
	if cs := conn.ConnectionState().TLS; len(cs.VerifiedChains) > 0 && len(cs.PeerCertificates) > 0 {
		hello.Certificate = cs.PeerCertificates[0]
	}
	switch {
	case perr != nil:
	case req.Type != TypeHello:
		perr = &Error{Code: CodeInvalid, Message: "the first request of a connection must be " + TypeHello}
	case json.Unmarshal(req.Body, &hello) != nil:
		perr = &Error{Code: CodeInvalid, Message: "malformed hello"}
	case hello.NodeID == "":
		perr = &Error{Code: CodeInvalid, Message: "hello has no node_id"}
	default:
		reply, err = s.cfg.Authenticate(ctx, hello)
		if err != nil && !errors.As(err, &perr) {
			perr = &Error{Code: CodeUnauthorized, Message: "join token not accepted"}
		}
	}
	if perr != nil {
		s.writeResponse(str, encodeError(perr), log)
		log.Warn("edge refused", "node_id", hello.NodeID, "code", perr.Code, "message", perr.Message)
		s.linger(conn)
		conn.CloseWithError(connRefused, perr.Code)
		return Peer{}, false
	}
	payload, err := encodeReply(reply)
	if err != nil {
		log.Error("encode hello reply", "err", err)
		conn.CloseWithError(connRefused, CodeInternal)
		return Peer{}, false
	}
	s.writeResponse(str, payload, log)
	hello.JoinToken = ""
	return Peer{Hello: hello, RemoteAddr: conn.RemoteAddr()}, true
}

// linger lets a final response arrive before the connection goes: the
// client closes the connection once it has read it.
func (s *Server) linger(conn *quic.Conn) {
	t := time.NewTimer(refuseLinger)
	defer t.Stop()
	select {
	case <-conn.Context().Done():
	case <-t.C:
	case <-s.ctx.Done():
	}
}

// join answers a connection's one join request, then closes it.
func (s *Server) join(ctx context.Context, conn *quic.Conn, str *quic.Stream, req Request, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	var jr JoinRequest
	var perr *Error
	var payload []byte
	if err := json.Unmarshal(req.Body, &jr); err != nil {
		perr = &Error{Code: CodeInvalid, Message: "malformed join"}
	} else if reply, err := s.cfg.Join(ctx, jr, conn.RemoteAddr()); err != nil {
		if !errors.As(err, &perr) {
			perr = &Error{Code: CodeUnauthorized, Message: "join token not accepted"}
		}
	} else if payload, err = encodeReply(reply); err != nil {
		perr = &Error{Code: CodeInternal, Message: "internal error"}
	}
	if perr != nil {
		log.Warn("join refused", "node_id", jr.NodeID, "code", perr.Code, "message", perr.Message)
		payload = encodeError(perr)
	} else {
		log.Info("edge joined", "node_id", jr.NodeID)
	}
	s.writeResponse(str, payload, log)
	s.linger(conn)
	code := connClosed
	if perr != nil {
		code = connRefused
	}
	conn.CloseWithError(code, codeOf(perr))
}

// serveStream answers one request.
func (s *Server) serveStream(ctx context.Context, peer Peer, str *quic.Stream, log *slog.Logger) {
	start := time.Now()
	str.SetDeadline(start.Add(s.cfg.RequestTimeout))
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	// The stream's context ends when the client cancels the request.
	stop := context.AfterFunc(str.Context(), cancel)
	defer stop()

	req, perr, err := s.readRequest(str)
	if err != nil {
		log.Debug("read request", "err", err)
		str.CancelRead(streamCanceled)
		str.CancelWrite(streamCanceled)
		return
	}
	var payload []byte
	switch {
	case perr != nil:
	case req.Type == TypeHello:
		perr = &Error{Code: CodeInvalid, Message: "hello is only allowed as the first request"}
	default:
		payload, perr = s.handle(ctx, peer, req, log)
	}
	if perr != nil {
		payload = encodeError(perr)
	}
	s.writeResponse(str, payload, log)
	log.Debug("request", "type", req.Type, "id", req.ID, "code", codeOf(perr), "duration", time.Since(start))
}

// handle calls the handler and encodes its answer.
func (s *Server) handle(ctx context.Context, peer Peer, req Request, log *slog.Logger) (payload []byte, perr *Error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("handler panicked", "type", req.Type, "panic", r, "stack", string(debug.Stack()))
			payload, perr = nil, &Error{Code: CodeInternal, Message: "internal error"}
		}
	}()
	body, err := s.cfg.Handler.Handle(ctx, peer, req.Type, req.Body)
	if err != nil {
		if errors.As(err, &perr) {
			return nil, perr
		}
		if ctx.Err() != nil {
			// Cancelled by the edge, the timeout or shutdown: nobody is
			// likely to read the answer, and nothing is broken.
			log.Debug("request cancelled", "type", req.Type, "id", req.ID, "err", err)
			return nil, &Error{Code: CodeUnavailable, Message: "request cancelled"}
		}
		log.Error("handler failed", "type", req.Type, "id", req.ID, "err", err)
		return nil, &Error{Code: CodeInternal, Message: "internal error"}
	}
	payload, err = encodeReply(body)
	if err != nil {
		log.Error("handler reply", "type", req.Type, "err", err)
		return nil, &Error{Code: CodeInternal, Message: "internal error"}
	}
	return payload, nil
}

// readRequest reads the one request a stream carries. perr is the answer
// to send for a request that arrived but cannot be served; err means the
// stream itself failed and there is nobody to answer.
func (s *Server) readRequest(str *quic.Stream) (req Request, perr *Error, err error) {
	payload, err := ReadFrame(str, s.cfg.MaxFrame)
	if errors.Is(err, ErrFrameTooLarge) {
		// The rest of the frame is not wanted; the answer still goes out.
		str.CancelRead(streamFrameTooLarge)
		return Request{}, &Error{Code: CodeFrameTooLarge, Message: fmt.Sprintf("request over the %d-byte frame limit", s.cfg.MaxFrame)}, nil
	}
	if err != nil {
		return Request{}, nil, err
	}
	// The client closes its side after the request. Reading that end also
	// completes the stream so its slot frees up for the next request.
	var b [1]byte
	if n, err := str.Read(b[:]); n > 0 {
		str.CancelRead(streamCanceled)
		return Request{}, &Error{Code: CodeInvalid, Message: "one request per stream"}, nil
	} else if err != io.EOF {
		return Request{}, nil, fmt.Errorf("read end of request: %w", err)
	}
	req, perr = decodeRequest(payload)
	return req, perr, nil
}

// writeResponse sends payload and ends the stream.
func (s *Server) writeResponse(str *quic.Stream, payload []byte, log *slog.Logger) {
	err := WriteFrame(str, payload, s.cfg.MaxFrame)
	if errors.Is(err, ErrFrameTooLarge) {
		log.Error("reply over the frame limit", "bytes", len(payload), "max_frame", s.cfg.MaxFrame)
		err = WriteFrame(str, encodeError(&Error{Code: CodeFrameTooLarge, Message: "reply over the frame limit"}), s.cfg.MaxFrame)
	}
	if err != nil {
		log.Debug("write response", "err", err)
		str.CancelWrite(streamCanceled)
		return
	}
	str.Close()
}

func codeOf(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}

// disconnectReason says why a connection ended, for the log.
func disconnectReason(conn *quic.Conn, err error) string {
	if cause := context.Cause(conn.Context()); cause != nil {
		err = cause
	}
	var appErr *quic.ApplicationError
	if errors.As(err, &appErr) && appErr.Remote && appErr.ErrorCode == connClosed {
		return "closed by edge"
	}
	return err.Error()
}
