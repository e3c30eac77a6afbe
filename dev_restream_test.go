package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/edgenode/flv"
	"github.com/livestreams/livestreams/edgenode/rtmp"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// restreamTarget is a loopback RTMP server standing in for YouTube: our
// own rtmp.Server, so that no process's arguments hold the key, writing
// each publish it accepts to an FLV file.
type restreamTarget struct {
	t    *testing.T
	addr string
	key  string
	dir  string

	mu        sync.Mutex
	publishes int
	videos    int // video messages of the current publish
	files     []string
	refused   []string // stream keys refused
	stop      context.CancelFunc
	done      chan struct{}
}

func (rt *restreamTarget) start() {
	rt.t.Helper()
	srv, err := rtmp.NewServer(rtmp.Config{App: "app", Logger: testutil.Logger(rt.t), OnPublish: rt.onPublish})
	if err != nil {
		rt.t.Fatal(err)
	}
	var ln net.Listener
	testutil.Until(rt.t, 10*time.Second, "listen on the target's address again", func() error {
		ln, err = net.Listen("tcp", rt.addr)
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, ln) }()
	rt.mu.Lock()
	rt.stop, rt.done = cancel, done
	rt.mu.Unlock()
}

// kill stops the server and drops its connections.
func (rt *restreamTarget) kill() {
	rt.mu.Lock()
	stop, done := rt.stop, rt.done
	rt.mu.Unlock()
	stop()
	<-done
}

func (rt *restreamTarget) onPublish(_ context.Context, req rtmp.PublishRequest) (rtmp.Sink, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if req.StreamKey != rt.key {
		rt.refused = append(rt.refused, req.StreamKey)
		return nil, errors.New("unknown stream key")
	}
	rt.publishes++
	rt.videos = 0
	name := fmt.Sprintf("%s/publish-%d.flv", rt.dir, rt.publishes)
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	rt.files = append(rt.files, name)
	return &targetSink{rt: rt, f: f, w: flv.NewWriter(f, true, true)}, nil
}

func (rt *restreamTarget) state() (publishes, videos int, files []string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.publishes, rt.videos, append([]string(nil), rt.files...)
}

type targetSink struct {
	rt *restreamTarget
	f  *os.File
	w  *flv.Writer
}

func (s *targetSink) WriteMessage(m rtmp.Message) error {
	if m.Type == rtmp.TypeVideo {
		s.rt.mu.Lock()
		s.rt.videos++
		s.rt.mu.Unlock()
	}
	return s.w.WriteTag(flv.Tag{Type: m.Type, Timestamp: m.Timestamp, Data: m.Payload})
}

func (s *targetSink) Close(error) { s.f.Close() }

