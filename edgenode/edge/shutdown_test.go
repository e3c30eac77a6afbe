package edge_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

// stuckStore is an object store whose uploads hang until their context
// ends, as an unreachable S3 does.
type stuckStore struct {
	objstore.Store
	putting atomic.Int32
}

func (s *stuckStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	return s.stuck(ctx)
}

func (s *stuckStore) PutFile(ctx context.Context, key, path string, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	return s.stuck(ctx)
}

func (s *stuckStore) stuck(ctx context.Context) (objstore.ObjectInfo, error) {
	s.putting.Add(1)
	defer s.putting.Add(-1)
	<-ctx.Done()
	return objstore.ObjectInfo{}, ctx.Err()
}

// childRunner runs every media job as a child process that lasts until
// the job's context ends.
type childRunner struct {
	mu   sync.Mutex
	pids []int
}

func (r *childRunner) Run(ctx context.Context, job protocol.Job, progress func(protocol.JobProgress)) (protocol.MediaResult, error) {
	cmd := exec.CommandContext(ctx, "sleep", "600")
	if err := cmd.Start(); err != nil {
		return protocol.MediaResult{}, err
	}
	r.mu.Lock()
	r.pids = append(r.pids, cmd.Process.Pid)
	r.mu.Unlock()
	cmd.Wait()
	return protocol.MediaResult{}, ctx.Err()
}

func (r *childRunner) Thumbnail(ctx context.Context, input string, at float64, width int) ([]byte, error) {
	return nil, errors.New("no thumbnails here")
}

func (r *childRunner) PIDs() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.pids...)
}

// runEdge runs n until the returned stop is called or the test ends; stop
// cancels Run's context and returns how long Run took to return.
func runEdge(t testing.TB, n *edge.Node) (stop func() (time.Duration, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- n.Run(ctx) }()
	var once sync.Once
	var took time.Duration
	var err error
	stop = func() (time.Duration, error) {
		once.Do(func() {
			cancel()
			begin := time.Now()
			select {
			case err = <-ran:
				took = time.Since(begin)
			case <-time.After(edge.ShutdownGrace + 10*time.Second):
				t.Errorf("edge Run did not return within %v of its context ending", edge.ShutdownGrace+10*time.Second)
				took = time.Since(begin)
			}
		})
		return took, err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestShutdownMidPublish cancels a running edge's context while a publish
// is being transcoded and recorded, a media job runs and a recording's
// upload hangs: Run returns within its grace period, no child process is
// left, the live recording is finalized and reported, and both recordings
// wait in the durable queue, which a restarted edge uploads.
func TestShutdownMidPublish(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	const key = "sk_test_shutdown"
	cp := startFakeControl(t, key, protocol.PlaybackPublic)
	dir := t.TempDir()

	// A recording left by an earlier run: queued at start, its upload
	// hangs.
	old := mediatest.File(t, mediatest.Spec{Width: 640, Height: 360, Seconds: 8, Audio: true, Fragmented: true})
	if err := os.MkdirAll(filepath.Join(dir, "recordings"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < transcode.MinRecordingBytes {
		t.Fatalf("fixture recording is %d bytes, under the %d kept", len(b), transcode.MinRecordingBytes)
	}
	if err := os.WriteFile(filepath.Join(dir, "recordings", "ses_old.org_test.mp4"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	local, err := objstore.NewLocal(t.TempDir(), "http://127.0.0.1:1", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	store := &stuckStore{Store: local}
	runner := &childRunner{}
	cp.queueJob(protocol.Job{ID: "job_1", Type: protocol.JobVOD, OrgID: "org_test", AssetID: "ast_1"})
	n, err := edge.New(edge.Config{NodeID: "edge-1", DataDir: dir, Control: []string{cp.addr()}, JoinToken: cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ObjectStore: store, Runner: runner, MaxJobs: 1,
		UploadBackoffMax: 200 * time.Millisecond, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	stop := runEdge(t, n)

	testutil.Eventually(t, 20*time.Second, "the media job to run", func() bool { return len(runner.PIDs()) == 1 })
	testutil.Eventually(t, 20*time.Second, "the old recording's upload to hang", func() bool { return store.putting.Load() >= 1 })

	mediatest.Publish(t, n.RTMPURL()+"/"+key, mediatest.Live{Spec: mediatest.Spec{Width: 640, Height: 360, Audio: true}})
	rec := filepath.Join(dir, "recordings", "ses_1.org_test.mp4")
	testutil.Until(t, 30*time.Second, "the live recording to grow", func() error {
		fi, err := os.Stat(rec)
		if err != nil {
			return err
		}
		if fi.Size() < 2*transcode.MinRecordingBytes {
			return errors.New("recording still small")
		}
		return nil
	})
	pids := n.TranscoderPIDs() // the live ffmpeg and the job's child
	if len(pids) != 2 {
		t.Fatalf("transcoder pids %v, want the live ffmpeg and the job", pids)
	}

	took, err := stop()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took > edge.ShutdownGrace {
		t.Fatalf("Run returned %v after its context ended, over the %v grace", took, edge.ShutdownGrace)
	}
	t.Logf("FIGURE edge shutdown mid-publish (live ffmpeg, media job, hung upload): Run returned in %v", took.Round(time.Millisecond))
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("child %d outlived the edge", pid)
		}
	}
	end, ok := cp.sessionEnded("ses_1")
	if !ok || end.Reason != "cancelled" || end.RecordingBytes < 2*transcode.MinRecordingBytes {
		t.Fatalf("session end report %+v (reported: %v), want cancelled with the recording", end, ok)
	}
	if cp.recordingUploaded("ses_1") || cp.recordingUploaded("ses_old") {
		t.Fatal("a recording was registered through a store that never took it")
	}

	// The next start uploads both from the durable queue.
	n2, err := edge.New(edge.Config{NodeID: "edge-1", DataDir: dir, Control: []string{cp.addr()}, JoinToken: cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ObjectStore: local, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runEdge(t, n2)
	testutil.Eventually(t, 30*time.Second, "both recordings uploaded and registered", func() bool {
		return cp.recordingUploaded("ses_1") && cp.recordingUploaded("ses_old")
	})
	for _, session := range []string{"ses_1", "ses_old"} {
		k, _ := objstore.AssetKey("org_test", protocol.RecordingAssetID(session), objstore.SourceFile)
		if info, err := local.Stat(context.Background(), k); err != nil || info.Size < transcode.MinRecordingBytes {
			t.Errorf("%s in the store: %+v, %v", k, info, err)
		}
	}
	if _, err := os.Stat(rec); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("uploaded recording still on disk: %v", err)
	}
}
