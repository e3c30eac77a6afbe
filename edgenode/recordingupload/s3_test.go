package recordingupload_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/recordingupload"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/objstore/objstoretest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// bigSize makes an object of three parts at the smallest part size, so
// that uploads are multipart and can be cut in the middle.
const bigSize = 2*objstore.MinPartSize + 12345

var bucketSeq atomic.Int64

// newS3 returns an S3 store on a new bucket of gw. The SDK tries each
// request once, so that an outage shows at once in the queue's attempts.
func newS3(t *testing.T, gw *objstoretest.VersityGW) *objstore.S3 {
	t.Helper()
	st, err := openS3(gw.Endpoint, gw.Region, gw.AccessKey, gw.SecretKey, fmt.Sprintf("uploadq-test-%d", bucketSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func openS3(endpoint, region, access, secret, bucket string) (*objstore.S3, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return objstore.NewS3(ctx, objstore.S3Config{
		Endpoint: endpoint, Region: region, Bucket: bucket,
		AccessKey: access, SecretKey: secret, PathStyle: true,
		PartSize: objstore.MinPartSize, MaxAttempts: 1, StallTimeout: 10 * time.Second,
	})
}

// TestS3UploadsConfirmsAndDeletes is the happy path against a real S3
// server: three files (one multipart) uploaded, confirmed, registered
// once each while the local file still exists, then deleted.
func TestS3UploadsConfirmsAndDeletes(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	st := newS3(t, gw)
	cfg, _ := testConfig(t, st)
	var (
		mu    sync.Mutex
		calls = map[string]int{}
	)
	cfg.OnUploaded = func(ctx context.Context, it recordingupload.Item, info objstore.ObjectInfo) error {
		mu.Lock()
		defer mu.Unlock()
		calls[it.ID]++
		if !exists(it.LocalPath) {
			t.Errorf("%s: local file gone before OnUploaded", it.ID)
		}
		if info.Key != it.Key || info.Size != it.Size || info.SHA256 != it.SHA256 {
			t.Errorf("%s: OnUploaded got %+v for item %+v", it.ID, info, it)
		}
		return nil
	}
	q := openQueue(t, cfg)
	dir := t.TempDir()
	sums := map[string]string{}
	paths := map[string]string{}
	for i, size := range []int{bigSize, 1000, 70000} {
		id := fmt.Sprintf("s%d", i)
		paths[id], sums[id] = writeRecording(t, dir, id+".mp4", size, uint64(i))
		if err := q.Enqueue(recordingupload.Item{ID: id, LocalPath: paths[id], Key: "org/o1/assets/" + id + "/source.mp4"}); err != nil {
			t.Fatal(err)
		}
	}
	runQueue(t, q)
	testutil.Eventually(t, 60*time.Second, "three items done", func() bool { return q.Stats().Done == 3 })
	mu.Lock()
	defer mu.Unlock()
	for id, sum := range sums {
		key := "org/o1/assets/" + id + "/source.mp4"
		info, err := st.Stat(context.Background(), key)
		if err != nil || info.SHA256 != sum {
			t.Errorf("%s: Stat = %+v, %v; want sha256 %s", id, info, err, sum)
		}
		if got := objectSHA(t, st, key); got != sum {
			t.Errorf("%s: object content hashes to %s, want %s", id, got, sum)
		}
		if calls[id] != 1 {
			t.Errorf("%s: OnUploaded called %d times", id, calls[id])
		}
		if exists(paths[id]) {
			t.Errorf("%s: local file still there", id)
		}
	}
}

// TestS3OutageMidUpload: S3 dies in the middle of a multipart upload and
// stays down for several attempts; the queue keeps the file and backs
// off, and finishes with identical bytes once S3 is back.
func TestS3OutageMidUpload(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	st := newHookStore(newS3(t, gw))
	var killed atomic.Bool
	st.wrap = func(_ context.Context, _ string, r io.Reader) io.Reader {
		if killed.Swap(true) {
			return r
		}
		return &onReadPast{r: r, n: objstore.MinPartSize + 1<<20, fn: gw.Stop}
	}
	cfg, _ := testConfig(t, st)
	q := openQueue(t, cfg)
	path, sum := writeRecording(t, t.TempDir(), "s1.mp4", bigSize, 11)
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/s1.mp4"}); err != nil {
		t.Fatal(err)
	}
	runQueue(t, q)
	testutil.Eventually(t, 30*time.Second, "four failed attempts", func() bool {
		it := item(t, q, "s1")
		return it.Attempts >= 4 && it.State == recordingupload.StatePending
	})
	it := item(t, q, "s1")
	if it.LastError == "" || q.Stats().LastErrorID != "s1" {
		t.Errorf("no error recorded during the outage: %+v", it)
	}
	if wait := it.NextAttemptAt.Sub(it.LastErrorAt); it.LastErrorAt.IsZero() || wait < 0 || wait > cfg.BackoffMax {
		t.Errorf("next attempt %s after the last failure, want within [0, %s]", wait, cfg.BackoffMax)
	}
	if !exists(path) {
		t.Fatal("local file deleted during the outage")
	}
	gw.Start()
	testutil.Eventually(t, 60*time.Second, "item done after the outage", func() bool { return itemState(q, "s1") == recordingupload.StateDone })
	if got := objectSHA(t, st, "rec/s1.mp4"); got != sum {
		t.Errorf("object content hashes to %s, want %s", got, sum)
	}
	if exists(path) {
		t.Error("local file still there")
	}
	// Bounded: backoff of at most 100ms over an outage of a few hundred
	// milliseconds, not a hot loop.
	if n := item(t, q, "s1").Attempts; n > 200 {
		t.Errorf("%d attempts", n)
	}
}

// blockMidway passes n bytes, then closes reached and blocks until ctx
// ends, as an upload cut off by a crash.
type blockMidway struct {
	ctx     context.Context
	r       io.Reader
	n       int64
	read    int64
	reached func()
}

func (b *blockMidway) Read(p []byte) (int, error) {
	if b.read >= b.n {
		b.reached()
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	}
	p = p[:min(int64(len(p)), b.n-b.read)]
	m, err := b.r.Read(p)
	b.read += int64(m)
	return m, err
}

// TestS3RestartResumes: Run is stopped in the middle of an upload (the
// queue file left as a crash leaves it), the queue is reopened while S3
// is down, and completes once S3 is back; the local file goes only after.
func TestS3RestartResumes(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	s3 := newS3(t, gw)
	st := newHookStore(s3)
	midway := make(chan struct{})
	var once sync.Once
	st.wrap = func(ctx context.Context, _ string, r io.Reader) io.Reader {
		return &blockMidway{ctx: ctx, r: r, n: objstore.MinPartSize + 1<<20, reached: func() { once.Do(func() { close(midway) }) }}
	}
	cfg, logs := testConfig(t, st)
	q := openQueue(t, cfg)
	path, sum := writeRecording(t, t.TempDir(), "s1.mp4", bigSize, 12)
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/s1.mp4"}); err != nil {
		t.Fatal(err)
	}
	stop := runQueue(t, q)
	select {
	case <-midway:
	case <-time.After(30 * time.Second):
		t.Fatal("upload did not reach its middle in 30s")
	}
	stop()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	gw.Stop()

	var registered atomic.Bool
	cfg.Store = s3
	cfg.OnUploaded = func(_ context.Context, it recordingupload.Item, _ objstore.ObjectInfo) error {
		if !exists(it.LocalPath) {
			t.Error("local file gone before OnUploaded")
		}
		registered.Store(true)
		return nil
	}
	q = openQueue(t, cfg)
	if it := item(t, q, "s1"); it.State != recordingupload.StatePending || it.Attempts != 1 {
		t.Errorf("after reopen: %s with %d attempts, want pending with the interrupted one counted", it.State, it.Attempts)
	}
	if !logs.has(slog.LevelInfo, "resuming an upload") {
		t.Error("reopen did not log the interrupted upload")
	}
	runQueue(t, q)
	testutil.Eventually(t, 30*time.Second, "attempts while S3 is down", func() bool { return item(t, q, "s1").Attempts >= 3 })
	if !exists(path) {
		t.Fatal("local file deleted while S3 is down")
	}
	gw.Start()
	testutil.Eventually(t, 60*time.Second, "item done", func() bool { return itemState(q, "s1") == recordingupload.StateDone })
	if !registered.Load() {
		t.Error("OnUploaded not called")
	}
	if got := objectSHA(t, s3, "rec/s1.mp4"); got != sum {
		t.Errorf("object content hashes to %s, want %s", got, sum)
	}
	if exists(path) {
		t.Error("local file still there")
	}
}

// Environment of the crash helper process.
const (
	envHelper   = "UPLOADQ_CRASH_HELPER"
	envDB       = "UPLOADQ_CRASH_DB"
	envEndpoint = "UPLOADQ_CRASH_ENDPOINT"
	envBucket   = "UPLOADQ_CRASH_BUCKET"
	envAccess   = "UPLOADQ_CRASH_ACCESS"
	envSecret   = "UPLOADQ_CRASH_SECRET"
	envMarker   = "UPLOADQ_CRASH_MARKER"
)

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "1" {
		os.Exit(crashHelper())
	}
	os.Exit(m.Run())
}

