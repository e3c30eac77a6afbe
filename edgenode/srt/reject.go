package srt

import (
	"context"
	"errors"
	"fmt"
)

// RejectReason is the code a refused caller receives in the handshake:
// the SRT_REJX_* codes of libsrt's access_control.h, HTTP statuses
// shifted into SRT's predefined range (SRT_REJC_PREDEFINED + status).
// ffmpeg and other callers print it as the reason the connection failed.
type RejectReason int

// The reject reasons this package sends.
const (
	RejectBadRequest   RejectReason = 1400 // malformed streamid
	RejectUnauthorized RejectReason = 1401 // wrong or unknown stream key
	RejectOverload     RejectReason = 1402 // connection caps reached
	RejectForbidden    RejectReason = 1403 // refused for any other reason
	RejectNotFound     RejectReason = 1404 // no such stream
	RejectBadMode      RejectReason = 1405 // m=request or m=bidirectional
	RejectConflict     RejectReason = 1409 // the stream is already live
	RejectNotSupMedia  RejectReason = 1415 // t= other than stream
	RejectInternal     RejectReason = 1500 // unexpected server error
	RejectUnavailable  RejectReason = 1503 // shutting down, or the authorizer did not answer in time
)

func (r RejectReason) String() string {
	switch r {
	case RejectBadRequest:
		return "bad request"
	case RejectUnauthorized:
		return "unauthorized"
	case RejectOverload:
		return "overload"
	case RejectForbidden:
		return "forbidden"
	case RejectNotFound:
		return "not found"
	case RejectBadMode:
		return "bad mode"
	case RejectConflict:
		return "conflict"
	case RejectNotSupMedia:
		return "media type not supported"
	case RejectInternal:
		return "internal error"
	case RejectUnavailable:
		return "unavailable"
	}
	return fmt.Sprintf("reject %d", int(r))
}

// RejectError is an Authorize refusal with the reason the caller is sent.
type RejectError struct {
	Reason RejectReason
	Err    error
}

// Reject returns an error that makes Authorize refuse with reason.
func Reject(reason RejectReason, err error) error {
	return &RejectError{Reason: reason, Err: err}
}

func (e *RejectError) Error() string {
	if e.Err == nil {
		return e.Reason.String()
	}
	return e.Reason.String() + ": " + e.Err.Error()
}

func (e *RejectError) Unwrap() error { return e.Err }

// reasonOf maps an Authorize error to the reason sent: a RejectError's
// own, RejectUnavailable when the authorizer ran out of time, and
// RejectForbidden otherwise.
func reasonOf(err error) RejectReason {
	var re *RejectError
	switch {
	case errors.As(err, &re):
		return re.Reason
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return RejectUnavailable
	}
	return RejectForbidden
}
