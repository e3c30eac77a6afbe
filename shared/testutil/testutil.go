// Package testutil is the one test-helper package of the project (Consul's
// sdk/testutil is the model): polling a condition with a deadline, free
// loopback ports, a goroutine-safe buffer, a logger that writes to the test
// log, bounded contexts and a ResponseWriter that discards bodies for
// benchmarks. Tests anywhere in the module import it instead
// of keeping their own copies.
//
// It imports nothing of the project: shared/ is the bottom layer.
package testutil

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PollInterval is how often Eventually checks its condition.
const PollInterval = 10 * time.Millisecond

// Eventually polls cond until it holds and returns how long that took; it
// fails the test with what when within passes first. It never sleeps as
// synchronization: the wait is bounded in time and ends as soon as the
// condition holds.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return EventuallyEvery(t, within, PollInterval, what, cond)
}

// EventuallyEvery is Eventually polling every interval instead of
// PollInterval, for conditions that cost the system under test something
// to check (an HTTP round trip to a server that is busy transcoding).
func EventuallyEvery(t testing.TB, within, every time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	begin := time.Now()
	for !cond() {
		if time.Since(begin) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(every)
	}
	return time.Since(begin)
}

// Until is Eventually for a condition that explains itself: cond returns
// nil once it holds, and its last error is in the failure message.
func Until(t testing.TB, within time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	return UntilEvery(t, within, PollInterval, what, cond)
}

// UntilEvery is Until polling every interval instead of PollInterval, for
// conditions that are costly to check (a child process per check, such as
// a CLI command).
func UntilEvery(t testing.TB, within, every time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	begin := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(begin)
		}
		if time.Since(begin) > within {
			t.Fatalf("%s: not within %v: %v", what, within, err)
		}
		time.Sleep(every)
	}
}

// FreePort returns a port on 127.0.0.1 that was free for both TCP and UDP a
// moment ago. It picks below Linux's ephemeral range (32768+) so that an
// outgoing connection cannot take it before a restarted server binds it
// again.
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.mu.Lock()
	defer handedOut.mu.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	for i := 0; i < 200; i++ {
		port := 10000 + mrand.IntN(22000)
		// A port handed out before may not be bound yet: parallel tests
		// (and one test asking for several ports) must never share one.
		if handedOut.ports[port] || !reserve(port) {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		handedOut.ports[port] = true
		return port
	}
	t.Fatal("no free port found in 200 tries")
	return 0
}

// handedOut remembers every port FreePort returned in this process.
var handedOut struct {
	mu    sync.Mutex
	ports map[int]bool
}

// reserve claims port for this process among the test processes of the
// machine (go test runs packages in parallel, each its own process): a
// file per port holds the pid of its claimant, and a claim whose process
// is gone is taken over.
func reserve(port int) bool {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("livestreams-test-ports-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return true // no shared claims possible: fall back to the in-process set
	}
	path := filepath.Join(dir, strconv.Itoa(port))
	me := strconv.Itoa(os.Getpid())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		f.WriteString(me)
		f.Close()
		return true
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
		return false // another live test process holds it
	}
	return os.WriteFile(path, []byte(me), 0o644) == nil
}

// FreeAddr returns 127.0.0.1:PORT with a port from FreePort.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// Context returns a context that ends after d or when the test ends,
// whichever comes first.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers,
// such as a child process's stdout and stderr read by the test.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// DiscardWriter is an http.ResponseWriter that keeps the status and the
// headers but not the body, so a benchmark measures the handler rather
// than a recorder's buffer. Like net/http's own response it implements
// io.ReaderFrom, which http.ServeContent uses. Reset readies it for the
// next request.
type DiscardWriter struct {
	Code int
	h    http.Header
}

func (d *DiscardWriter) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}

func (d *DiscardWriter) WriteHeader(code int)                { d.Code = code }
func (d *DiscardWriter) Write(p []byte) (int, error)         { return len(p), nil }
func (d *DiscardWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

// Reset forgets the status and the headers.
func (d *DiscardWriter) Reset() {
	clear(d.h)
	d.Code = 0
}

// LastLines returns the last n lines of s, for failure messages.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogEnv is the environment variable that turns on component logs in
// tests: LIVESTREAMS_TEST_LOG=debug (or info, warn, error; 1 means debug).
const LogEnv = "LIVESTREAMS_TEST_LOG"

// Logger returns a logger that writes to the test log, at the level
// LIVESTREAMS_TEST_LOG names, or discards everything when it is unset, so
// a passing run stays quiet and a failing one can be rerun verbosely.
func Logger(t testing.TB) *slog.Logger {
	v := os.Getenv(LogEnv)
	if v == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	level := slog.LevelDebug
	if v != "1" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			level = slog.LevelDebug
		}
	}
	return slog.New(slog.NewTextHandler(LogWriter(t, ""), &slog.HandlerOptions{Level: level}))
}

// LogWriter is an io.Writer that sends each line to t.Log with a prefix;
// lines written after the test ended are dropped rather than panicking.
func LogWriter(t testing.TB, prefix string) io.Writer {
	return &logWriter{t: t, prefix: prefix}
}

type logWriter struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
	done   bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	defer func() {
		// t.Log after the test completes panics; a child process may
		// still be flushing its stderr then.
		if recover() != nil {
			w.done = true
		}
	}()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.t.Log(w.prefix + line)
		}
	}
	return len(p), nil
}

// Missing reports that a tool or fixture a test needs is not installed.
// Outside CI the test is skipped with the message (a developer may not
// have every package); under CI (CI=true, as .ci/run runs) it fails,
// because `make test` installs everything and a skip would hide a broken
// install.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("required for this test: %s", msg)
	}
	t.Skip(msg)
}
