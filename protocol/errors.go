package protocol

import "errors"

// Error codes carried in error responses. Handlers choose one by returning
// an *Error; any other error is sent as CodeInternal without its text.
const (
	// CodeUnauthorized: the hello's join token was not accepted. The server
	// closes the connection after sending it.
	CodeUnauthorized = "unauthorized"
	// CodeForbidden: the request is understood and refused, e.g. an
	// unknown, disabled or reset stream key.
	CodeForbidden = "forbidden"
	// CodeConflict: the request clashes with current state, e.g. the
	// stream is already live.
	CodeConflict = "conflict"
	// CodeNotFound: the request names something that does not exist.
	CodeNotFound = "not_found"
	// CodeInvalid: the request is malformed or fails validation.
	CodeInvalid = "invalid"
	// CodeUnknownType: the server does not know the message type.
	CodeUnknownType = "unknown_type"
	// CodeUnsupportedVersion: the envelope's version is not one the peer
	// speaks.
	CodeUnsupportedVersion = "unsupported_version"
	// CodeFrameTooLarge: the frame exceeds the receiver's limit.
	CodeFrameTooLarge = "frame_too_large"
	// CodeUnavailable: the server cannot answer right now (no leader, not
	// initialized, shutting down); the request may be retried, also on
	// another control-plane node.
	CodeUnavailable = "unavailable"
	// CodeInternal: the server failed; details are in its log only.
	CodeInternal = "internal"
)

// Error is an error response: a stable machine-readable Code and a message
// for people. Messages must never carry secrets (tokens, stream keys).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// ErrorCode returns the code of the *Error in err's chain, or "" if there is
// none (a transport failure, a timeout).
func ErrorCode(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
