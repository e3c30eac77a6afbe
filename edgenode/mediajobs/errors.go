package mediajobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoFrame means there is no video frame at the asked time (usually: the
// time is past the end).
var ErrNoFrame = errors.New("no video frame at that time")

// permanentError marks an error a retry cannot fix: the source is not
// media, too large, out of range, or the payload is malformed.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent returns a permanent error with a formatted message (%w works).
func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// IsPermanent reports whether err is one a retry cannot fix: a source that
// is not media or has no video, one over the size limit or missing, a
// malformed payload, or a clip range outside the source.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// redactor scrubs presigned URLs out of text that may reach a user: the
// URLs it was told about become their labels, and any other URL loses its
// query string (where S3 and Local put signatures) and user info.
type redactor struct {
	secrets []string // secret, label, secret, label, ...
}

// urlPattern matches URLs as ffmpeg prints them: up to whitespace or a
// quote. ffmpeg follows a URL it reports with ": reason".
var urlPattern = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>]+`)

func (r *redactor) add(secret, label string) {
	if secret != "" {
		r.secrets = append(r.secrets, secret, label)
	}
}

func (r *redactor) redact(s string) string {
	if r != nil {
		for i := 0; i < len(r.secrets); i += 2 {
			s = strings.ReplaceAll(s, r.secrets[i], r.secrets[i+1])
		}
	}
	return urlPattern.ReplaceAllStringFunc(s, stripURL)
}

// stripURL keeps scheme, host and path: enough to debug, nothing to sign.
func stripURL(u string) string {
	// Punctuation that ends a sentence ("URL: reason") is not the URL's.
	trimmed := strings.TrimRight(u, ":,;.)")
	return stripTrimmedURL(trimmed) + u[len(trimmed):]
}

func stripTrimmedURL(u string) string {
	scheme, rest, _ := strings.Cut(u, "://")
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i] + "?…"
	}
	host, path, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(host, "@"); at >= 0 {
		host = host[at+1:]
	}
	if path != "" || strings.Contains(rest, "/") {
		return scheme + "://" + host + "/" + path
	}
	return scheme + "://" + host
}

// redactedError is err with a scrubbed message; errors.Is and As still see
// through it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func (r *redactor) wrap(err error) error {
	if err == nil {
		return nil
	}
	msg := r.redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// redactHandler scrubs every message and string attribute it passes on,
// for the logger handed to transcode.Process, which logs ffmpeg's stderr.
type redactHandler struct {
	h   slog.Handler
	red *redactor
}

func redactingLogger(log *slog.Logger, red *redactor) *slog.Logger {
	return slog.New(&redactHandler{h: log.Handler(), red: red})
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.red.redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.attr(a)
	}
	return &redactHandler{h: h.h.WithAttrs(clean), red: h.red}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{h: h.h.WithGroup(name), red: h.red}
}

func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.red.redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = h.attr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, h.red.redact(err.Error()))
		}
		return slog.String(a.Key, h.red.redact(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// humanBytes writes a size the way an upload form states its limit:
// decimal units, one decimal place when it matters ("12.3 MB", "10 MB").
func humanBytes(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	v, units := float64(n), []string{"kB", "MB", "GB", "TB", "PB", "EB"}
	i := -1
	for v >= 999.95 && i < len(units)-1 {
		v /= 1000
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + " " + units[i]
}