// TestRestream is the restream path end to end on one dev cluster: a
// target added while the stream is live gets the relayed stream (ffprobe
// decodes its video); killing the target makes the relay reconnecting,
// and live again once it is back; disabling the target stops its ffmpeg
// (the time it takes is logged); enabling it while live starts a new
// relay; the stream ending ends it. The target's key appears in no log
// line, no API answer and no process's arguments.
func TestRestream(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	c := startDevWith(t, func(cfg *devConfig) {
		// A stopped relay's job becomes cancelled when its lease lapses.
		cfg.JobLeaseTTL = 3 * time.Second
		cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(&logs, testutil.LogWriter(t, "dev: ")), &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := testutil.Context(t, 4*time.Minute)
	const key = "rtmp-target-key-7c1e9b04d2"
	target := &restreamTarget{t: t, addr: testutil.FreeAddr(t), key: key, dir: t.TempDir()}
	target.start()
	t.Cleanup(target.kill)

	s := newStream(t, c, client.StreamCreate{Name: "simulcast"})
	targets := c.API.RestreamTargets(s.ID)
	tgt, err := targets.Create(ctx, client.RestreamTargetCreate{Name: "loopback", URL: "rtmp://" + target.addr + "/app", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if tgt.Status != "idle" || tgt.KeyLast4 != key[len(key)-4:] {
		t.Fatalf("new target %+v", tgt)
	}
	status := func() client.RestreamTarget {
		got, err := targets.Get(ctx, tgt.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	waitStatus := func(want string, within time.Duration) client.RestreamTarget {
		t.Helper()
		var got client.RestreamTarget
		testutil.EventuallyEvery(t, within, devPoll, "restream target "+want, func() bool { got = status(); return got.Status == want })
		return got
	}

	pub := mediatest.Publish(t, c.RTMPURL(s.Key), mediatest.Live{Spec: mediatest.Spec{Width: 320, Height: 180, Seconds: 90, GOP: 30, Audio: true}})
	live := waitStatus("live", 60*time.Second)
	testutil.EventuallyEvery(t, 30*time.Second, devPoll, "the target receives video", func() bool { _, v, _ := target.state(); return v >= 90 })

	// No process shows the key; neither does any API answer.
	relayPID := restreamPID(t)
	if out := psArgs(t); strings.Contains(out, key) {
		t.Fatalf("ps shows the restream key:\n%s", out)
	}
	for _, path := range []string{"/v1/streams/" + s.ID + "/restream-targets", "/v1/streams/" + s.ID + "/restream-targets/" + tgt.ID,
		"/v1/jobs/" + live.JobID, "/v1/jobs?type=restream"} {
		if body := rawGet(t, c, path); strings.Contains(body, key) {
			t.Fatalf("GET %s shows the key: %s", path, body)
		}
	}
	_, _, files := target.state()
	if out, err := probe(t, files[0]); err != nil || !strings.Contains(out, "codec_type=video") || !strings.Contains(out, "width=320") {
		t.Fatalf("ffprobe of the relayed stream: %v\n%s", err, out)
	}

	// The target goes away: the relay says reconnecting, then live again.
	target.kill()
	if got := waitStatus("reconnecting", 30*time.Second); got.LastError == "" || strings.Contains(got.LastError, key) {
		t.Fatalf("reconnecting target: last error %q", got.LastError)
	}
	target.start()
	waitStatus("live", 60*time.Second)
	testutil.EventuallyEvery(t, 30*time.Second, devPoll, "the target receives video again", func() bool {
		n, v, _ := target.state()
		return n == 2 && v >= 30
	})
	if restreamPID(t) != relayPID {
		t.Fatal("the relay's ffmpeg was restarted for a reconnection; only the connection should be")
	}

	// Switching the target off stops its ffmpeg; on again starts another.
	off := false
	begin := time.Now()
	if _, err := targets.Update(ctx, tgt.ID, client.RestreamTargetUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the relay's ffmpeg exits", func() bool { return syscall.Kill(relayPID, 0) != nil })
	t.Logf("disable to relay ffmpeg gone: %v", time.Since(begin).Round(time.Millisecond))
	if got := status(); got.Status != "stopped" {
		t.Fatalf("disabled target: %+v", got)
	}
	testutil.EventuallyEvery(t, 30*time.Second, devPoll, "the relay's job cancelled", func() bool {
		j, err := c.API.Jobs().Get(ctx, live.JobID)
		return err == nil && j.State == "cancelled"
	})
	on := true
	if _, err := targets.Update(ctx, tgt.ID, client.RestreamTargetUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	again := waitStatus("live", 60*time.Second)
	if again.JobID == live.JobID {
		t.Fatal("re-enabling reused the cancelled job")
	}
	testutil.EventuallyEvery(t, 30*time.Second, devPoll, "a third publish to the target", func() bool { n, v, _ := target.state(); return n == 3 && v >= 30 })

	// The stream ends: so does the relay.
	pub.Process.Signal(os.Interrupt)
	pub.Wait()
	waitStatus("stopped", 60*time.Second)
	testutil.EventuallyEvery(t, 30*time.Second, devPoll, "the relay's job ends", func() bool {
		j, err := c.API.Jobs().Get(ctx, again.JobID)
		return err == nil && (j.State == "cancelled" || j.State == "succeeded")
	})
	target.mu.Lock()
	refused := len(target.refused)
	target.mu.Unlock()
	if refused > 0 {
		t.Fatalf("the target refused %d publishes with another key", refused)
	}
	if strings.Contains(logs.String(), key) {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, key) {
				t.Fatalf("a log line holds the restream key: %s", line)
			}
		}
	}
}

// restreamPID is the process id of the one running relay ffmpeg.
func restreamPID(t *testing.T) int {
	t.Helper()
	var pid int
	testutil.Eventually(t, 10*time.Second, "one relay ffmpeg", func() bool {
		pid = 0
		for _, line := range strings.Split(psPIDArgs(t), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && strings.Contains(line, "no_duration_filesize") && strings.Contains(line, "pipe:3") {
				if pid != 0 {
					return false
				}
				pid, _ = strconv.Atoi(f[0])
			}
		}
		return pid != 0
	})
	return pid
}

func psArgs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ps", "-eo", "args").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	return string(out)
}

func psPIDArgs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ps", "-eo", "pid,args").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	return string(out)
}

// rawGet is an API answer as it is on the wire.
func rawGet(t *testing.T, c *devCluster, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", c.APIURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}
