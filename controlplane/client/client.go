// Package client is the typed Go client of the control plane's /v1 API:
// the request and answer types of every route, declared once and shared
// with the server that encodes them, and a Client with one method per
// route, grouped by resource (c.Streams().Create, c.Cluster().Snapshot).
// The CLI, `livestreams dev`, the test harnesses and the end-to-end tests
// all talk to the API through it.
//
// A Client holds a list of control-plane addresses: every node serves the
// whole API (followers forward writes), so a request that cannot reach one
// node goes to the next, as long as repeating it is safe. API errors come
// back as *Error with the HTTP status and the API's error code.
//
// It deliberately does not: retry a request a node answered (an error
// answer is the answer), guess at answers of another shape, follow the
// /v1/play redirects to an edge (Play returns the URL), talk to the
// node-to-node /internal endpoints, or keep any state beyond the address
// that answered last. It imports nothing of the server; the server
// imports it for the types.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxAnswer bounds the JSON answers read into memory.
const maxAnswer = 64 << 20

// Config configures a Client.
type Config struct {
	// Addrs are the base URLs of control-plane nodes
	// ("http://127.0.0.1:4646"), tried in order; at least one.
	Addrs []string
	// Token is a session token or an lsk_ API key; empty sends none.
	Token string
	// Org is the org a user's session token acts in (X-Livestreams-Org).
	Org string
	// Consistent asks for leader-confirmed reads on every GET.
	Consistent bool
	// Timeout bounds each request but the snapshot streams; zero for none.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means NewHTTPClient().
	HTTPClient *http.Client
	// UserAgent defaults to "livestreams-client".
	UserAgent string
}

// Client calls /v1 on the first control-plane node that takes the
// request. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client

	mu  sync.Mutex
	cur int // index of the address that answered last
}

// New returns a client of the nodes at cfg.Addrs.
func New(cfg Config) (*Client, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("client: no control-plane address")
	}
	cfg.Addrs = append([]string(nil), cfg.Addrs...)
	for i, a := range cfg.Addrs {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("client: address %q is not an http(s) URL", a)
		}
		cfg.Addrs[i] = strings.TrimRight(a, "/")
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "livestreams-client"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = NewHTTPClient()
	}
	return &Client{cfg: cfg, http: hc}, nil
}

// NewHTTPClient returns the HTTP client New uses when Config.HTTPClient is
// nil. Its dial timeout is short so that a node that drops packets (rather
// than refusing) is skipped quickly.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t}
}

// As returns a client of the same nodes acting with another token (a
// session token after Login, an API key after APIKeys().Create) in org
// ("" for the token's own or first org).
func (c *Client) As(token, org string) *Client {
	cfg := c.cfg
	cfg.Addrs = c.Addrs()
	cfg.Token, cfg.Org = token, org
	return &Client{cfg: cfg, http: c.http, cur: c.lastAddr()}
}

// Addrs are the base URLs of the nodes the client tries.
func (c *Client) Addrs() []string { return append([]string(nil), c.cfg.Addrs...) }

// Addr is the base URL of the node that answered last (the first one
// before any request).
func (c *Client) Addr() string { return c.cfg.Addrs[c.lastAddr()] }

func (c *Client) lastAddr() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// Token is the token the client sends.
func (c *Client) Token() string { return c.cfg.Token }

// request is one API call. At most one of body (JSON-encoded) and raw
// (sent as rawType, application/octet-stream when empty, reopened for
// each address tried) is set.
type request struct {
	method, path string
	query        url.Values
	body         any
	raw          func() (io.Reader, int64, error)
	rawType      string
	noTimeout    bool
	// noRedirect keeps a 3xx as the answer (Play).
	noRedirect bool
	// headers are set on the request last (empty values left out).
	headers map[string]string
}

func (r request) target() string {
	if len(r.query) == 0 {
		return r.path
	}
	return r.path + "?" + r.query.Encode()
}

