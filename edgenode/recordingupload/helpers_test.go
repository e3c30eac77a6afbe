package recordingupload_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/recordingupload"
	"github.com/livestreams/livestreams/shared/objstore"
)

// writeRecording writes size pseudo-random bytes (from seed) to dir/name and
// returns the path and the content's hex SHA-256.
func writeRecording(t *testing.T, dir, name string, size int, seed uint64) (string, string) {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, hexSHA(data)
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// objectSHA reads the object back and hashes it.
func objectSHA(t *testing.T, st objstore.Store, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// logRecorder keeps what the queue logs, and prints it if the test fails.
type logRecorder struct {
	mu   sync.Mutex
	recs []string
}

func newLogger(t *testing.T) (*slog.Logger, *logRecorder) {
	rec := &logRecorder{}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("UPLOADQ_TEST_LOG") != "" {
			for _, r := range rec.lines() {
				t.Log(r)
			}
		}
	})
	return slog.New(rec), rec
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.recs = append(r.recs, b.String())
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.recs...)
}

// has reports whether a record at level contains substr.
func (r *logRecorder) has(level slog.Level, substr string) bool {
	for _, l := range r.lines() {
		if strings.HasPrefix(l, level.String()+" ") && strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

// testConfig is a configuration with quick retries on a queue file in a
// fresh directory.
func testConfig(t *testing.T, st objstore.Store) (recordingupload.Config, *logRecorder) {
	log, rec := newLogger(t)
	return recordingupload.Config{
		Path:        filepath.Join(t.TempDir(), "recordingupload.db"),
		Store:       st,
		Logger:      log,
		BackoffBase: 20 * time.Millisecond,
		BackoffMax:  100 * time.Millisecond,
		// Free space is whatever the machine has: no test trips on it
		// unless it sets the levels.
		WarnFreeBytes: 1,
		MinFreeBytes:  1,
	}, rec
}

func openQueue(t *testing.T, cfg recordingupload.Config) *recordingupload.Queue {
	t.Helper()
	q, err := recordingupload.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// runQueue runs q until the returned stop is called (or the test ends);
// stop waits, a bounded time, for Run to return.
func runQueue(t *testing.T, q *recordingupload.Queue) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return 20s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func newLocalStore(t *testing.T) *objstore.Local {
	t.Helper()
	st, err := objstore.OpenLocal(objstore.LocalConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func item(t *testing.T, q *recordingupload.Queue, id string) recordingupload.Item {
	t.Helper()
	for _, it := range q.Items() {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("item %s not in the queue", id)
	return recordingupload.Item{}
}

func itemState(q *recordingupload.Queue, id string) recordingupload.State {
	for _, it := range q.Items() {
		if it.ID == id {
			return it.State
		}
	}
	return ""
}

// hookStore wraps a store to count and steer uploads.
type hookStore struct {
	objstore.Store

	mu          sync.Mutex
	puts        map[string]int
	inflight    int
	maxInflight int
	// wrap, if set, replaces the file's reader in PutFile (which then
	// goes through Put), to act in the middle of an upload.
	wrap func(ctx context.Context, key string, r io.Reader) io.Reader
	// delay holds every PutFile this long, so that uploads overlap.
	delay time.Duration
}

func newHookStore(st objstore.Store) *hookStore {
	return &hookStore{Store: st, puts: map[string]int{}}
}

func (s *hookStore) PutFile(ctx context.Context, key, path string, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	s.mu.Lock()
	s.puts[key]++
	s.inflight++
	s.maxInflight = max(s.maxInflight, s.inflight)
	wrap, delay := s.wrap, s.delay
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return objstore.ObjectInfo{}, ctx.Err()
		}
	}
	if wrap == nil {
		return s.Store.PutFile(ctx, key, path, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	return s.Store.Put(ctx, key, wrap(ctx, key, f), fi.Size(), opts)
}

func (s *hookStore) putCount(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts[key]
}

// onReadPast calls fn once, when more than n bytes have been read.
type onReadPast struct {
	r    io.Reader
	n    int64
	read int64
	fn   func()
	once sync.Once
}

func (o *onReadPast) Read(p []byte) (int, error) {
	m, err := o.r.Read(p)
	o.read += int64(m)
	if o.read > o.n {
		o.once.Do(o.fn)
	}
	return m, err
}
