//go:build cgo

package srt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

const testKey = "sk_test_0123456789"

// recorder is a Handle that copies each publisher's bytes to a file and
// keeps how the read ended.
type recorder struct {
	dir     string
	bufSize int // of each Read; 0 is 64 KiB
	calls   atomic.Int32
	mu      sync.Mutex
	ends    []error
	reqs    []Request
	vals    []any
	bytes   atomic.Int64
}

func (r *recorder) handle(ctx context.Context, c *Conn) {
	n := r.calls.Add(1)
	f, err := os.Create(filepath.Join(r.dir, fmt.Sprintf("conn%d.ts", n)))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	size := r.bufSize
	if size == 0 {
		size = 64 << 10
	}
	buf := make([]byte, size)
	for {
		k, err := c.Read(buf)
		if k > 0 {
			r.bytes.Add(int64(k))
			if _, werr := f.Write(buf[:k]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			r.mu.Lock()
			r.ends = append(r.ends, err)
			r.reqs = append(r.reqs, c.Request())
			r.vals = append(r.vals, c.Value())
			r.mu.Unlock()
			return
		}
	}
}

// ended returns how each finished connection's reads ended.
func (r *recorder) ended() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.ends...)
}

// startServer runs a server on a free loopback port until the test ends.
func startServer(t *testing.T, cfg Config) (*Server, int) {
	t.Helper()
	port := testutil.FreePort(t)
	cfg.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	if cfg.Logger == nil {
		cfg.Logger = testutil.Logger(t)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	testutil.Until(t, 5*time.Second, "server listening", func() error {
		select {
		case err := <-errc:
			errc <- err
			return fmt.Errorf("Run returned: %v", err)
		default:
		}
		if s.Addr() == nil {
			return errors.New("no address yet")
		}
		return nil
	})
	return s, port
}

// allowKey is an Authorize that takes testKey only.
func allowKey(settings Settings, seen *atomic.Int32) AuthorizeFunc {
	return func(ctx context.Context, req Request) (Settings, error) {
		seen.Add(1)
		if req.StreamKey != testKey {
			return Settings{}, Reject(RejectUnauthorized, errors.New("unknown stream key"))
		}
		return settings, nil
	}
}

func srtURL(port int, streamID string, extra ...string) string {
	u := fmt.Sprintf("srt://127.0.0.1:%d?streamid=%s&latency=200000&connect_timeout=2000", port, streamID)
	for _, e := range extra {
		u += "&" + e
	}
	return u
}

var live = mediatest.Live{Spec: mediatest.Spec{Width: 320, Height: 180, Audio: true}, Format: "mpegts"}

// publish runs an ffmpeg publisher for seconds (0: until the test ends)
// and returns it with its stderr.
func publish(t *testing.T, url string, seconds int) (*exec.Cmd, *testutil.SyncBuffer) {
	t.Helper()
	mediatest.RequireFFmpeg(t)
	l := live
	l.Seconds = seconds
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", l.PublishArgs(url)...)
	var stderr testutil.SyncBuffer
	cmd.Stderr = io.MultiWriter(&stderr, testutil.LogWriter(t, "publisher: "))
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start publisher: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if cmd.ProcessState == nil {
			cmd.Wait()
		}
	})
	return cmd, &stderr
}

// exitWithin waits for cmd to end and returns its error.
func exitWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("publisher still running after %v", d)
		return nil
	}
}

func probeCodecs(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
		"-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	// MPEG-TS streams are listed once per program too.
	var codecs []string
	for _, c := range strings.Fields(string(out)) {
		if !slices.Contains(codecs, c) {
			codecs = append(codecs, c)
		}
	}
	return strings.Join(codecs, ",")
}

func TestPublish(t *testing.T) {
	for _, sid := range []string{"#!::r=live/" + testKey + ",m=publish", testKey} {
		t.Run(sid[:4], func(t *testing.T) {
			rec := &recorder{dir: t.TempDir()}
			var seen atomic.Int32
			_, port := startServer(t, Config{Authorize: allowKey(Settings{Value: "grant"}, &seen), Handle: rec.handle})
			cmd, stderr := publish(t, srtURL(port, sid), 3)
			if err := exitWithin(t, cmd, 30*time.Second); err != nil {
				t.Fatalf("publisher: %v\n%s", err, testutil.LastLines(stderr.String(), 10))
			}
			testutil.Eventually(t, 10*time.Second, "connection ended", func() bool { return len(rec.ended()) == 1 })
			if err := rec.ended()[0]; err != io.EOF {
				t.Errorf("read ended with %v, want io.EOF", err)
			}
			rec.mu.Lock()
			req, val := rec.reqs[0], rec.vals[0]
			rec.mu.Unlock()
			if val != "grant" {
				t.Errorf("Conn.Value %v, want what Authorize returned", val)
			}
			if req.StreamKey != testKey || req.Mode != ModePublish || !strings.HasPrefix(req.RemoteAddr, "127.0.0.1:") {
				t.Errorf("request %+v", req)
			}
			if got := probeCodecs(t, filepath.Join(rec.dir, "conn1.ts")); got != "h264,aac" {
				t.Errorf("codecs %q, want h264,aac", got)
			}
			t.Logf("received %d bytes", rec.bytes.Load())
		})
	}
}

