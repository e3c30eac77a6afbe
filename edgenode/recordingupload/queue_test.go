package recordingupload_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/recordingupload"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

func TestOpenValidatesConfig(t *testing.T) {
	st := newLocalStore(t)
	path := filepath.Join(t.TempDir(), "q.db")
	for _, c := range []struct {
		name string
		cfg  recordingupload.Config
		want string
	}{
		{"no path", recordingupload.Config{Store: st}, "Path"},
		{"no store", recordingupload.Config{Path: path}, "Store"},
		{"workers", recordingupload.Config{Path: path, Store: st, Workers: -1}, "Workers"},
		{"backoff", recordingupload.Config{Path: path, Store: st, BackoffBase: time.Second, BackoffMax: time.Millisecond}, "BackoffMax"},
		{"disk levels", recordingupload.Config{Path: path, Store: st, MinFreeBytes: 10, WarnFreeBytes: 5}, "WarnFreeBytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := recordingupload.Open(c.cfg)
			if err == nil {
				q.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %s", err, c.want)
			}
		})
	}
}

func TestEnqueueValidates(t *testing.T) {
	cfg, _ := testConfig(t, newLocalStore(t))
	q := openQueue(t, cfg)
	dir := t.TempDir()
	path, _ := writeRecording(t, dir, "s1.mp4", 1000, 1)
	for _, c := range []struct {
		name string
		it   recordingupload.Item
	}{
		{"no id", recordingupload.Item{LocalPath: path, Key: "rec/s1.mp4"}},
		{"bad key", recordingupload.Item{ID: "s1", LocalPath: path, Key: "../s1.mp4"}},
		{"no path", recordingupload.Item{ID: "s1", Key: "rec/s1.mp4"}},
		{"missing file", recordingupload.Item{ID: "s1", LocalPath: filepath.Join(dir, "nope.mp4"), Key: "rec/s1.mp4"}},
		{"directory", recordingupload.Item{ID: "s1", LocalPath: dir, Key: "rec/s1.mp4"}},
		{"wrong size", recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/s1.mp4", Size: 999}},
		{"bad sha256", recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/s1.mp4", SHA256: "abc"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := q.Enqueue(c.it); err == nil {
				t.Fatal("Enqueue succeeded")
			}
		})
	}
	if n := len(q.Items()); n != 0 {
		t.Errorf("%d items after refused enqueues", n)
	}
}

// TestEnqueueDurableAndIdempotent: an item is on disk when Enqueue
// returns, with its size and checksum filled in, and enqueuing its ID
// again changes nothing.
func TestEnqueueDurableAndIdempotent(t *testing.T) {
	cfg, _ := testConfig(t, newLocalStore(t))
	q, err := recordingupload.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path, sum := writeRecording(t, t.TempDir(), "s1.mp4", 3000, 1)
	it := recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/s1.mp4", Meta: map[string]string{"org": "o1"}}
	for range 2 {
		if err := q.Enqueue(it); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/other.mp4"}); err == nil {
		t.Error("enqueue of a known ID with another key succeeded")
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(it); !errors.Is(err, recordingupload.ErrClosed) {
		t.Errorf("Enqueue after Close: %v, want ErrClosed", err)
	}

	q = openQueue(t, cfg)
	items := q.Items()
	if len(items) != 1 {
		t.Fatalf("%d items after reopen, want 1", len(items))
	}
	got := items[0]
	if got.State != recordingupload.StatePending || got.Size != 3000 || got.SHA256 != sum || got.Meta["org"] != "o1" || got.EnqueuedAt.IsZero() {
		t.Errorf("item after reopen = %+v", got)
	}
	if s := q.Stats(); s.Pending != 1 || s.BytesPending != 3000 || s.OldestPendingAge <= 0 {
		t.Errorf("stats = %+v", s)
	}
}

// TestOnUploadedFailureRetries: while the control plane refuses, the
// local file stays and the item is retried, without uploading it again.
func TestOnUploadedFailureRetries(t *testing.T) {
	st := newHookStore(newLocalStore(t))
	cfg, _ := testConfig(t, st)
	var (
		mu    sync.Mutex
		calls int
	)
	path, sum := writeRecording(t, t.TempDir(), "s1.mp4", 5000, 2)
	cfg.OnUploaded = func(ctx context.Context, it recordingupload.Item, info objstore.ObjectInfo) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if !exists(path) {
			t.Errorf("OnUploaded call %d: local file already gone", calls)
		}
		if info.SHA256 != sum || info.Size != 5000 {
			t.Errorf("OnUploaded got %+v", info)
		}
		if calls <= 3 {
			return errors.New("control plane unreachable")
		}
		return nil
	}
	q := openQueue(t, cfg)
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/s1.mp4"}); err != nil {
		t.Fatal(err)
	}
	runQueue(t, q)
	testutil.Eventually(t, 10*time.Second, "item done", func() bool { return itemState(q, "s1") == recordingupload.StateDone })
	it := item(t, q, "s1")
	if it.Attempts != 4 || !strings.Contains(it.LastError, "control plane unreachable") {
		t.Errorf("done item: attempts %d, last error %q; want 4 and the callback's error", it.Attempts, it.LastError)
	}
	if n := st.putCount("rec/s1.mp4"); n != 1 {
		t.Errorf("uploaded %d times, want once (later attempts find it confirmed)", n)
	}
	if exists(path) {
		t.Error("local file still there after the item is done")
	}
	if s := q.Stats(); s.Done != 1 || s.Pending != 0 || !strings.Contains(s.LastError, "control plane unreachable") {
		t.Errorf("stats = %+v", s)
	}
}

