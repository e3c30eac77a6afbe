package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// maxAnswer bounds the JSON answers the CLI reads into memory.
const maxAnswer = 64 << 20

// client calls the REST API on the first control-plane node that accepts a
// connection. Every node serves the whole API (followers forward writes), so
// a dead node is skipped by trying the next address.
type client struct {
	addrs      []string
	cur        int // index of the address that answered last
	token, org string
	consistent bool
	timeout    time.Duration // per request; 0 for none
	http       *http.Client
}

func newClient(httpc *http.Client, addrs []string, token, org string, consistent bool, timeout time.Duration) *client {
	if httpc == nil {
		httpc = newHTTPClient()
	}
	return &client{
		addrs:      addrs,
		token:      token,
		org:        org,
		consistent: consistent,
		timeout:    timeout,
		http:       httpc,
	}
}

// newHTTPClient returns the client of one Run. Its dial timeout is short so
// that a node that drops packets (rather than refusing) is skipped quickly.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t}
}

// addr is the address that answered last (the first one before any call).
func (c *client) addr() string { return c.addrs[c.cur] }

// APIError is an error answer of the API, in its documented shape
// {"error":{"code","message"}}.
type APIError struct {
	Status  int
	Code    string
	Message string
	hint    string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s (HTTP %d", e.Message, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	s += ")"
	if e.hint != "" {
		s += "; " + e.hint
	}
	return s
}

// connError reports that no address accepted the request.
type connError struct {
	addrs []string
	err   error
}

func (e *connError) Error() string {
	return fmt.Sprintf("cannot reach the control plane: %v; is the control plane running at %s? set LIVESTREAMS_ADDR or --addr",
		e.err, strings.Join(e.addrs, ", "))
}

func (e *connError) Unwrap() error { return e.err }

// request is one API call. Exactly one of body (JSON-encoded) and raw (sent
// as application/octet-stream, reopened for each address tried) may be set.
type request struct {
	method, path string
	body         any
	raw          func() (io.Reader, int64, error)
	noTimeout    bool
}

// do sends r and returns the response of the first node that took it, or
// an *APIError for an answer other than 2xx. The caller closes the body;
// closing it also releases the request's timeout.
func (c *client) do(ctx context.Context, r request) (*http.Response, error) {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", r.method, r.path, err)
		}
	}
	var lastErr error
	for i := range c.addrs {
		idx := (c.cur + i) % len(c.addrs)
		resp, err := c.send(ctx, c.addrs[idx], r, payload)
		if err == nil {
			c.cur = idx
			return resp, c.check(resp)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", c.timeout)
		}
		if !retryable(r.method, err) {
			// Not repeated elsewhere: the node may have applied it.
			return nil, fmt.Errorf("%s %s on %s: %w (it may have been applied)", r.method, r.path, c.addrs[idx], unwrapURL(err))
		}
		lastErr = unwrapURL(err)
	}
	return nil, &connError{addrs: c.addrs, err: lastErr}
}

func (c *client) send(ctx context.Context, addr string, r request, payload []byte) (*http.Response, error) {
	cancel := context.CancelFunc(func() {})
	if c.timeout > 0 && !r.noTimeout {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
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
	req, err := http.NewRequestWithContext(ctx, r.method, addr+r.path, body)
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
	req.Header.Set("User-Agent", "livestreams-cli")
	req.Header.Set("Accept", "application/json")
	switch {
	case payload != nil:
		req.Header.Set("Content-Type", "application/json")
	case r.raw != nil:
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.org != "" {
		req.Header.Set("X-Livestreams-Org", c.org)
	}
	if c.consistent && r.method == http.MethodGet {
		req.Header.Set("X-Livestreams-Consistent", "1")
	}
	resp, err := c.http.Do(req)
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

// check turns an answer other than 2xx into an *APIError and closes its
// body.
func (c *client) check(resp *http.Response) error {
	if resp.StatusCode < 300 {
		return nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &APIError{Status: resp.StatusCode}
	var shape struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &shape) == nil && shape.Error.Message != "" {
		e.Code, e.Message = shape.Error.Code, shape.Error.Message
	} else {
		// Not the API's shape: a proxy, a redirect that was not followed, or
		// a server of something else.
		e.Message = strings.ToLower(http.StatusText(resp.StatusCode))
		if e.Message == "" {
			e.Message = "unexpected answer"
		}
	}
	// A login's 401 is about the password, not about a missing token.
	if resp.StatusCode == http.StatusUnauthorized && c.token == "" && !strings.Contains(resp.Request.URL.Path, "/v1/auth/") {
		e.hint = "set LIVESTREAMS_TOKEN or --token"
	}
	return e
}

// call sends r and decodes a JSON answer into out (when out is not nil). It
// returns the raw answer for --json.
func (c *client) call(ctx context.Context, r request, out any) ([]byte, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", r.method, r.path, err)
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%s %s: decode answer: %w", r.method, r.path, err)
		}
	}
	return raw, nil
}

func (c *client) get(ctx context.Context, path string, out any) ([]byte, error) {
	return c.call(ctx, request{method: http.MethodGet, path: path}, out)
}

func (c *client) post(ctx context.Context, path string, body, out any) ([]byte, error) {
	if body == nil {
		body = struct{}{}
	}
	return c.call(ctx, request{method: http.MethodPost, path: path, body: body}, out)
}

func (c *client) delete(ctx context.Context, path string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: path}, nil)
	return err
}
