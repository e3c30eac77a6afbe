package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error codes of the API, each with one HTTP status.
const (
	CodeInvalid      = "invalid"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeTooLarge     = "too_large"
	CodeRateLimited  = "rate_limited"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal"
)

// Error is an error answer of the API. Code and Message come from its
// {"error":{"code","message"}} body; an answer of another shape (a proxy's
// error page) has no Code and the status text as Message.
type Error struct {
	Status  int
	Code    string
	Message string
	// Method and Path are the request's, for callers that word errors by
	// route (a login's 401 is about the password, not a missing token).
	Method, Path string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s (HTTP %d", e.Message, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	return s + ")"
}

// StatusOf is the HTTP status of an API error in err's chain; 0 when err
// is not one.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// IsNotFound reports an API answer of 404: the object does not exist or
// belongs to another org.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// IsConflict reports an API answer of 409: the object's state does not
// allow the request (a stream not live, a job already finished).
func IsConflict(err error) bool { return StatusOf(err) == http.StatusConflict }

// IsUnauthorized reports an API answer of 401: no, a wrong or an expired
// token.
func IsUnauthorized(err error) bool { return StatusOf(err) == http.StatusUnauthorized }

// ConnError reports that no address took the request.
type ConnError struct {
	Addrs []string
	Err   error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("cannot reach the control plane: %v; tried %s", e.Err, strings.Join(e.Addrs, ", "))
}

func (e *ConnError) Unwrap() error { return e.Err }

// check turns an answer other than 2xx (or 3xx when r.noRedirect) into an
// *Error and closes its body.
func check(r request, resp *http.Response) error {
	if resp.StatusCode < 300 || (r.noRedirect && resp.StatusCode < 400) {
		return nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode, Method: r.method, Path: r.path}
	var body ErrorBody
	if json.Unmarshal(raw, &body) == nil && body.Error.Message != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	} else {
		// Not the API's shape: a proxy, a redirect that was not followed,
		// or a server of something else.
		e.Message = strings.ToLower(http.StatusText(resp.StatusCode))
		if e.Message == "" {
			e.Message = "unexpected answer"
		}
	}
	return e
}
