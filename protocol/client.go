package protocol

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// Client defaults.
const (
	DefaultDialTimeout = 5 * time.Second
	DefaultMaxBackoff  = 5 * time.Second
	minBackoff         = 100 * time.Millisecond
)

// ErrClientClosed is returned by calls on a closed Client.
var ErrClientClosed = errors.New("protocol client closed")

// ClientConfig configures a Client.
type ClientConfig struct {
	// Addrs are the control-plane QUIC addresses ("host:port"), tried in
	// order; the client stays with the one that answered until it fails.
	Addrs []string
	// TLS verifies the control plane, normally pki.ClientTLSConfig with the
	// CA fingerprint from the join token. NextProtos defaults to ALPN.
	TLS *tls.Config
	// Hello is sent at the start of every connection, reconnects included.
	Hello Hello
	// Logger defaults to discarding.
	Logger *slog.Logger
	// MaxFrame limits frames in both directions; DefaultMaxFrame if zero.
	MaxFrame int
	// IdleTimeout declares a silent connection dead; keepalives go out at a
	// third of it. DefaultIdleTimeout if zero.
	IdleTimeout time.Duration
	// DialTimeout bounds connecting to one address, hello included;
	// DefaultDialTimeout if zero.
	DialTimeout time.Duration
	// MaxBackoff caps the wait between reconnect rounds; DefaultMaxBackoff
	// if zero.
	MaxBackoff time.Duration
	// OnConnect, if set, is called with the hello reply of every new
	// connection (reconnects included), before calls use it. It must not
	// block: the edge uses it to learn the CA bundle and renewal orders.
	OnConnect func(HelloReply)
}

// Client is an edge's connection to the control plane. It keeps one QUIC
// connection, re-dials (with a new hello) when it is lost, and opens a
// stream per call. It is safe for concurrent use.
type Client struct {
	cfg  ClientConfig
	log  *slog.Logger
	quic *quic.Config

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	nextID atomic.Uint64

	mu      sync.Mutex
	conn    *quic.Conn // nil while reconnecting
	reply   HelloReply
	lastErr error         // why the last connection attempt failed
	changed chan struct{} // closed and replaced whenever conn changes
	addrIdx int           // where the next connection round starts

	closeOnce sync.Once
}