// TestChecksumMismatchRetries: a file that does not match its recorded
// checksum is never confirmed, never deleted, and retried.
func TestChecksumMismatchRetries(t *testing.T) {
	st := newHookStore(newLocalStore(t))
	cfg, _ := testConfig(t, st)
	q := openQueue(t, cfg)
	path, _ := writeRecording(t, t.TempDir(), "s1.mp4", 5000, 3)
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/s1.mp4", SHA256: strings.Repeat("ab", 32)}); err != nil {
		t.Fatal(err)
	}
	stop := runQueue(t, q)
	testutil.Eventually(t, 10*time.Second, "three attempts", func() bool { return item(t, q, "s1").Attempts >= 3 })
	stop()
	it := item(t, q, "s1")
	if it.State != recordingupload.StatePending || !strings.Contains(it.LastError, objstore.ErrChecksumMismatch.Error()) {
		t.Errorf("item = %+v, want pending with a checksum mismatch", it)
	}
	if !exists(path) {
		t.Error("local file deleted")
	}
	if _, err := st.Stat(context.Background(), "rec/s1.mp4"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("store has an object after mismatched uploads: %v", err)
	}
}

// TestMissingFileIsLost: a local file that vanished is marked lost, at
// error level, and not retried — also after a restart.
func TestMissingFileIsLost(t *testing.T) {
	st := newHookStore(newLocalStore(t))
	cfg, logs := testConfig(t, st)
	q := openQueue(t, cfg)
	path, _ := writeRecording(t, t.TempDir(), "s1.mp4", 100, 4)
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/s1.mp4"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	stop := runQueue(t, q)
	testutil.Eventually(t, 10*time.Second, "item lost", func() bool { return itemState(q, "s1") == recordingupload.StateLost })
	// Several backoff periods (at most 100ms each) pass without an attempt.
	time.Sleep(300 * time.Millisecond)
	stop()
	if it := item(t, q, "s1"); it.Attempts != 1 || !strings.Contains(it.LastError, "vanished") {
		t.Errorf("lost item = %+v, want one attempt", it)
	}
	if n := st.putCount("rec/s1.mp4"); n != 0 {
		t.Errorf("%d uploads of a missing file", n)
	}
	if !logs.has(slog.LevelError, "upload lost") {
		t.Error("no error logged for the lost item")
	}
	if s := q.Stats(); s.Lost != 1 || s.Pending != 0 || s.BytesPending != 0 {
		t.Errorf("stats = %+v", s)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q = openQueue(t, cfg)
	if it := item(t, q, "s1"); it.State != recordingupload.StateLost {
		t.Errorf("after reopen: %s, want lost", it.State)
	}
	if !logs.has(slog.LevelError, "lost") {
		t.Error("Open does not report lost items")
	}
}

// TestFinishesAfterCrashBeforeDone: a crash after the local file was
// removed but before the item was marked done leaves a pending item with
// no file and a confirmed object; it must finish, not be lost.
func TestFinishesAfterCrashBeforeDone(t *testing.T) {
	st := newLocalStore(t)
	cfg, _ := testConfig(t, st)
	var calls int
	cfg.OnUploaded = func(context.Context, recordingupload.Item, objstore.ObjectInfo) error { calls++; return nil }
	q := openQueue(t, cfg)
	path, sum := writeRecording(t, t.TempDir(), "s1.mp4", 2000, 5)
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/s1.mp4"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutFile(context.Background(), "rec/s1.mp4", path, objstore.PutOptions{SHA256: sum}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	runQueue(t, q)
	testutil.Eventually(t, 10*time.Second, "item done", func() bool { return itemState(q, "s1") == recordingupload.StateDone })
	if calls != 1 {
		t.Errorf("OnUploaded called %d times, want 1", calls)
	}
}

// TestWorkersUploadEachOnce: two workers, ten items, each uploaded and
// registered exactly once, never more than two at a time.
func TestWorkersUploadEachOnce(t *testing.T) {
	st := newHookStore(newLocalStore(t))
	st.delay = 5 * time.Millisecond
	cfg, _ := testConfig(t, st)
	cfg.Workers = 2
	var (
		mu    sync.Mutex
		calls = map[string]int{}
	)
	cfg.OnUploaded = func(_ context.Context, it recordingupload.Item, _ objstore.ObjectInfo) error {
		mu.Lock()
		calls[it.ID]++
		mu.Unlock()
		return nil
	}
	q := openQueue(t, cfg)
	dir := t.TempDir()
	var paths []string
	for i := range 10 {
		path, _ := writeRecording(t, dir, fmt.Sprintf("s%d.mp4", i), 1000+i, uint64(i))
		paths = append(paths, path)
		if err := q.Enqueue(recordingupload.Item{ID: fmt.Sprintf("s%d", i), LocalPath: path, Key: fmt.Sprintf("rec/s%d.mp4", i)}); err != nil {
			t.Fatal(err)
		}
	}
	runQueue(t, q)
	testutil.Eventually(t, 20*time.Second, "ten items done", func() bool { return q.Stats().Done == 10 })
	mu.Lock()
	defer mu.Unlock()
	for i := range 10 {
		id := fmt.Sprintf("s%d", i)
		if n := st.putCount("rec/" + id + ".mp4"); n != 1 {
			t.Errorf("%s uploaded %d times", id, n)
		}
		if calls[id] != 1 {
			t.Errorf("%s registered %d times", id, calls[id])
		}
		if exists(paths[i]) {
			t.Errorf("%s: local file left", id)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.maxInflight > 2 {
		t.Errorf("%d uploads at once with 2 workers", st.maxInflight)
	}
}

// TestDoneHistoryBounded: done items are kept up to DoneHistory, and the
// count of all done items survives a restart.
func TestDoneHistoryBounded(t *testing.T) {
	cfg, _ := testConfig(t, newLocalStore(t))
	cfg.DoneHistory = 3
	q := openQueue(t, cfg)
	dir := t.TempDir()
	for i := range 5 {
		path, _ := writeRecording(t, dir, fmt.Sprintf("s%d.mp4", i), 100, uint64(i))
		if err := q.Enqueue(recordingupload.Item{ID: fmt.Sprintf("s%d", i), LocalPath: path, Key: fmt.Sprintf("rec/s%d.mp4", i),
			EnqueuedAt: time.Unix(int64(1000+i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	stop := runQueue(t, q)
	testutil.Eventually(t, 10*time.Second, "five items done", func() bool { return q.Stats().Done == 5 })
	stop()
	if n := len(q.Items()); n != 3 {
		t.Errorf("%d items kept, want 3", n)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = openQueue(t, cfg)
	items := q.Items()
	if len(items) != 3 || q.Stats().Done != 5 {
		t.Fatalf("after reopen: %d items, %d done; want 3 and 5", len(items), q.Stats().Done)
	}
	for _, it := range items {
		if it.State != recordingupload.StateDone || it.DoneAt.IsZero() {
			t.Errorf("kept %+v", it)
		}
	}
}

// TestRecoverOrphans: Recover enqueues the recordings the queue does not
// hold and leaves everything else alone.
func TestRecoverOrphans(t *testing.T) {
	st := newLocalStore(t)
	cfg, _ := testConfig(t, st)
	q := openQueue(t, cfg)
	dir := filepath.Join(t.TempDir(), "recordings")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	orphan, sum := writeRecording(t, dir, "sess-orphan.mp4", 70000, 6)
	queued, _ := writeRecording(t, dir, "sess-queued.mp4", 70000, 7)
	skipped, _ := writeRecording(t, dir, "sess-live.mp4", 70000, 8)
	writeRecording(t, dir, "notes.txt", 10, 9)
	writeRecording(t, dir, ".partial.mp4", 10, 10)
	if err := os.Mkdir(filepath.Join(dir, "sub.mp4"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(recordingupload.Item{ID: "sess-queued", LocalPath: queued, Key: "rec/sess-queued.mp4"}); err != nil {
		t.Fatal(err)
	}
	var asked []string
	keyFor := func(name string) (recordingupload.Item, bool) {
		asked = append(asked, name)
		id := strings.TrimSuffix(name, ".mp4")
		if id == "sess-live" {
			return recordingupload.Item{}, false
		}
		return recordingupload.Item{ID: id, Key: "rec/" + name, Meta: map[string]string{"recovered": "1"}}, true
	}
	n, err := q.Recover(dir, keyFor)
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1, nil", n, err)
	}
	if strings.Join(asked, ",") != "sess-live.mp4,sess-orphan.mp4" {
		t.Errorf("keyFor asked about %v", asked)
	}
	it := item(t, q, "sess-orphan")
	if it.LocalPath != orphan || it.SHA256 != sum || it.Meta["recovered"] != "1" {
		t.Errorf("recovered item = %+v", it)
	}
	if n, err := q.Recover(dir, keyFor); err != nil || n != 0 {
		t.Errorf("second Recover = %d, %v; want 0, nil", n, err)
	}
	if n, err := q.Recover(filepath.Join(dir, "missing"), keyFor); err != nil || n != 0 {
		t.Errorf("Recover of a missing directory = %d, %v; want 0, nil", n, err)
	}

	runQueue(t, q)
	testutil.Eventually(t, 10*time.Second, "recovered item done", func() bool { return itemState(q, "sess-orphan") == recordingupload.StateDone })
	if got := objectSHA(t, st, "rec/sess-orphan.mp4"); got != sum {
		t.Errorf("object sha256 %s, want %s", got, sum)
	}
	if exists(orphan) || !exists(skipped) {
		t.Errorf("after upload: orphan exists %v (want false), skipped exists %v (want true)", exists(orphan), exists(skipped))
	}
}

// TestDiskWarning: free space under the warning level shows in Stats and
// in one warning.
func TestDiskWarning(t *testing.T) {
	cfg, logs := testConfig(t, newLocalStore(t))
	cfg.WarnFreeBytes = 1 << 62
	q := openQueue(t, cfg)
	runQueue(t, q)
	testutil.Eventually(t, 10*time.Second, "disk check", func() bool { return !q.Stats().DiskCheckedAt.IsZero() })
	s := q.Stats()
	if !s.DiskLow || s.DiskCritical || s.DiskFreeBytes <= 0 {
		t.Errorf("stats = %+v, want DiskLow only", s)
	}
	if !logs.has(slog.LevelWarn, "disk filling up") {
		t.Error("no warning logged")
	}
}

func TestRunAndCloseMisuse(t *testing.T) {
	cfg, _ := testConfig(t, newLocalStore(t))
	q := openQueue(t, cfg)
	stop := runQueue(t, q)
	testutil.Eventually(t, 10*time.Second, "Run started", func() bool { return !q.Stats().DiskCheckedAt.IsZero() })
	if err := q.Close(); err == nil {
		t.Fatal("Close succeeded while Run runs")
	}
	if err := q.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
	stop()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Run(context.Background()); !errors.Is(err, recordingupload.ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
}
