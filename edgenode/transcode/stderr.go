package transcode

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
)

// maxStderrLine bounds one kept stderr line; the rest of a longer line is
// dropped.
const maxStderrLine = 1024

// lineRing is an io.Writer that keeps the last lines written to it, for
// the stderr of a Process. Each complete line is also logged at debug.
type lineRing struct {
	mu        sync.Mutex
	log       *slog.Logger
	lines     []string // circular once full
	next      int
	full      bool
	partial   []byte
	truncated bool // the current line went over maxStderrLine
}

func newLineRing(size int, log *slog.Logger) *lineRing {
	return &lineRing{lines: make([]string, size), log: log}
}

// Write splits p into lines; it never fails.
func (r *lineRing) Write(p []byte) (int, error) {
	var done []string
	r.mu.Lock()
	log := r.log
	for rest := p; len(rest) > 0; {
		i := bytes.IndexAny(rest, "\r\n")
		chunk := rest
		if i >= 0 {
			chunk = rest[:i]
		}
		if room := maxStderrLine - len(r.partial); len(chunk) > room {
			chunk, r.truncated = chunk[:room], true
		}
		r.partial = append(r.partial, chunk...)
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		if line, ok := r.endLineLocked(); ok {
			done = append(done, line)
		}
	}
	r.mu.Unlock()
	logLines(log, done)
	return len(p), nil
}

// flush keeps a last line that had no newline.
func (r *lineRing) flush() {
	r.mu.Lock()
	line, ok := r.endLineLocked()
	log := r.log
	r.mu.Unlock()
	if ok {
		logLines(log, []string{line})
	}
}

func (r *lineRing) endLineLocked() (string, bool) {
	line := string(bytes.TrimSpace(r.partial))
	if r.truncated {
		line += " …"
	}
	r.partial, r.truncated = r.partial[:0], false
	if line == "" {
		return "", false
	}
	r.lines[r.next] = line
	r.next = (r.next + 1) % len(r.lines)
	r.full = r.full || r.next == 0
	return line, true
}

// setLogger replaces the logger, once the process id is known.
func (r *lineRing) setLogger(log *slog.Logger) {
	r.mu.Lock()
	r.log = log
	r.mu.Unlock()
}

func logLines(log *slog.Logger, lines []string) {
	if len(lines) == 0 || !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	for _, l := range lines {
		log.Debug("ffmpeg stderr", "line", l)
	}
}

// tail returns a copy of the kept lines, oldest first.
func (r *lineRing) tail() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...)
	}
	out := make([]string, 0, len(r.lines))
	out = append(out, r.lines[r.next:]...)
	return append(out, r.lines[:r.next]...)
}
