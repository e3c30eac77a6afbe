package recordingupload_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/recordingupload"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

// companions writes n small files under dir/stage/r/ and returns them as
// an item's Files (keys under prefix), the last one a "playlist".
func companions(t *testing.T, dir, prefix string, n int) ([]recordingupload.File, map[string]string) {
	t.Helper()
	stage := filepath.Join(dir, "stage", "r")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	var files []recordingupload.File
	sums := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("seg_%05d.m4s", i)
		if i == n-1 {
			name = "index.m3u8"
		}
		p, sum := writeRecording(t, stage, name, 2000+i, uint64(100+i))
		key := prefix + "r/" + name
		files = append(files, recordingupload.File{Path: p, Key: key, CacheControl: "public, max-age=60"})
		sums[key] = sum
	}
	return files, sums
}

// TestFilesGoUpBeforeOnUploaded: an item's companion files are all in the
// store, byte for byte, when OnUploaded runs; the last of them is stored
// after the others; all local copies (and their emptied directories) are
// deleted once the item is done.
func TestFilesGoUpBeforeOnUploaded(t *testing.T) {
	t.Parallel()
	local := newLocalStore(t)
	st := newHookStore(local)
	cfg, _ := testConfig(t, st)
	dir := t.TempDir()
	files, sums := companions(t, dir, "a/hls/", 9)
	rec, _ := writeRecording(t, dir, "s1.mp4", 5000, 1)
	var mu sync.Mutex
	var got []recordingupload.Item
	cfg.OnUploaded = func(ctx context.Context, it recordingupload.Item, info objstore.ObjectInfo) error {
		for key, sum := range sums {
			if s := objectSHA(t, local, key); s != sum {
				t.Errorf("OnUploaded: %s has sha256 %q, want %s", key, s, sum)
			}
		}
		mu.Lock()
		got = append(got, it)
		mu.Unlock()
		return nil
	}
	var order []string
	st.wrap = func(ctx context.Context, key string, r io.Reader) io.Reader {
		mu.Lock()
		order = append(order, key)
		mu.Unlock()
		return r
	}
	q := openQueue(t, cfg)
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: rec, Key: "a/source.mp4", Files: files}); err != nil {
		t.Fatal(err)
	}
	if it := item(t, q, "s1"); len(it.Files) != 9 || it.Files[0].SHA256 == "" || it.Files[0].Size != 2000 {
		t.Fatalf("queued files %+v: want 9 with sizes and checksums", it.Files)
	}
	runQueue(t, q)
	testutil.Eventually(t, 10*time.Second, "item done", func() bool { return itemState(q, "s1") == recordingupload.StateDone })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || len(got[0].Files) != 9 {
		t.Fatalf("OnUploaded saw %d items, the first with files %+v", len(got), got)
	}
	if len(order) != 10 || order[len(order)-1] != "a/hls/r/index.m3u8" {
		t.Errorf("upload order %v: want the main file, the media, the playlist last", order)
	}
	if exists(rec) || exists(filepath.Join(dir, "stage")) {
		t.Error("local files or their staging directory left after the item is done")
	}
}