// A refused caller gets the reject reason in the handshake: no connection,
// no Handle, no media read.
func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		streamID  string
		authorize bool // whether Authorize is asked
		reason    RejectReason
	}{
		{"wrong key", "#!::r=live/sk_wrong_key,m=publish", true, RejectUnauthorized},
		{"playback", "#!::r=live/" + testKey + ",m=request", false, RejectBadMode},
		{"bidirectional", "#!::r=live/" + testKey + ",m=bidirectional", false, RejectBadMode},
		{"malformed", "#!::r=live/a/b/c", false, RejectBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{dir: t.TempDir()}
			var seen atomic.Int32
			var logs testutil.SyncBuffer
			_, port := startServer(t, Config{Authorize: allowKey(Settings{}, &seen), Handle: rec.handle,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			cmd, stderr := publish(t, srtURL(port, tc.streamID), 0)
			if err := exitWithin(t, cmd, 20*time.Second); err == nil {
				t.Fatal("publisher succeeded, want it refused")
			}
			if want := fmt.Sprintf("code=%d", tc.reason); !strings.Contains(logs.String(), want) {
				t.Errorf("no refusal with %s in the log:\n%s", want, logs.String())
			}
			if strings.Contains(logs.String(), testKey) || strings.Contains(logs.String(), "sk_wrong_key") {
				t.Errorf("the stream key reached the log:\n%s", logs.String())
			}
			if n := rec.calls.Load(); n != 0 {
				t.Errorf("Handle called %d times", n)
			}
			if got := seen.Load() > 0; got != tc.authorize {
				t.Errorf("Authorize asked: %v, want %v", got, tc.authorize)
			}
			t.Logf("publisher: %s", testutil.LastLines(stderr.String(), 3))
		})
	}
}

func TestPassphrase(t *testing.T) {
	const pass = "correct-horse-42"
	// Reads smaller than a message take it in pieces.
	rec := &recorder{dir: t.TempDir(), bufSize: 100}
	var seen atomic.Int32
	_, port := startServer(t, Config{Authorize: allowKey(Settings{Passphrase: pass}, &seen), Handle: rec.handle})
	sid := "#!::r=live/" + testKey + ",m=publish"

	cmd, stderr := publish(t, srtURL(port, sid), 0)
	if err := exitWithin(t, cmd, 20*time.Second); err == nil {
		t.Fatal("publisher without the passphrase succeeded")
	}
	if n := rec.calls.Load(); n != 0 {
		t.Errorf("Handle called %d times for the publisher without the passphrase", n)
	}
	t.Logf("without passphrase: %s", testutil.LastLines(stderr.String(), 2))

	cmd, stderr = publish(t, srtURL(port, sid, "passphrase="+pass), 2)
	if err := exitWithin(t, cmd, 30*time.Second); err != nil {
		t.Fatalf("publisher with the passphrase: %v\n%s", err, testutil.LastLines(stderr.String(), 10))
	}
	testutil.Eventually(t, 10*time.Second, "connection ended", func() bool { return len(rec.ended()) == 1 })
	if got := probeCodecs(t, filepath.Join(rec.dir, "conn1.ts")); got != "h264,aac" {
		t.Errorf("codecs %q, want h264,aac", got)
	}
}

