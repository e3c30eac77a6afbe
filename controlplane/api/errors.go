package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/state"
)

// Error codes of the API, each with one HTTP status (docs/api.md); the
// client package declares them for its callers.
const (
	codeInvalid      = client.CodeInvalid
	codeUnauthorized = client.CodeUnauthorized
	codeForbidden    = client.CodeForbidden
	codeNotFound     = client.CodeNotFound
	codeConflict     = client.CodeConflict
	codeTooLarge     = client.CodeTooLarge
	codeRateLimited  = client.CodeRateLimited
	codeUnavailable  = client.CodeUnavailable
	codeInternal     = client.CodeInternal
)

var codeStatus = map[string]int{
	codeInvalid:      http.StatusBadRequest,
	codeUnauthorized: http.StatusUnauthorized,
	codeForbidden:    http.StatusForbidden,
	codeNotFound:     http.StatusNotFound,
	codeConflict:     http.StatusConflict,
	codeTooLarge:     http.StatusRequestEntityTooLarge,
	codeRateLimited:  http.StatusTooManyRequests,
	codeUnavailable:  http.StatusServiceUnavailable,
	codeInternal:     http.StatusInternalServerError,
}

// apiError is an answer the client is meant to read: its code and message
// go out as they are.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, a ...any) error {
	return &apiError{Code: code, Message: fmt.Sprintf(format, a...)}
}

func invalid(format string, a ...any) error   { return errorf(codeInvalid, format, a...) }
func forbidden(format string, a ...any) error { return errorf(codeForbidden, format, a...) }
func notFound(format string, a ...any) error  { return errorf(codeNotFound, format, a...) }
func conflict(format string, a ...any) error  { return errorf(codeConflict, format, a...) }

var errUnauthorized = &apiError{Code: codeUnauthorized, Message: "authentication required: send Authorization: Bearer <token or API key>"}

// errUncommitted wraps a failure of the Raft write path that is not a
// refusal by the state machine: the write may or may not have committed.
type errUncommitted struct{ err error }

func (e errUncommitted) Error() string { return e.err.Error() }
func (e errUncommitted) Unwrap() error { return e.err }

// toAPIError maps any error a handler returns to the code and message the
// client sees; ok is false for unexpected failures, whose detail is logged
// rather than sent.
func toAPIError(err error) (e apiError, expected bool) {
	var ae *apiError
	var se *state.Error
	var tooLarge *http.MaxBytesError
	var unc errUncommitted
	switch {
	case errors.As(err, &ae):
		return *ae, true
	case errors.As(err, &se):
		if _, known := codeStatus[se.Code]; known && se.Code != codeInternal {
			return apiError{Code: se.Code, Message: se.Message}, true
		}
	case errors.As(err, &tooLarge):
		return apiError{Code: codeTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}, true
	case errors.As(err, &unc):
		// Before the deadline case: a forwarded write that timed out may
		// still commit, and the client must not take it for refused.
		return apiError{Code: codeUnavailable, Message: "the cluster could not confirm the change; it may or may not have been applied"}, false
	case errors.Is(err, cluster.ErrNoLeader), errors.Is(err, context.DeadlineExceeded):
		return apiError{Code: codeUnavailable, Message: "the cluster has no leader right now; try again"}, true
	}
	return apiError{Code: codeInternal, Message: "internal error"}, false
}

// writeError is the one place errors become HTTP answers.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, expected := toAPIError(err)
	if !expected {
		h.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(r.Context())), slog.String("method", r.Method),
			slog.String("route", routePattern(r)), slog.String("err", err.Error()))
	}
	if e.Code == codeUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="livestreams"`)
	}
	writeJSON(w, codeStatus[e.Code], errorBody(e.Code, e.Message))
}

func errorBody(code, message string) client.ErrorBody {
	var b client.ErrorBody
	b.Error.Code, b.Error.Message = code, message
	return b
}

// writeJSON writes v as the JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// list is the documented shape of every collection.
type list[T any] = client.List[T]

func items[T any](v []T) list[T] {
	if v == nil {
		v = []T{}
	}
	return list[T]{Items: v}
}

// decode reads one JSON object from the body into v: unknown fields,
// wrong types and anything after the object are refused. An empty body is
// an empty object when optional is set, else an error.
func decode(r *http.Request, v any, optional bool) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return err
		case errors.Is(err, io.EOF):
			if optional {
				return nil
			}
			return invalid("request body is required: a JSON object")
		}
		return invalid("malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return invalid("malformed JSON body: unexpected data after the object")
	}
	return nil
}

// jsonProblem words a decoding error for the client without Go type names.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return fmt.Sprintf("field %q must be %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
		}
		return "the body must be a JSON object"
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("syntax error at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f
	}
	return "could not decode"
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "uint", "uint64", "uint32", "float64":
		return "a number"
	case "struct", "map", "ptr":
		return "an object"
	case "slice":
		return "an array"
	}
	return "of another type"
}
