package protocol

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/pki"
	"github.com/quic-go/quic-go"
)

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newBufferLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testEnv is a cluster CA, a server certificate and a join token, plus the
// log of everything the test ran, checked for secrets at the end.
type testEnv struct {
	t      *testing.T
	ca     pki.CA
	cert   tls.Certificate
	tok    pki.JoinToken
	token  string // plaintext
	secret string
	logs   *lockedBuffer
	log    *slog.Logger
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServerCert([]string{ServerName, "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, plain, err := pki.NewJoinToken(ca.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _, _ := pki.ParseJoinToken(plain)
	e := &testEnv{t: t, ca: ca, cert: cert, tok: tok, token: plain, secret: secret, logs: &lockedBuffer{}}
	e.log = newBufferLogger(e.logs)
	t.Cleanup(func() {
		if strings.Contains(e.logs.String(), secret) {
			t.Error("the join token secret reached a log line")
		}
		if t.Failed() {
			t.Logf("logs:\n%s", e.logs.String())
		}
	})
	return e
}

// authenticate accepts exactly the env's join token.
func (e *testEnv) authenticate(nodeID string) func(context.Context, Hello) (HelloReply, error) {
	return func(ctx context.Context, h Hello) (HelloReply, error) {
		id, secret, _, err := pki.ParseJoinToken(h.JoinToken)
		if err != nil || id != e.tok.ID || !e.tok.Check(secret) {
			return HelloReply{}, &Error{Code: CodeUnauthorized, Message: "invalid join token"}
		}
		return HelloReply{ClusterID: "cluster-1", NodeID: nodeID, HeartbeatIntervalMS: 1000, LeaseTTLMS: 5000}, nil
	}
}

// startServer serves on addr until the test ends; stop shuts it down early.
func (e *testEnv) startServer(addr, nodeID string, h Handler, mutate func(*ServerConfig)) (srv *Server, stop func()) {
	e.t.Helper()
	cfg := ServerConfig{
		Addr:         addr,
		TLS:          pki.ServerTLSConfig(e.cert),
		Logger:       e.log.With("server", nodeID),
		Authenticate: e.authenticate(nodeID),
		Handler:      h,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		e.t.Fatalf("NewServer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Serve: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return srv, stop
}

func (e *testEnv) clientConfig(token string, addrs ...string) ClientConfig {
	return ClientConfig{
		Addrs:       addrs,
		TLS:         pki.ClientTLSConfig(e.ca.Fingerprint(), ServerName),
		Hello:       Hello{NodeID: "edge-1", Region: "eu", Version: "test", JoinToken: token},
		Logger:      e.log.With("client", "edge-1"),
		DialTimeout: 2 * time.Second,
		MaxBackoff:  200 * time.Millisecond,
	}
}

func (e *testEnv) dial(cfg ClientConfig) *Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		e.t.Fatalf("Dial: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// echoReply is what the "echo" test message returns.
type echoReply struct {
	NodeID    string          `json:"node_id"`
	JoinToken string          `json:"join_token"`
	Body      json.RawMessage `json:"body"`
}

// testHandler answers authorize_publish by stream key and a few test-only
// message types.
func testHandler(canceled chan<- struct{}) Handler {
	return HandlerFunc(func(ctx context.Context, peer Peer, msgType string, body json.RawMessage) (any, error) {
		switch msgType {
		case TypeAuthorizePublish:
			var req AuthorizePublishRequest
			if err := json.Unmarshal(body, &req); err != nil {
				return nil, &Error{Code: CodeInvalid, Message: "malformed body"}
			}
			switch req.StreamKey {
			case "good":
				return AuthorizePublishReply{SessionID: "ses_1",
					Stream: StreamInfo{ID: "str_1", OrgID: "org_1", Name: "show", PlaybackID: "pb_1",
						PlaybackPolicy: PlaybackSigned, Recording: true, LatencyMode: LatencyLow},
					SigningKeys: []SigningKey{{ID: "key_1", PublicPEM: "PEM"}}}, nil
			case "disabled":
				return nil, &Error{Code: CodeForbidden, Message: "stream is disabled"}
			case "live":
				return nil, fmt.Errorf("wrapped: %w", &Error{Code: CodeConflict, Message: "stream is already live"})
			case "boom":
				return nil, errors.New("database on fire")
			case "panic":
				panic("handler bug")
			}
			return nil, &Error{Code: CodeForbidden, Message: "unknown stream key"}
		case TypeSessionEnded:
			return nil, nil
		case "echo":
			return echoReply{NodeID: peer.Hello.NodeID, JoinToken: peer.Hello.JoinToken, Body: body}, nil
		case "slow":
			<-ctx.Done()
			if canceled != nil {
				canceled <- struct{}{}
			}
			return nil, ctx.Err()
		}
		return nil, &Error{Code: CodeUnknownType, Message: "unknown message type " + msgType}
	})
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHelloAndCall(t *testing.T) {
	e := newTestEnv(t)
	srv, _ := e.startServer("127.0.0.1:0", "cp-1", testHandler(nil), nil)
	c := e.dial(e.clientConfig(e.token, srv.Addr().String()))

	hr := c.HelloReply()
	if hr.ClusterID != "cluster-1" || hr.NodeID != "cp-1" || hr.HeartbeatInterval() != time.Second || hr.LeaseTTL() != 5*time.Second {
		t.Fatalf("HelloReply = %+v", hr)
	}

	reply, err := c.AuthorizePublish(callCtx(t), AuthorizePublishRequest{StreamKey: "good", Protocol: IngestRTMP, RemoteAddr: "192.0.2.1:5000"})
	if err != nil {
		t.Fatalf("AuthorizePublish: %v", err)
	}
	if reply.SessionID != "ses_1" || reply.Stream.PlaybackPolicy != PlaybackSigned || !reply.Stream.Recording ||
		len(reply.SigningKeys) != 1 || reply.SigningKeys[0].ID != "key_1" {
		t.Fatalf("AuthorizePublish reply = %+v", reply)
	}
	if err := c.SessionEnded(callCtx(t), SessionEnded{SessionID: "ses_1", Reason: "unpublished"}); err != nil {
		t.Fatalf("SessionEnded: %v", err)
	}

	var echo echoReply
	if err := c.Call(callCtx(t), "echo", map[string]int{"n": 7}, &echo); err != nil {
		t.Fatalf("Call echo: %v", err)
	}
	if echo.NodeID != "edge-1" || echo.JoinToken != "" || string(echo.Body) != `{"n":7}` {
		t.Fatalf("echo = %+v; the handler must see the node id and no join token", echo)
	}
	// A nil request is an empty body.
	if err := c.Call(callCtx(t), "echo", nil, &echo); err != nil || string(echo.Body) != `{}` {
		t.Fatalf("Call echo with nil request = %+v, %v", echo, err)
	}
}

func TestHelloRefused(t *testing.T) {
	e := newTestEnv(t)
	srv, _ := e.startServer("127.0.0.1:0", "cp-1", testHandler(nil), nil)
	_, otherToken, err := pki.NewJoinToken(e.ca.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(e.token, e.secret, strings.Repeat("A", len(e.secret)), 1)

	for name, token := range map[string]string{"unknown token": otherToken, "wrong secret": forged, "garbage": "hunter2", "none": ""} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, e.clientConfig(token, srv.Addr().String()))
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded with a bad join token")
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != CodeUnauthorized {
				t.Fatalf("Dial error = %v, want code %s", err, CodeUnauthorized)
			}
			if token != "" && strings.Contains(err.Error(), token) {
				t.Fatalf("error %q repeats the token", err)
			}
			if ctx.Err() != nil {
				t.Fatal("Dial kept retrying a refusal")
			}
		})
	}
}

func TestHandlerErrorCodes(t *testing.T) {
	e := newTestEnv(t)
	srv, _ := e.startServer("127.0.0.1:0", "cp-1", testHandler(nil), nil)
	c := e.dial(e.clientConfig(e.token, srv.Addr().String()))

	tests := []struct {
		msgType string
		req     any
		code    string
	}{
		{TypeAuthorizePublish, AuthorizePublishRequest{StreamKey: "disabled"}, CodeForbidden},
		{TypeAuthorizePublish, AuthorizePublishRequest{StreamKey: "nope"}, CodeForbidden},
		{TypeAuthorizePublish, AuthorizePublishRequest{StreamKey: "live"}, CodeConflict},
		{TypeAuthorizePublish, AuthorizePublishRequest{StreamKey: "boom"}, CodeInternal},
		{TypeAuthorizePublish, AuthorizePublishRequest{StreamKey: "panic"}, CodeInternal},
		{"no_such_type", struct{}{}, CodeUnknownType},
		{TypeHello, Hello{NodeID: "again"}, CodeInvalid},
	}
	for _, tc := range tests {
		err := c.Call(callCtx(t), tc.msgType, tc.req, nil)
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("Call(%s, %+v) = %v, want code %s", tc.msgType, tc.req, err, tc.code)
			continue
		}
		if pe.Code == CodeInternal && strings.Contains(pe.Message, "fire") {
			t.Errorf("internal error text leaked to the edge: %q", pe.Message)
		}
	}
	// The connection is still good after all that.
	if _, err := c.AuthorizePublish(callCtx(t), AuthorizePublishRequest{StreamKey: "good"}); err != nil {
		t.Fatalf("AuthorizePublish after errors: %v", err)
	}
}

func TestOversizeFrame(t *testing.T) {
	e := newTestEnv(t)
	srv, _ := e.startServer("127.0.0.1:0", "cp-1", testHandler(nil), func(cfg *ServerConfig) { cfg.MaxFrame = 1024 })
	c := e.dial(e.clientConfig(e.token, srv.Addr().String()))

	big := map[string]string{"pad": strings.Repeat("x", 64<<10)}
	err := c.Call(callCtx(t), "echo", big, nil)
	if ErrorCode(err) != CodeFrameTooLarge {
		t.Fatalf("oversize request = %v, want code %s", err, CodeFrameTooLarge)
	}
	var echo echoReply
	if err := c.Call(callCtx(t), "echo", map[string]string{"small": "yes"}, &echo); err != nil {
		t.Fatalf("call after oversize request: %v", err)
	}

	// The client refuses to send what its own limit forbids.
	cfg := e.clientConfig(e.token, srv.Addr().String())
	cfg.MaxFrame = 512
	small := e.dial(cfg)
	if err := small.Call(callCtx(t), "echo", map[string]string{"pad": strings.Repeat("x", 1024)}, nil); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("client-side oversize = %v, want ErrFrameTooLarge", err)
	}
}

func TestVersionMismatch(t *testing.T) {
	e := newTestEnv(t)
	srv, _ := e.startServer("127.0.0.1:0", "cp-1", testHandler(nil), nil)
	ctx := callCtx(t)
	conn, err := quic.DialAddr(ctx, srv.Addr().String(), pki.ClientTLSConfig(e.ca.Fingerprint(), ServerName), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.CloseWithError(0, "")

	send := func(envelope string) error {
		str, err := conn.OpenStreamSync(ctx)
		if err != nil {
			return err
		}
		str.SetDeadline(time.Now().Add(5 * time.Second))
		if err := WriteFrame(str, []byte(envelope), 0); err != nil {
			return err
		}
		str.Close()
		payload, err := ReadFrame(str, 0)
		if err != nil {
			return err
		}
		_, err = decodeResponse(payload)
		return err
	}
	hello, _ := json.Marshal(Hello{NodeID: "edge-1", JoinToken: e.token})
	if err := send(`{"v":2,"type":"hello","body":` + string(hello) + `}`); ErrorCode(err) != CodeUnsupportedVersion {
		t.Fatalf("hello v2 = %v, want code %s", err, CodeUnsupportedVersion)
	}
	select {
	case <-conn.Context().Done():
	case <-ctx.Done():
		t.Fatal("the server kept a connection whose hello it refused")
	}
}

func TestRequestVersionMismatchAfterHello(t *testing.T) {
	e := newTestEnv(t)
	srv, _ := e.startServer("127.0.0.1:0", "cp-1", testHandler(nil), nil)
	c := e.dial(e.clientConfig(e.token, srv.Addr().String()))
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	str, err := conn.OpenStreamSync(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	str.SetDeadline(time.Now().Add(5 * time.Second))
	WriteFrame(str, []byte(`{"v":9,"type":"heartbeat","body":{}}`), 0)
	str.Close()
	payload, err := ReadFrame(str, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeResponse(payload); ErrorCode(err) != CodeUnsupportedVersion {
		t.Fatalf("v9 request = %v, want code %s", err, CodeUnsupportedVersion)
	}
}

func TestCallHonoursContext(t *testing.T) {
	e := newTestEnv(t)
	canceled := make(chan struct{}, 1)
	srv, _ := e.startServer("127.0.0.1:0", "cp-1", testHandler(canceled), nil)
	c := e.dial(e.clientConfig(e.token, srv.Addr().String()))

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Call(ctx, "slow", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow call = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("slow call returned after %v", d)
	}
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled with the call")
	}
}

func TestConcurrentCalls(t *testing.T) {
	e := newTestEnv(t)
	// Fewer stream slots than callers: calls queue, and finished streams
	// must give their slots back.
	srv, _ := e.startServer("127.0.0.1:0", "cp-1", testHandler(nil), func(cfg *ServerConfig) { cfg.MaxConcurrentRequests = 8 })
	c := e.dial(e.clientConfig(e.token, srv.Addr().String()))

	const callers, calls = 50, 4
	errs := make(chan error, callers*calls)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for j := range calls {
				var echo echoReply
				want := fmt.Sprintf(`{"i":%d,"j":%d}`, i, j)
				err := c.Call(callCtx(t), "echo", json.RawMessage(want), &echo)
				if err == nil && string(echo.Body) != want {
					err = fmt.Errorf("echo %s came back as %s", want, echo.Body)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	e := newTestEnv(t)
	srv, stop := e.startServer("127.0.0.1:0", "cp-1", testHandler(nil), nil)
	addr := srv.Addr().String()
	c := e.dial(e.clientConfig(e.token, addr))
	if _, err := c.AuthorizePublish(callCtx(t), AuthorizePublishRequest{StreamKey: "good"}); err != nil {
		t.Fatalf("before restart: %v", err)
	}

	stop()
	e.startServer(addr, "cp-2", testHandler(nil), nil)

	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.AuthorizePublish(ctx, AuthorizePublishRequest{StreamKey: "good"})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful call after the restart: %v", err)
		}
	}
	if got := c.HelloReply().NodeID; got != "cp-2" {
		t.Fatalf("HelloReply().NodeID = %q after reconnect, want cp-2", got)
	}
}

func TestFailoverToNextAddress(t *testing.T) {
	e := newTestEnv(t)
	// A socket that never answers stands for a control-plane node that is
	// down.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	srv, _ := e.startServer("127.0.0.1:0", "cp-2", testHandler(nil), nil)

	cfg := e.clientConfig(e.token, silent.LocalAddr().String(), srv.Addr().String())
	cfg.DialTimeout = 300 * time.Millisecond
	c := e.dial(cfg)
	if got := c.HelloReply().NodeID; got != "cp-2" {
		t.Fatalf("connected to %q, want cp-2", got)
	}
}

func TestDialGivesUpWithContext(t *testing.T) {
	e := newTestEnv(t)
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	cfg := e.clientConfig(e.token, silent.LocalAddr().String())
	cfg.DialTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if c, err := Dial(ctx, cfg); !errors.Is(err, context.DeadlineExceeded) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Dial to nothing = %v, want DeadlineExceeded", err)
	}
}

func TestCloseUnblocksCalls(t *testing.T) {
	e := newTestEnv(t)
	srv, stop := e.startServer("127.0.0.1:0", "cp-1", testHandler(nil), nil)
	c := e.dial(e.clientConfig(e.token, srv.Addr().String()))
	stop() // the client now waits to reconnect

	errc := make(chan error, 1)
	go func() { errc <- c.Call(context.Background(), "echo", nil, nil) }()
	c.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("call succeeded with no server")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock a waiting call")
	}
	if err := c.Call(callCtx(t), "echo", nil, nil); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("call after Close = %v, want ErrClientClosed", err)
	}
}

