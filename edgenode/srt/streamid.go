package srt

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxStreamIDLen is the longest streamid libsrt carries (SRTO_STREAMID);
// anything longer is refused before it is looked at.
const MaxStreamIDLen = 512

// Bounds on the pieces of a streamid, well above what encoders send.
const (
	maxStreamIDFields = 16
	maxKeyLen         = 256
	maxAppLen         = 64
)

// Mode is the `m` key of an access-control streamid: what the caller
// wants to do with the resource.
type Mode string

// The modes of the SRT access-control convention. This server accepts
// only ModePublish; a streamid without `m` is taken as a publish, since
// ingest is all it offers.
const (
	ModePublish       Mode = "publish"
	ModeRequest       Mode = "request"
	ModeBidirectional Mode = "bidirectional"
)

// StreamID is a parsed streamid. Key is a secret: never log it.
type StreamID struct {
	App   string // resource prefix before the key ("live" in live/KEY), may be empty
	Key   string // the stream key
	Query string // what followed '?' in the resource, without the '?'
	Mode  Mode

	// Other standard keys of the access-control syntax, passed on as sent.
	User    string // u
	Host    string // h
	Session string // s
	Type    string // t: "stream" (or empty) for live media
}

// ErrMalformedStreamID is what every parse error wraps.
var ErrMalformedStreamID = errors.New("malformed streamid")

// accessControlPrefix starts the key-value syntax of the SRT access
// control guidelines: #!::k=v,k=v.
const accessControlPrefix = "#!::"

// ParseStreamID reads the stream key from what a publisher sent in
// streamid: either the access-control syntax `#!::r=live/KEY,m=publish`
// (keys r, m, u, h, s, t; unknown keys are ignored) or a bare `KEY` or
// `live/KEY`. The resource is at most app/key, with an optional ?query.
// Errors wrap ErrMalformedStreamID and never contain the key.
func ParseStreamID(s string) (StreamID, error) {
	var id StreamID
	if s == "" {
		return id, fmt.Errorf("%w: empty", ErrMalformedStreamID)
	}
	if len(s) > MaxStreamIDLen {
		return id, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedStreamID, len(s), MaxStreamIDLen)
	}
	if !utf8.ValidString(s) {
		return id, fmt.Errorf("%w: not UTF-8", ErrMalformedStreamID)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == ' ' {
			return id, fmt.Errorf("%w: control character or space", ErrMalformedStreamID)
		}
	}
	resource := s
	if strings.HasPrefix(s, "#!:") {
		if !strings.HasPrefix(s, accessControlPrefix) {
			return id, fmt.Errorf("%w: only the #!:: form of the access-control syntax is supported", ErrMalformedStreamID)
		}
		var err error
		if resource, err = parseFields(s[len(accessControlPrefix):], &id); err != nil {
			return StreamID{}, err
		}
	} else {
		id.Mode = ModePublish
	}
	if err := parseResource(resource, &id); err != nil {
		return StreamID{}, err
	}
	return id, nil
}

// parseFields reads the k=v,k=v list into id and returns the resource.
func parseFields(body string, id *StreamID) (string, error) {
	fields := strings.Split(body, ",")
	if len(fields) > maxStreamIDFields {
		return "", fmt.Errorf("%w: more than %d fields", ErrMalformedStreamID, maxStreamIDFields)
	}
	var resource string
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return "", fmt.Errorf("%w: field without key=value", ErrMalformedStreamID)
		}
		if seen[k] {
			return "", fmt.Errorf("%w: key %q given twice", ErrMalformedStreamID, safeKeyName(k))
		}
		seen[k] = true
		switch k {
		case "r":
			resource = v
		case "m":
			id.Mode = Mode(v)
		case "u":
			id.User = v
		case "h":
			id.Host = v
		case "s":
			id.Session = v
		case "t":
			id.Type = v
		}
	}
	switch id.Mode {
	case "":
		id.Mode = ModePublish
	case ModePublish, ModeRequest, ModeBidirectional:
	default:
		return "", fmt.Errorf("%w: unknown mode (m=) %q", ErrMalformedStreamID, truncate(string(id.Mode), 32))
	}
	if resource == "" {
		return "", fmt.Errorf("%w: no resource (r=)", ErrMalformedStreamID)
	}
	return resource, nil
}

// parseResource splits app/key?query into id.
func parseResource(resource string, id *StreamID) error {
	path, query, _ := strings.Cut(resource, "?")
	path = strings.TrimLeft(path, "/")
	app, key, ok := strings.Cut(path, "/")
	if !ok {
		app, key = "", path
	}
	switch {
	case key == "":
		return fmt.Errorf("%w: no stream key", ErrMalformedStreamID)
	case strings.Contains(key, "/"):
		return fmt.Errorf("%w: resource has more than app/key", ErrMalformedStreamID)
	case len(key) > maxKeyLen:
		return fmt.Errorf("%w: stream key longer than %d bytes", ErrMalformedStreamID, maxKeyLen)
	case len(app) > maxAppLen:
		return fmt.Errorf("%w: app longer than %d bytes", ErrMalformedStreamID, maxAppLen)
	case !printableASCII(key) || !printableASCII(app):
		return fmt.Errorf("%w: stream key or app outside printable ASCII", ErrMalformedStreamID)
	}
	id.App, id.Key, id.Query = app, key, query
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// safeKeyName keeps error messages short; field names are not secret,
// but a caller could put anything there.
func safeKeyName(k string) string { return truncate(k, 16) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
