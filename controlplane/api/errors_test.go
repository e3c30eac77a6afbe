package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/state"
)

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		err      error
		code     string
		expected bool
	}{
		{notFound("stream x not found"), codeNotFound, true},
		{state.NotFound("stream %s", "x"), codeNotFound, true},
		{state.Conflict("dup"), codeConflict, true},
		{state.Invalid("bad"), codeInvalid, true},
		{&state.Error{Code: "forbidden", Message: "setup token is invalid"}, codeForbidden, true},
		{&state.Error{Code: "internal", Message: "disk on fire"}, codeInternal, false},
		{&state.Error{Code: "weird", Message: "?"}, codeInternal, false},
		{fmt.Errorf("apply: %w", cluster.ErrNoLeader), codeUnavailable, true},
		{context.DeadlineExceeded, codeUnavailable, true},
		{errUncommitted{fmt.Errorf("call leader: %w", context.DeadlineExceeded)}, codeUnavailable, false},
		{&http.MaxBytesError{Limit: 10}, codeTooLarge, true},
		{errors.New("boom"), codeInternal, false},
	}
	for _, c := range cases {
		e, expected := toAPIError(c.err)
		if e.Code != c.code || expected != c.expected {
			t.Errorf("%v: %s (expected %v), want %s (%v)", c.err, e.Code, expected, c.code, c.expected)
		}
		if _, ok := codeStatus[e.Code]; !ok {
			t.Errorf("%v: code %s has no status", c.err, e.Code)
		}
	}
	if e, _ := toAPIError(errUncommitted{errors.New("x")}); e.Message == "" || e.Message == "internal error" {
		t.Errorf("uncommitted write message %q", e.Message)
	}
	if e, _ := toAPIError(errors.New("secret detail")); e.Message != "internal error" {
		t.Errorf("an unexpected error's detail reached the client: %q", e.Message)
	}
}
