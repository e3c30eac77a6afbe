package mediajobs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	presigned := "http://127.0.0.1:4000/objects/orgs/o/assets/a/source.mp4?exp=17&sig=SECRET"
	red := &redactor{}
	red.add(presigned, "source")
	tests := []struct{ in, want string }{
		{presigned + ": Server returned 403 Forbidden", "source: Server returned 403 Forbidden"},
		{"redirected to https://bucket.s3.example.com/k/source.mp4?X-Amz-Signature=SECRET&X-Amz-Credential=AK: 404",
			"redirected to https://bucket.s3.example.com/k/source.mp4?…: 404"},
		{"http://user:SECRET@host:9000/k.mp4, retrying", "http://host:9000/k.mp4, retrying"},
		{"Connection to tcp://127.0.0.1:9 failed", "Connection to tcp://127.0.0.1:9 failed"},
		{"no url here", "no url here"},
		{`"https://h?sig=SECRET"`, `"https://h?…"`},
	}
	for _, tt := range tests {
		got := red.redact(tt.in)
		if got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "SECRET") {
			t.Errorf("redact(%q) leaks: %q", tt.in, got)
		}
	}
	var nilRed *redactor
	if got := nilRed.redact("https://h/x?sig=SECRET"); got != "https://h/x?…" {
		t.Errorf("nil redactor: %q", got)
	}
}

func TestRedactedErrorKeepsIdentity(t *testing.T) {
	red := &redactor{}
	red.add("http://h/x?sig=SECRET", "source")
	err := red.wrap(fmt.Errorf("read http://h/x?sig=SECRET: %w", permanent("bad: %w", ErrNoFrame)))
	if strings.Contains(err.Error(), "SECRET") || !IsPermanent(err) || !errors.Is(err, ErrNoFrame) {
		t.Errorf("wrapped error %q: permanent %v, is ErrNoFrame %v", err, IsPermanent(err), errors.Is(err, ErrNoFrame))
	}
	if red.wrap(nil) != nil {
		t.Error("wrap(nil) is not nil")
	}
	if IsPermanent(errors.New("x")) || IsPermanent(nil) {
		t.Error("plain errors are not permanent")
	}
}

func TestRedactingLogger(t *testing.T) {
	var buf bytes.Buffer
	red := &redactor{}
	red.add("http://h/x?sig=SECRET1", "source")
	log := redactingLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), red)
	log = log.With("input", "http://h/x?sig=SECRET1")
	log.WithGroup("g").Debug("ffmpeg stderr http://other/y?sig=SECRET2",
		"line", "http://h/x?sig=SECRET1: 404",
		"err", errors.New("open https://z/k?sig=SECRET3"),
		slog.Group("nested", "url", "https://z/k?sig=SECRET4"),
		"n", 3)
	out := buf.String()
	if strings.Contains(out, "SECRET") {
		t.Errorf("log line leaks a signature:\n%s", out)
	}
	for _, want := range []string{"input=source", "g.line=\"source: 404\"", "g.n=3"} {
		if !strings.Contains(out, want) {
			t.Errorf("log line lacks %q:\n%s", want, out)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 bytes", 999: "999 bytes", 1000: "1 kB", 100_000: "100 kB", 627_512: "627.5 kB",
		10_000_000: "10 MB", 12_345_678: "12.3 MB", 999_960: "1 MB", 5 << 30: "5.4 GB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
