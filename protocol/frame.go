package protocol

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Version is the envelope version this package speaks.
const Version = 1

// DefaultMaxFrame is the frame size limit when none is configured.
const DefaultMaxFrame = 1 << 20

// frameHeader is the size of the length prefix.
const frameHeader = 4

// ErrFrameTooLarge reports a frame over the configured limit.
var ErrFrameTooLarge = errors.New("frame too large")

// Request is the envelope of a request frame.
type Request struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"`
	Body json.RawMessage `json:"body,omitempty"`
}

// Response is the envelope of a response frame: Body when OK, else Error.
type Response struct {
	V     int             `json:"v"`
	OK    bool            `json:"ok"`
	Body  json.RawMessage `json:"body,omitempty"`
	Error *Error          `json:"error,omitempty"`
}

// WriteFrame writes payload as one frame. It refuses payloads over max
// bytes (DefaultMaxFrame if max <= 0) without writing anything.
func WriteFrame(w io.Writer, payload []byte, max int) error {
	max = frameLimit(max)
	if len(payload) > max {
		return fmt.Errorf("write frame: %d bytes over the %d-byte limit: %w", len(payload), max, ErrFrameTooLarge)
	}
	buf := make([]byte, frameHeader+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(len(payload)))
	copy(buf[frameHeader:], payload)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// ReadFrame reads one frame and returns its payload. A frame over max bytes
// (DefaultMaxFrame if max <= 0) is refused before its payload is read or
// allocated. It returns io.EOF only if the stream ended cleanly before the
// frame began.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	max = frameLimit(max)
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read frame header: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("read frame: %d bytes over the %d-byte limit: %w", n, max, ErrFrameTooLarge)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read frame payload: %w", err)
	}
	return payload, nil
}

func frameLimit(max int) int {
	if max <= 0 {
		return DefaultMaxFrame
	}
	return max
}

// decodeRequest parses a request envelope. Problems come back as the
// *Error to answer with.
func decodeRequest(payload []byte) (Request, *Error) {
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return Request{}, &Error{Code: CodeInvalid, Message: "malformed request envelope"}
	}
	if req.V != Version {
		return Request{}, &Error{Code: CodeUnsupportedVersion, Message: fmt.Sprintf("envelope version %d, this server speaks %d", req.V, Version)}
	}
	if req.Type == "" {
		return Request{}, &Error{Code: CodeInvalid, Message: "request has no type"}
	}
	if len(req.Body) == 0 || string(req.Body) == "null" {
		req.Body = json.RawMessage("{}")
	}
	return req, nil
}

// decodeResponse parses a response envelope; an error response comes back
// as its *Error.
func decodeResponse(payload []byte) (json.RawMessage, error) {
	var resp Response
	if err := json.Unmarshal(payload, &resp); err != nil {
		return nil, fmt.Errorf("malformed response envelope: %w", err)
	}
	if resp.V != Version {
		return nil, &Error{Code: CodeUnsupportedVersion, Message: fmt.Sprintf("response envelope version %d, this client speaks %d", resp.V, Version)}
	}
	if !resp.OK {
		if resp.Error == nil || resp.Error.Code == "" {
			return nil, &Error{Code: CodeInternal, Message: "error response without a code"}
		}
		return nil, resp.Error
	}
	if len(resp.Body) == 0 {
		resp.Body = json.RawMessage("{}")
	}
	return resp.Body, nil
}

// encodeRequest builds a request envelope around req's JSON.
func encodeRequest(msgType, id string, req any) ([]byte, error) {
	body := json.RawMessage("{}")
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("encode %s body: %w", msgType, err)
		}
		body = b
	}
	return json.Marshal(Request{V: Version, Type: msgType, ID: id, Body: body})
}

// encodeReply builds a success envelope around body's JSON.
func encodeReply(body any) ([]byte, error) {
	b := json.RawMessage("{}")
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode reply: %w", err)
		}
		if string(b) == "null" {
			b = json.RawMessage("{}")
		}
	}
	return json.Marshal(Response{V: Version, OK: true, Body: b})
}

// encodeError builds an error envelope; it cannot fail.
func encodeError(e *Error) []byte {
	b, _ := json.Marshal(Response{V: Version, OK: false, Error: e})
	return b
}