// crashHelper runs the queue in a child process that writes the marker
// file in the middle of its upload and then waits to be killed.
func crashHelper() int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s3, err := openS3(os.Getenv(envEndpoint), "us-east-1", os.Getenv(envAccess), os.Getenv(envSecret), os.Getenv(envBucket))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st := newHookStore(s3)
	var once sync.Once
	st.wrap = func(ctx context.Context, _ string, r io.Reader) io.Reader {
		return &blockMidway{ctx: ctx, r: r, n: objstore.MinPartSize + 1<<20, reached: func() {
			once.Do(func() { os.WriteFile(os.Getenv(envMarker), nil, 0o644) })
		}}
	}
	q, err := recordingupload.Open(recordingupload.Config{Path: os.Getenv(envDB), Store: st, WarnFreeBytes: 1, MinFreeBytes: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	q.Run(ctx)
	fmt.Fprintln(os.Stderr, "crash helper: not killed within 60s")
	return 1
}

// TestS3KillDuringUpload: the process running the queue is killed with
// SIGKILL in the middle of a multipart upload; the next process resumes
// from the queue file and uploads the whole file.
func TestS3KillDuringUpload(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	s3 := newS3(t, gw)
	cfg, _ := testConfig(t, s3)
	dir := t.TempDir()
	path, sum := writeRecording(t, dir, "s1.mp4", bigSize, 13)
	q := openQueue(t, cfg)
	if err := q.Enqueue(recordingupload.Item{ID: "s1", LocalPath: path, Key: "rec/s1.mp4"}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	marker := filepath.Join(dir, "midway")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"=1", envDB+"="+cfg.Path, envEndpoint+"="+gw.Endpoint,
		envBucket+"="+s3.Bucket(), envAccess+"="+gw.AccessKey, envSecret+"="+gw.SecretKey, envMarker+"="+marker)
	out := &syncWriter{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	testutil.Eventually(t, 30*time.Second, "the child's upload to reach its middle", func() bool {
		select {
		case <-exited:
			t.Fatalf("child exited early: %s", out)
		default:
		}
		return exists(marker)
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("child not reaped 10s after SIGKILL")
	}
	if _, err := s3.Stat(context.Background(), "rec/s1.mp4"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("object visible after an interrupted upload: %v", err)
	}

	q = openQueue(t, cfg)
	if it := item(t, q, "s1"); it.State != recordingupload.StatePending || it.Attempts != 1 || !exists(path) {
		t.Fatalf("after the kill: %+v, local file exists %v", it, exists(path))
	}
	runQueue(t, q)
	testutil.Eventually(t, 60*time.Second, "item done", func() bool { return itemState(q, "s1") == recordingupload.StateDone })
	if got := objectSHA(t, s3, "rec/s1.mp4"); got != sum {
		t.Errorf("object content hashes to %s, want %s", got, sum)
	}
	if exists(path) {
		t.Error("local file still there")
	}
}

type syncWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