func TestServerLifecycle(t *testing.T) {
	e := newTestEnv(t)
	for _, cfg := range []ServerConfig{
		{Addr: "127.0.0.1:0", Authenticate: e.authenticate("x"), Handler: testHandler(nil)},
		{Addr: "127.0.0.1:0", TLS: pki.ServerTLSConfig(e.cert), Handler: testHandler(nil)},
		{Addr: "127.0.0.1:0", TLS: pki.ServerTLSConfig(e.cert), Authenticate: e.authenticate("x")},
		{TLS: pki.ServerTLSConfig(e.cert), Authenticate: e.authenticate("x"), Handler: testHandler(nil)},
	} {
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("NewServer(%+v): no error", cfg)
		}
	}

	// Closing a server that never served releases its port.
	srv, err := NewServer(ServerConfig{Addr: "127.0.0.1:0", TLS: pki.ServerTLSConfig(e.cert),
		Authenticate: e.authenticate("x"), Handler: testHandler(nil)})
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	srv.Close()
	if err := srv.Serve(context.Background()); err == nil {
		t.Fatal("Serve after Close: no error")
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	pc.Close()

	// A caller-owned socket stays open after Close.
	pc, err = net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	srv, err = NewServer(ServerConfig{PacketConn: pc, TLS: pki.ServerTLSConfig(e.cert),
		Authenticate: e.authenticate("x"), Handler: testHandler(nil)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if _, err := pc.WriteTo([]byte("x"), pc.LocalAddr()); err != nil {
		t.Fatalf("caller's socket closed by the server: %v", err)
	}
}