// Dial connects to the control plane and says hello. It tries the
// addresses in order, in rounds with backoff, until one accepts or ctx
// ends; a refusal that retrying cannot fix (CodeUnauthorized, CodeInvalid,
// ...) is returned at once as an *Error. After Dial the client reconnects
// on its own until Close.
func Dial(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("protocol client: no control-plane addresses")
	}
	if cfg.TLS == nil {
		return nil, errors.New("protocol client: TLS config is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.MaxFrame = frameLimit(cfg.MaxFrame)
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.TLS = cfg.TLS.Clone()
	if len(cfg.TLS.NextProtos) == 0 {
		cfg.TLS.NextProtos = []string{ALPN}
	}
	c := &Client{
		cfg: cfg,
		log: cfg.Logger.With("component", "protocol_client", "node_id", cfg.Hello.NodeID),
		quic: &quic.Config{
			MaxIdleTimeout:        cfg.IdleTimeout,
			KeepAlivePeriod:       cfg.IdleTimeout / 3,
			HandshakeIdleTimeout:  cfg.DialTimeout,
			MaxIncomingStreams:    -1, // the server never opens streams
			MaxIncomingUniStreams: -1,
		},
		changed: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())

	conn, err := c.connect(ctx, true)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.wg.Go(func() { c.supervise(conn) })
	return c, nil
}

// Close closes the connection and stops reconnecting. Calls in flight fail.
func (c *Client) Close() error {
	c.closeOnce.Do(c.cancel)
	c.wg.Wait()
	return nil
}

// HelloReply is the reply to the hello of the current (or last)
// connection.
func (c *Client) HelloReply() HelloReply {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reply
}

// Call sends one request and decodes the reply body into resp (unless resp
// is nil). An error response comes back as an *Error in the chain. While
// the client is reconnecting, Call waits for the connection until ctx
// ends; a request is never sent twice.
func (c *Client) Call(ctx context.Context, msgType string, req, resp any) error {
	var dead *quic.Conn
	for {
		conn, err := c.waitConn(ctx, dead)
		if err != nil {
			return fmt.Errorf("%s: %w", msgType, err)
		}
		err = c.roundTrip(ctx, conn, msgType, req, resp)
		var oe *openError
		if errors.As(err, &oe) && conn.Context().Err() != nil && ctx.Err() == nil {
			// Nothing was sent: wait for the reconnect and try again.
			dead = conn
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", msgType, err)
		}
		return nil
	}
}

// AuthorizePublish asks whether a publisher may go live.
func (c *Client) AuthorizePublish(ctx context.Context, req AuthorizePublishRequest) (AuthorizePublishReply, error) {
	var reply AuthorizePublishReply
	err := c.Call(ctx, TypeAuthorizePublish, req, &reply)
	return reply, err
}

// SessionStarted reports that a session's media is flowing.
func (c *Client) SessionStarted(ctx context.Context, req SessionStarted) error {
	return c.Call(ctx, TypeSessionStarted, req, nil)
}

// SessionEnded reports that a session is over.
func (c *Client) SessionEnded(ctx context.Context, req SessionEnded) error {
	return c.Call(ctx, TypeSessionEnded, req, nil)
}

// Heartbeat renews the edge's lease.
func (c *Client) Heartbeat(ctx context.Context, req Heartbeat) (HeartbeatReply, error) {
	var reply HeartbeatReply
	err := c.Call(ctx, TypeHeartbeat, req, &reply)
	return reply, err
}

// PlaybackInfo asks how to serve a playback id.
func (c *Client) PlaybackInfo(ctx context.Context, req PlaybackInfoRequest) (PlaybackInfoReply, error) {
	var reply PlaybackInfoReply
	err := c.Call(ctx, TypePlaybackInfo, req, &reply)
	return reply, err
}

// waitConn returns the current connection, other than dead, waiting while
// the client reconnects.
func (c *Client) waitConn(ctx context.Context, dead *quic.Conn) (*quic.Conn, error) {
	for {
		c.mu.Lock()
		conn, changed, lastErr := c.conn, c.changed, c.lastErr
		c.mu.Unlock()
		if conn != nil && conn != dead {
			return conn, nil
		}
		select {
		case <-changed:
		case <-c.ctx.Done():
			return nil, ErrClientClosed
		case <-ctx.Done():
			if lastErr != nil {
				return nil, fmt.Errorf("not connected to the control plane (last attempt: %v): %w", lastErr, ctx.Err())
			}
			return nil, fmt.Errorf("not connected to the control plane: %w", ctx.Err())
		}
	}
}

// setConn publishes a new connection state to waiting calls.
func (c *Client) setConn(conn *quic.Conn, reply HelloReply, lastErr error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = conn
	if conn != nil {
		c.reply = reply
	}
	c.lastErr = lastErr
	close(c.changed)
	c.changed = make(chan struct{})
}

// supervise watches the connection and replaces it when it is lost.
func (c *Client) supervise(conn *quic.Conn) {
	for {
		select {
		case <-c.ctx.Done():
			conn.CloseWithError(connClosed, "")
			c.setConn(nil, HelloReply{}, ErrClientClosed)
			return
		case <-conn.Context().Done():
		}
		cause := context.Cause(conn.Context())
		c.setConn(nil, HelloReply{}, cause)
		c.log.Warn("control plane connection lost", "addr", conn.RemoteAddr().String(), "err", cause)
		var err error
		conn, err = c.connect(c.ctx, false)
		if err != nil { // only when the client closes
			return
		}
	}
}

// connect runs connection rounds over all addresses with backoff until one
// succeeds or ctx ends. With failFast, a refusal retrying cannot fix ends it
// too (at Dial, the caller should hear about a bad token at once; later,
// the client keeps trying in case the token is accepted again).
func (c *Client) connect(ctx context.Context, failFast bool) (*quic.Conn, error) {
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		conn, err := c.connectRound(ctx)
		if err == nil {
			return conn, nil
		}
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		var perr *Error
		if errors.As(err, &perr) && permanent(perr.Code) {
			if failFast {
				return nil, err
			}
			c.log.Error("control plane refused this edge", "attempt", attempt, "err", err)
		} else {
			c.log.Warn("connect to control plane", "attempt", attempt, "err", err)
		}
		// Full jitter keeps a fleet of edges from reconnecting in lockstep.
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, c.cfg.MaxBackoff)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("connect to control plane: %w (last attempt: %w)", ctx.Err(), err)
		case <-c.ctx.Done():
			t.Stop()
			return nil, ErrClientClosed
		}
	}
}

// permanent reports whether a hello refusal will not go away by retrying.
func permanent(code string) bool {
	switch code {
	case CodeUnavailable, CodeInternal, CodeFrameTooLarge:
		return false
	}
	return true
}