// A publisher that stops sending without closing ends with ErrStalled.
func TestStall(t *testing.T) {
	rec := &recorder{dir: t.TempDir()}
	var seen atomic.Int32
	_, port := startServer(t, Config{Authorize: allowKey(Settings{}, &seen), Handle: rec.handle})
	cmd, _ := publish(t, srtURL(port, "#!::r=live/"+testKey+",m=publish"), 0)
	testutil.Eventually(t, 20*time.Second, "media received", func() bool { return rec.bytes.Load() > 100_000 })
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	took := testutil.Eventually(t, 20*time.Second, "stalled connection ended", func() bool { return len(rec.ended()) == 1 })
	if err := rec.ended()[0]; !errors.Is(err, ErrStalled) {
		t.Errorf("read ended with %v, want ErrStalled", err)
	}
	t.Logf("stall detected %v after SIGSTOP (stall timeout %v)", time.Since(stopped).Round(time.Millisecond), DefaultStallTimeout)
	if took < DefaultStallTimeout-time.Second {
		t.Errorf("ended after %v, before the stall timeout", took)
	}
}

func TestConnectionCaps(t *testing.T) {
	rec := &recorder{dir: t.TempDir()}
	var seen atomic.Int32
	_, port := startServer(t, Config{Authorize: allowKey(Settings{}, &seen), Handle: rec.handle, MaxConnsPerIP: 1})
	sid := "#!::r=live/" + testKey + ",m=publish"
	publish(t, srtURL(port, sid), 0)
	testutil.Eventually(t, 20*time.Second, "first publisher connected", func() bool { return rec.bytes.Load() > 0 })

	cmd, stderr := publish(t, srtURL(port, sid), 0)
	if err := exitWithin(t, cmd, 20*time.Second); err == nil {
		t.Fatal("second publisher from the same IP succeeded")
	}
	if n, a := rec.calls.Load(), seen.Load(); n != 1 || a != 1 {
		t.Errorf("Handle called %d times, Authorize %d times; want 1 and 1", n, a)
	}
	t.Logf("second publisher: %s", testutil.LastLines(stderr.String(), 2))
}

// Close ends connected publishers' reads and waits for their Handles.
func TestCloseWithPublisher(t *testing.T) {
	rec := &recorder{dir: t.TempDir()}
	var seen atomic.Int32
	s, port := startServer(t, Config{Authorize: allowKey(Settings{}, &seen), Handle: rec.handle})
	publish(t, srtURL(port, "#!::r=live/"+testKey+",m=publish"), 0)
	testutil.Eventually(t, 20*time.Second, "media received", func() bool { return rec.bytes.Load() > 0 })
	begin := time.Now()
	s.Close()
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if ends := rec.ended(); len(ends) != 1 || !errors.Is(ends[0], ErrServerClosed) {
		t.Errorf("reads ended with %v, want [ErrServerClosed]", ends)
	}
}

func TestCaps(t *testing.T) {
	s, err := NewServer(Config{MaxConns: 2, MaxConnsPerIP: 1,
		Authorize: func(context.Context, Request) (Settings, error) { return Settings{}, nil },
		Handle:    func(context.Context, *Conn) {}})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := mustAddr("10.0.0.1"), mustAddr("10.0.0.2"), mustAddr("10.0.0.3")
	if _, ok := s.reserve(a); !ok {
		t.Fatal("first from a refused")
	}
	if r, ok := s.reserve(a); ok || r != RejectOverload {
		t.Fatalf("second from a: %v %v, want overload", r, ok)
	}
	if _, ok := s.reserve(b); !ok {
		t.Fatal("first from b refused")
	}
	if _, ok := s.reserve(c); ok {
		t.Fatal("third overall admitted")
	}
	s.release(a)
	if _, ok := s.reserve(c); !ok {
		t.Fatal("c refused after a left")
	}
}

func TestLibConstants(t *testing.T) {
	for name, v := range libConstants() {
		if v[0] != v[1] {
			t.Errorf("%s is %d in srt.h, %d here", name, v[0], v[1])
		}
	}
}

func TestReasonOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want RejectReason
	}{
		{Reject(RejectConflict, errors.New("already live")), RejectConflict},
		{fmt.Errorf("authorize: %w", Reject(RejectNotFound, nil)), RejectNotFound},
		{context.DeadlineExceeded, RejectUnavailable},
		{errors.New("denied"), RejectForbidden},
	} {
		if got := reasonOf(tc.err); got != tc.want {
			t.Errorf("reasonOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// Authorize may take a while (a round trip to the control plane): the
// caller waits in its handshake. Past AuthorizeTimeout it is refused as
// unavailable.
func TestSlowAuthorize(t *testing.T) {
	rec := &recorder{dir: t.TempDir()}
	var seen atomic.Int32
	var logs testutil.SyncBuffer
	delay := map[string]time.Duration{testKey: 700 * time.Millisecond, "sk_too_slow": 5 * time.Second}
	_, port := startServer(t, Config{Handle: rec.handle, AuthorizeTimeout: 1500 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Authorize: func(ctx context.Context, req Request) (Settings, error) {
			seen.Add(1)
			select {
			case <-time.After(delay[req.StreamKey]):
				return Settings{}, nil
			case <-ctx.Done():
				return Settings{}, ctx.Err()
			}
		}})

	cmd, stderr := publish(t, srtURL(port, "#!::r=live/sk_too_slow,m=publish"), 0)
	if err := exitWithin(t, cmd, 20*time.Second); err == nil {
		t.Fatal("publisher whose authorization timed out succeeded")
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("code=%d", RejectUnavailable)) {
		t.Errorf("no refusal as unavailable in the log:\n%s", logs.String())
	}
	// The caller resent its handshake while Authorize ran; the resends
	// get the same refusal without asking again.
	if n := seen.Load(); n != 1 {
		t.Errorf("Authorize called %d times for one refused caller, want 1", n)
	}
	t.Logf("timed out: %s", testutil.LastLines(stderr.String(), 1))

	seen.Store(0)
	cmd, stderr = publish(t, srtURL(port, "#!::r=live/"+testKey+",m=publish"), 2)
	if err := exitWithin(t, cmd, 30*time.Second); err != nil {
		t.Fatalf("publisher: %v\n%s\nserver log:\n%s", err, stderr.String(), logs.String())
	}
	testutil.Eventually(t, 10*time.Second, "connection ended", func() bool { return len(rec.ended()) == 1 })
	t.Logf("Authorize called %d times for one slow handshake; %d bytes received", seen.Load(), rec.bytes.Load())
	if rec.bytes.Load() == 0 {
		t.Error("no media received")
	}
}

// libsrt is started and cleaned up per server; one server closing must
// not stop another one (libsrt counts startups).
func TestTwoServers(t *testing.T) {
	rec := &recorder{dir: t.TempDir()}
	var seen atomic.Int32
	_, port := startServer(t, Config{Authorize: allowKey(Settings{}, &seen), Handle: rec.handle})

	other, err := NewServer(Config{Addr: testutil.FreeAddr(t), Logger: testutil.Logger(t),
		Authorize: allowKey(Settings{}, &seen), Handle: rec.handle})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- other.Run(context.Background()) }()
	testutil.Eventually(t, 5*time.Second, "second server listening", func() bool { return other.Addr() != nil })
	other.Close()
	if err := <-errc; err != nil {
		t.Fatalf("second server: %v", err)
	}
	if err := other.Run(context.Background()); err == nil {
		t.Error("Run ran twice")
	}

	cmd, stderr := publish(t, srtURL(port, testKey), 1)
	if err := exitWithin(t, cmd, 30*time.Second); err != nil {
		t.Fatalf("publisher to the first server: %v\n%s", err, testutil.LastLines(stderr.String(), 10))
	}
	testutil.Eventually(t, 10*time.Second, "connection ended", func() bool { return len(rec.ended()) == 1 })
}

func TestCloseBeforeRun(t *testing.T) {
	s, err := NewServer(Config{Addr: testutil.FreeAddr(t),
		Authorize: func(context.Context, Request) (Settings, error) { return Settings{}, nil },
		Handle:    func(context.Context, *Conn) {}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Run(testutil.Context(t, 5*time.Second)); err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
	if _, err := NewServer(Config{}); err == nil {
		t.Error("NewServer without callbacks succeeded")
	}
}

func TestListenError(t *testing.T) {
	s, err := NewServer(Config{Addr: "127.0.0.1:notaport",
		Authorize: func(context.Context, Request) (Settings, error) { return Settings{}, nil },
		Handle:    func(context.Context, *Conn) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(testutil.Context(t, 5*time.Second)); err == nil {
		t.Fatal("Run on a bad address succeeded")
	}
	// A port already taken by another SRT listener.
	_, port := startServer(t, Config{Authorize: allowKey(Settings{}, new(atomic.Int32)), Handle: (&recorder{dir: t.TempDir()}).handle})
	s2, _ := NewServer(Config{Addr: fmt.Sprintf("127.0.0.1:%d", port),
		Authorize: func(context.Context, Request) (Settings, error) { return Settings{}, nil },
		Handle:    func(context.Context, *Conn) {}})
	if err := s2.Run(testutil.Context(t, 5*time.Second)); err == nil {
		t.Fatal("Run on a taken port succeeded")
	} else {
		t.Logf("taken port: %v", err)
	}
}
