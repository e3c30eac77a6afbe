package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	payloads := [][]byte{[]byte(`{"v":1}`), {}, bytes.Repeat([]byte("x"), 1000)}
	for _, p := range payloads {
		if err := WriteFrame(&buf, p, 1000); err != nil {
			t.Fatalf("WriteFrame(%d bytes): %v", len(p), err)
		}
	}
	for _, want := range payloads {
		got, err := ReadFrame(&buf, 1000)
		if err != nil {
			t.Fatalf("ReadFrame: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("ReadFrame = %q, want %q", got, want)
		}
	}
	if _, err := ReadFrame(&buf, 1000); err != io.EOF {
		t.Fatalf("ReadFrame at end = %v, want io.EOF", err)
	}
}

func TestFrameLimits(t *testing.T) {
	if err := WriteFrame(io.Discard, make([]byte, 11), 10); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("WriteFrame over limit = %v, want ErrFrameTooLarge", err)
	}
	if err := WriteFrame(io.Discard, make([]byte, DefaultMaxFrame+1), 0); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("WriteFrame over default limit = %v, want ErrFrameTooLarge", err)
	}

	huge := []byte{0xff, 0xff, 0xff, 0xff}
	if _, err := ReadFrame(bytes.NewReader(huge), 0); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("ReadFrame of a 4 GiB header = %v, want ErrFrameTooLarge", err)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 11)
	if _, err := ReadFrame(bytes.NewReader(append(hdr[:], make([]byte, 11)...)), 10); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("ReadFrame over limit = %v, want ErrFrameTooLarge", err)
	}
	for name, in := range map[string][]byte{
		"short header":  {0, 0},
		"short payload": append(hdr[:], 'a', 'b'),
		"no payload":    hdr[:],
	} {
		if _, err := ReadFrame(bytes.NewReader(in), 100); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: ReadFrame = %v, want io.ErrUnexpectedEOF", name, err)
		}
	}
}

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		in   string
		code string
	}{
		{`{"v":1,"type":"heartbeat","id":"1","body":{"node_id":"e1"}}`, ""},
		{`{"v":1,"type":"heartbeat"}`, ""},
		{`{"v":1,"type":"heartbeat","body":null}`, ""},
		{`{"v":2,"type":"heartbeat","body":{}}`, CodeUnsupportedVersion},
		{`{"type":"heartbeat","body":{}}`, CodeUnsupportedVersion},
		{`{"v":1,"body":{}}`, CodeInvalid},
		{`{"v":1,"type":`, CodeInvalid},
		{`[]`, CodeInvalid},
		{``, CodeInvalid},
	}
	for _, tc := range tests {
		req, perr := decodeRequest([]byte(tc.in))
		if codeOf(perr) != tc.code {
			t.Errorf("decodeRequest(%s) code = %q, want %q", tc.in, codeOf(perr), tc.code)
			continue
		}
		if perr == nil && !json.Valid(req.Body) {
			t.Errorf("decodeRequest(%s) body %q is not JSON", tc.in, req.Body)
		}
	}
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		in   string
		code string // "" ok, "-" a non-protocol error
	}{
		{`{"v":1,"ok":true,"body":{"a":1}}`, ""},
		{`{"v":1,"ok":true}`, ""},
		{`{"v":1,"ok":false,"error":{"code":"forbidden","message":"no"}}`, CodeForbidden},
		{`{"v":1,"ok":false}`, CodeInternal},
		{`{"v":3,"ok":true,"body":{}}`, CodeUnsupportedVersion},
		{`nope`, "-"},
	}
	for _, tc := range tests {
		_, err := decodeResponse([]byte(tc.in))
		got := ErrorCode(err)
		if err != nil && got == "" {
			got = "-"
		}
		if got != tc.code {
			t.Errorf("decodeResponse(%s) = %v, want code %q", tc.in, err, tc.code)
		}
	}
}

func TestErrorFormatting(t *testing.T) {
	e := &Error{Code: CodeForbidden, Message: "stream is disabled"}
	if e.Error() != "forbidden: stream is disabled" || (&Error{Code: CodeConflict}).Error() != "conflict" {
		t.Fatalf("Error() = %q", e.Error())
	}
	wrapped := errors.Join(errors.New("x"), e)
	if ErrorCode(wrapped) != CodeForbidden || ErrorCode(errors.New("plain")) != "" {
		t.Fatal("ErrorCode does not look through wrapping")
	}
}

func TestSecretsRedacted(t *testing.T) {
	h := Hello{NodeID: "e1", JoinToken: "lsj_secret"}
	r := AuthorizePublishRequest{StreamKey: "sk_secret", Protocol: IngestRTMP}
	st := StreamInfo{ID: "str_1", SRTPassphrase: "a secret passphrase"}
	var buf bytes.Buffer
	log := newBufferLogger(&buf)
	log.Info("x", "hello", h, "req", r, "stream", st, "reply", AuthorizePublishReply{Stream: st})
	for _, s := range []string{h.String(), r.String(), st.String(), fmt.Sprint(AuthorizePublishReply{Stream: st}), buf.String()} {
		if strings.Contains(s, "secret") {
			t.Errorf("secret in %q", s)
		}
	}
	if !strings.Contains(h.String(), "e1") {
		t.Errorf("Hello.String() = %q lost the node id", h.String())
	}
}

func FuzzReadFrame(f *testing.F) {
	seed := func(payload string) []byte {
		var b bytes.Buffer
		WriteFrame(&b, []byte(payload), 0)
		return b.Bytes()
	}
	f.Add(seed(`{"v":1,"type":"hello","id":"1","body":{"node_id":"e1"}}`))
	f.Add(seed(`{"v":1,"ok":false,"error":{"code":"forbidden"}}`))
	f.Add(seed(`{"v":2,"type":"x"}`))
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0})
	const max = 4096
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, err := ReadFrame(bytes.NewReader(data), max)
		if err != nil {
			if payload != nil {
				t.Fatal("payload returned with an error")
			}
			return
		}
		if len(payload) > max || len(payload) > len(data) {
			t.Fatalf("payload of %d bytes from %d bytes of input", len(payload), len(data))
		}
		// Whatever the envelope, decoding must answer, not panic, and a
		// request that decodes survives a round trip.
		decodeResponse(payload)
		req, perr := decodeRequest(payload)
		if perr != nil {
			return
		}
		again, err := encodeRequest(req.Type, req.ID, req.Body)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, perr := decodeRequest(again)
		if perr != nil || back.Type != req.Type || back.ID != req.ID {
			t.Fatalf("round trip: %+v -> %+v (%v)", req, back, perr)
		}
	})
}
