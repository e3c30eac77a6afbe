package srt

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseStreamID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want StreamID
	}{
		{"#!::r=live/abc123,m=publish", StreamID{App: "live", Key: "abc123", Mode: ModePublish}},
		{"#!::m=publish,r=live/abc123", StreamID{App: "live", Key: "abc123", Mode: ModePublish}},
		{"#!::r=abc123", StreamID{Key: "abc123", Mode: ModePublish}},
		{"#!::r=/live/abc123,m=publish", StreamID{App: "live", Key: "abc123", Mode: ModePublish}},
		{"#!::r=live/abc123?secret=x&y=z,m=publish", StreamID{App: "live", Key: "abc123", Query: "secret=x&y=z", Mode: ModePublish}},
		{"#!::u=alice,r=live/k,h=edge.example.com,s=sess1,t=stream,m=publish,x=ignored",
			StreamID{App: "live", Key: "k", Mode: ModePublish, User: "alice", Host: "edge.example.com", Session: "sess1", Type: "stream"}},
		{"#!::r=live/k,m=request", StreamID{App: "live", Key: "k", Mode: ModeRequest}},
		{"#!::r=live/k,m=bidirectional", StreamID{App: "live", Key: "k", Mode: ModeBidirectional}},
		{"#!::r=live/key=with=equals", StreamID{App: "live", Key: "key=with=equals", Mode: ModePublish}},
		{"abc123", StreamID{Key: "abc123", Mode: ModePublish}},
		{"live/abc123", StreamID{App: "live", Key: "abc123", Mode: ModePublish}},
		{"live/abc123?p=1", StreamID{App: "live", Key: "abc123", Query: "p=1", Mode: ModePublish}},
	} {
		got, err := ParseStreamID(tc.in)
		if err != nil {
			t.Errorf("ParseStreamID(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseStreamID(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseStreamIDRefuses(t *testing.T) {
	for _, in := range []string{
		"",
		strings.Repeat("k", MaxStreamIDLen+1),
		"#!::",
		"#!::m=publish",
		"#!::r=",
		"#!::r=live/",
		"#!::r=live/k,m=play",
		"#!::r=live/k,r=live/j",
		"#!::r=live/k,,m=publish",
		"#!::=x,r=live/k",
		"#!::r=live/k,novalue",
		"#!:{r=live/k}",
		"#!:r=live/k",
		"live/sub/k",
		"live/k k",
		"live/k\x00",
		"live/k\n",
		"\xff\xfe",
		"live/ké",
		"?only=query",
		"/",
		"live/k/",
		"#!::" + strings.Repeat("a=1,", 20) + "r=live/k",
		"live/" + strings.Repeat("k", maxKeyLen+1),
	} {
		got, err := ParseStreamID(in)
		if err == nil {
			t.Errorf("ParseStreamID(%q) = %+v, want an error", in, got)
			continue
		}
		if !errors.Is(err, ErrMalformedStreamID) {
			t.Errorf("ParseStreamID(%q): %v does not wrap ErrMalformedStreamID", in, err)
		}
	}
}

// The stream key is a secret: no parse error may repeat it.
func TestParseStreamIDErrorsHideKey(t *testing.T) {
	const key = "SECRETKEY0123"
	for _, in := range []string{
		"#!::r=live/" + key + ",m=play",
		"#!::r=live/" + key + ",r=live/" + key,
		"live/sub/" + key,
		"live/" + key + " ",
		"#!:{r=live/" + key + "}",
	} {
		if _, err := ParseStreamID(in); err == nil || strings.Contains(err.Error(), key) {
			t.Errorf("ParseStreamID(%q): error %v: want an error without the key", in, err)
		}
	}
}

func FuzzParseStreamID(f *testing.F) {
	for _, s := range []string{
		"#!::r=live/abc123,m=publish",
		"#!::u=alice,r=live/k?x=1,h=host,s=1,t=stream,m=publish",
		"#!::r=live/k,m=request",
		"#!:{r=live/k}",
		"live/abc123",
		"abc123",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseStreamID(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedStreamID) {
				t.Fatalf("error %v does not wrap ErrMalformedStreamID", err)
			}
			if id != (StreamID{}) {
				t.Fatalf("error %v with a non-zero result %+v", err, id)
			}
			return
		}
		if len(s) > MaxStreamIDLen || !utf8.ValidString(s) {
			t.Fatalf("accepted %d bytes (valid UTF-8: %v)", len(s), utf8.ValidString(s))
		}
		if id.Key == "" || len(id.Key) > maxKeyLen || strings.ContainsAny(id.Key, "/? ") || !printableASCII(id.Key) {
			t.Fatalf("bad key %q from %q", id.Key, s)
		}
		if strings.ContainsAny(id.App, "/? ") || !printableASCII(id.App) {
			t.Fatalf("bad app %q from %q", id.App, s)
		}
		switch id.Mode {
		case ModePublish, ModeRequest, ModeBidirectional:
		default:
			t.Fatalf("mode %q from %q", id.Mode, s)
		}
		if !strings.Contains(s, id.Key) {
			t.Fatalf("key %q not in %q", id.Key, s)
		}
	})
}