// TestFilesResumeAfterRestart: a queue stopped in the middle of an item's
// companion files (as a restart of the edge stops it) resumes in the next
// process with the files the store does not have, each stored once, and
// only then hands the item to OnUploaded.
func TestFilesResumeAfterRestart(t *testing.T) {
	t.Parallel()
	local := newLocalStore(t)
	st := newHookStore(local)
	cfg, _ := testConfig(t, st)
	dir := t.TempDir()
	files, sums := companions(t, dir, "a/hls/", 12)
	rec, _ := writeRecording(t, dir, "s1.mp4", 5000, 1)
	var called int
	var mu sync.Mutex
	cfg.OnUploaded = func(context.Context, recordingupload.Item, objstore.ObjectInfo) error {
		mu.Lock()
		called++
		mu.Unlock()
		return nil
	}
	// The first run is stopped once five companion files are stored.
	stopped := make(chan struct{})
	var puts int
	var storedFirst []string
	var once sync.Once
	q := openQueue(t, cfg)
	stop := runQueue(t, q)
	st.wrap = func(ctx context.Context, key string, r io.Reader) io.Reader {
		mu.Lock()
		defer mu.Unlock()
		if key == "a/source.mp4" {
			return r
		}
		if puts++; puts <= 5 {
			storedFirst = append(storedFirst, key)
		} else {
			once.Do(func() { close(stopped) })
			mu.Unlock()
			<-ctx.Done()
			mu.Lock()
			return errReader{ctx.Err()}
		}
		return r
	}
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: rec, Key: "a/source.mp4", Files: files}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("uploads never reached the sixth file")
	}
	stop()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if called != 0 {
		t.Fatalf("OnUploaded ran %d times before every file was stored", called)
	}
	st.wrap = nil
	begun := storedFirst
	mu.Unlock()
	// Four files go up at once, so some of the first five may have been
	// cut off by the stop; the ones the store has must not go up again.
	// A worker takes the sixth file only after finishing one, and the
	// fifth after another: at least two are in the store.
	var stored []string
	for _, key := range begun {
		if _, err := local.Stat(context.Background(), key); err == nil {
			stored = append(stored, key)
		}
	}
	if len(stored) < 2 {
		t.Fatalf("before the stop the store holds %v of %v, want at least two", stored, begun)
	}

	q2 := openQueue(t, cfg)
	if s := itemState(q2, "s1"); s != recordingupload.StatePending {
		t.Fatalf("after restart the item is %q, want pending", s)
	}
	runQueue(t, q2)
	testutil.Eventually(t, 10*time.Second, "item done after restart", func() bool { return itemState(q2, "s1") == recordingupload.StateDone })
	for key, sum := range sums {
		if s := objectSHA(t, local, key); s != sum {
			t.Errorf("%s: sha256 %q, want %s", key, s, sum)
		}
	}
	if n := st.putCount("a/source.mp4"); n != 1 {
		t.Errorf("main file stored %d times, want once", n)
	}
	for _, key := range stored {
		if n := st.putCount(key); n != 1 {
			t.Errorf("%s, stored before the restart, was stored %d times, want once", key, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if called != 1 {
		t.Errorf("OnUploaded ran %d times, want once", called)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestLostFileDropsFiles: a companion file that vanishes before the store
// has it does not hold the main file back: the item goes on without its
// Files, and OnUploaded sees none (the recording is then transcoded).
func TestLostFileDropsFiles(t *testing.T) {
	t.Parallel()
	local := newLocalStore(t)
	cfg, logs := testConfig(t, local)
	dir := t.TempDir()
	files, _ := companions(t, dir, "a/hls/", 4)
	rec, _ := writeRecording(t, dir, "s1.mp4", 5000, 1)
	seen := make(chan recordingupload.Item, 4)
	cfg.OnUploaded = func(_ context.Context, it recordingupload.Item, _ objstore.ObjectInfo) error {
		seen <- it
		return nil
	}
	q := openQueue(t, cfg)
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: rec, Key: "a/source.mp4", Files: files}); err != nil {
		t.Fatal(err)
	}
	os.Remove(files[1].Path)
	runQueue(t, q)
	testutil.Eventually(t, 10*time.Second, "item done", func() bool { return itemState(q, "s1") == recordingupload.StateDone })
	it := <-seen
	if len(it.Files) != 0 {
		t.Errorf("OnUploaded saw %d files, want none once one was lost", len(it.Files))
	}
	if _, err := local.Stat(context.Background(), "a/source.mp4"); err != nil {
		t.Errorf("main file not stored: %v", err)
	}
	if !logs.has(slog.LevelError, "companion file vanished") {
		t.Error("the dropped files were not logged")
	}
	if exists(files[0].Path) {
		t.Error("a dropped companion file was left on disk")
	}
}

// TestFilesIdempotentEnqueue: enqueuing the same item again (the edge
// repeating itself) neither duplicates it nor loses its files.
func TestFilesIdempotentEnqueue(t *testing.T) {
	t.Parallel()
	cfg, _ := testConfig(t, newLocalStore(t))
	dir := t.TempDir()
	files, _ := companions(t, dir, "a/hls/", 3)
	rec, _ := writeRecording(t, dir, "s1.mp4", 5000, 1)
	q := openQueue(t, cfg)
	for range 2 {
		if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: rec, Key: "a/source.mp4", Files: files}); err != nil {
			t.Fatal(err)
		}
	}
	if items := q.Items(); len(items) != 1 || len(items[0].Files) != 3 {
		t.Fatalf("items after two enqueues: %+v", items)
	}
	err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: rec, Key: "b/source.mp4", Files: files})
	if err == nil || errors.Is(err, recordingupload.ErrClosed) {
		t.Errorf("enqueue of the same id with another key: %v, want an error", err)
	}
}