// do sends r and returns the answer of the first node that took it, or an
// *Error for an answer other than 2xx (and 3xx when noRedirect). The
// caller closes the body; closing it also releases the request's timeout.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", r.method, r.path, err)
		}
	}
	first := c.lastAddr()
	var lastErr error
	for i := range c.cfg.Addrs {
		idx := (first + i) % len(c.cfg.Addrs)
		addr := c.cfg.Addrs[idx]
		resp, err := c.send(ctx, addr, r, payload)
		if err == nil {
			c.mu.Lock()
			c.cur = idx
			c.mu.Unlock()
			return resp, check(r, resp)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", c.cfg.Timeout)
		}
		if !retryable(r.method, err) {
			// Not repeated elsewhere: the node may have applied it.
			return nil, fmt.Errorf("%s %s on %s: %w (it may have been applied)", r.method, r.path, addr, unwrapURL(err))
		}
		lastErr = unwrapURL(err)
	}
	return nil, &ConnError{Addrs: c.cfg.Addrs, Err: lastErr}
}

func (c *Client) send(ctx context.Context, addr string, r request, payload []byte) (*http.Response, error) {
	cancel := context.CancelFunc(func() {})
	if c.cfg.Timeout > 0 && !r.noTimeout {
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
	}
	var body io.Reader
	var length int64
	switch {
	case payload != nil:
		body, length = bytes.NewReader(payload), int64(len(payload))
	case r.raw != nil:
		var err error
		if body, length, err = r.raw(); err != nil {
			cancel()
			return nil, err
		}
		if length == 0 {
			body = http.NoBody
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, addr+r.target(), body)
	if err != nil {
		cancel()
		return nil, err
	}
	req.ContentLength = length
	if r.raw != nil && length > 0 {
		// Lets the transport follow a 307/308 with the body.
		req.GetBody = func() (io.ReadCloser, error) {
			b, _, err := r.raw()
			return io.NopCloser(b), err
		}
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "application/json")
	switch {
	case payload != nil:
		req.Header.Set("Content-Type", "application/json")
	case r.raw != nil && r.rawType != "":
		req.Header.Set("Content-Type", r.rawType)
	case r.raw != nil:
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	if c.cfg.Org != "" {
		req.Header.Set("X-Livestreams-Org", c.cfg.Org)
	}
	if c.cfg.Consistent && r.method == http.MethodGet {
		req.Header.Set("X-Livestreams-Consistent", "1")
	}
	for k, v := range r.headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	hc := c.http
	if r.noRedirect {
		nc := *c.http
		nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		hc = &nc
	}
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// retryable says whether another address may be tried after err. A request
// that never reached a server (the dial failed) is safe to repeat whatever
// its method; a GET is safe to repeat after any transport failure.
func retryable(method string, err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	return method == http.MethodGet
}

// unwrapURL drops the *url.Error wrapper, whose message repeats the method
// and the URL, keeping the network error underneath.
func unwrapURL(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
}

type answerKey struct{}

// KeepAnswer returns a context under which each call stores its answer's
// JSON body in *dst as the server sent it, fields this package does not
// know included (the CLI prints it for --json).
func KeepAnswer(ctx context.Context, dst *[]byte) context.Context {
	return context.WithValue(ctx, answerKey{}, dst)
}

// call sends r and decodes a JSON answer into out (when out is not nil).
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", r.method, r.path, err)
	}
	if dst, ok := ctx.Value(answerKey{}).(*[]byte); ok {
		*dst = raw
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", r.method, r.path, err)
		}
	}
	return nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.call(ctx, request{method: http.MethodGet, path: path, query: q}, out)
}

// post sends body (an empty object when nil) as JSON.
func (c *Client) post(ctx context.Context, path string, body, out any) error {
	if body == nil {
		body = struct{}{}
	}
	return c.call(ctx, request{method: http.MethodPost, path: path, body: body}, out)
}

func (c *Client) send1(ctx context.Context, method, path string, body, out any) error {
	return c.call(ctx, request{method: method, path: path, body: body}, out)
}

func (c *Client) delete(ctx context.Context, path string, out any) error {
	return c.call(ctx, request{method: http.MethodDelete, path: path}, out)
}

// pathf builds an API path, escaping each argument as one path segment.
func pathf(format string, ids ...string) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(format, args...)
}