// connectRound tries each address once, starting with the last good one.
// It prefers reporting a refusal over a transport error.
func (c *Client) connectRound(ctx context.Context) (*quic.Conn, error) {
	c.mu.Lock()
	start := c.addrIdx
	c.mu.Unlock()
	var firstErr, refusal error
	for i := range c.cfg.Addrs {
		idx := (start + i) % len(c.cfg.Addrs)
		addr := c.cfg.Addrs[idx]
		conn, reply, err := c.connectAddr(ctx, addr)
		if err == nil {
			c.mu.Lock()
			c.addrIdx = idx
			c.mu.Unlock()
			if c.cfg.OnConnect != nil {
				c.cfg.OnConnect(reply)
			}
			c.setConn(conn, reply, nil)
			c.log.Info("connected to control plane", "addr", addr, "cluster_id", reply.ClusterID, "control_node_id", reply.NodeID)
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		var perr *Error
		if errors.As(err, &perr) {
			refusal = err
			if permanent(perr.Code) {
				// Every control-plane node would say the same.
				break
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if refusal != nil {
		return nil, refusal
	}
	return nil, firstErr
}

// connectAddr dials one address and says hello.
func (c *Client) connectAddr(ctx context.Context, addr string) (*quic.Conn, HelloReply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	conn, err := quic.DialAddr(ctx, addr, c.cfg.TLS, c.quic)
	if err != nil {
		return nil, HelloReply{}, fmt.Errorf("dial %s: %w", addr, err)
	}
	var reply HelloReply
	if err := c.roundTrip(ctx, conn, TypeHello, c.cfg.Hello, &reply); err != nil {
		conn.CloseWithError(connClosed, "")
		return nil, HelloReply{}, fmt.Errorf("hello %s: %w", addr, err)
	}
	return conn, reply, nil
}

// openError marks a failure to open a stream: the request was not sent.
type openError struct{ err error }

func (e *openError) Error() string { return "open stream: " + e.err.Error() }
func (e *openError) Unwrap() error { return e.err }

// roundTrip sends one request on a new stream of conn and reads the reply.
func (c *Client) roundTrip(ctx context.Context, conn *quic.Conn, msgType string, req, resp any) error {
	payload, err := encodeRequest(msgType, strconv.FormatUint(c.nextID.Add(1), 10), req)
	if err != nil {
		return err
	}
	if len(payload) > c.cfg.MaxFrame {
		return fmt.Errorf("request of %d bytes over the %d-byte frame limit: %w", len(payload), c.cfg.MaxFrame, ErrFrameTooLarge)
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &openError{connError(conn, err)}
	}
	// Cancelling the stream when ctx ends wakes the reads and writes below
	// (no stream deadline: it would race ctx and hide ctx.Err) and tells
	// the server to cancel the handler.
	stop := context.AfterFunc(ctx, func() {
		str.CancelWrite(streamCanceled)
		str.CancelRead(streamCanceled)
	})
	defer stop()

	werr := WriteFrame(str, payload, c.cfg.MaxFrame)
	if werr == nil {
		werr = str.Close()
	}
	// Read even if the write failed: a server that refuses a request (too
	// large, say) answers before it stops reading.
	respPayload, rerr := ReadFrame(str, c.cfg.MaxFrame)
	if rerr != nil {
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case werr != nil:
			return connError(conn, werr)
		case rerr == io.EOF:
			return errors.New("stream ended without a response")
		}
		return connError(conn, rerr)
	}
	// The server ends the stream after its response; reading that end
	// completes the stream. It is already here or about to be.
	str.SetReadDeadline(time.Now().Add(time.Second))
	var b [1]byte
	str.Read(b[:])

	body, err := decodeResponse(respPayload)
	if err != nil {
		return err
	}
	if resp != nil {
		if err := json.Unmarshal(body, resp); err != nil {
			return fmt.Errorf("decode %s reply: %w", msgType, err)
		}
	}
	return nil
}

// connError turns a connection the server closed as a refusal into the
// refusal's *Error, in case its error response was lost.
func connError(conn *quic.Conn, err error) error {
	cause := context.Cause(conn.Context())
	var appErr *quic.ApplicationError
	if errors.As(err, &appErr) || errors.As(cause, &appErr) {
		if appErr.Remote && appErr.ErrorCode == connRefused && appErr.ErrorMessage != "" {
			return &Error{Code: appErr.ErrorMessage, Message: "connection refused by the control plane"}
		}
	}
	return err
}
