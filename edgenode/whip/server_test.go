package whip

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/livestreams/livestreams/shared/testutil"
)

const testKey = "sk_test_whip_key"

// fileSink is the consumer of a test session: it writes the MPEG-TS to a
// file and remembers what the session said.
type fileSink struct {
	path string
	f    *os.File

	mu      sync.Mutex
	src     *Source
	bytes   int
	closed  bool
	closeEr error
	done    chan struct{}
}

func (s *fileSink) Start(src Source) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.src = &src
	return nil
}

func (s *fileSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.src == nil {
		return 0, errors.New("write before start")
	}
	s.bytes += len(p)
	return s.f.Write(p)
}

func (s *fileSink) Close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		panic("sink closed twice")
	}
	s.closed, s.closeEr = true, err
	_ = s.f.Close()
	close(s.done)
}

func (s *fileSink) state() (src *Source, n int, closed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.src, s.bytes, s.closed, s.closeEr
}

// testServer is a whip.Server on 127.0.0.1 behind httptest, accepting
// testKey and recording every sink it opens.
type testServer struct {
	*Server
	url  string
	stop func() // ends Run and waits for it

	mu    sync.Mutex
	sinks []*fileSink
}

func newTestServer(t *testing.T, tweak func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{}
	dir := t.TempDir()
	cfg := Config{
		UDPAddr:      testutil.FreeAddr(t),
		LoopbackOnly: true,
		Logger:       testutil.Logger(t),
		Publish: func(ctx context.Context, req Request) (Sink, error) {
			if req.StreamKey != testKey {
				return nil, Refuse(http.StatusUnauthorized, errors.New("unknown stream key"))
			}
			ts.mu.Lock()
			defer ts.mu.Unlock()
			path := filepath.Join(dir, "session"+strconv.Itoa(len(ts.sinks))+".ts")
			f, err := os.Create(path)
			if err != nil {
				return nil, err
			}
			s := &fileSink{path: path, f: f, done: make(chan struct{})}
			ts.sinks = append(ts.sinks, s)
			return s, nil
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = srv
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		if err := srv.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	ts.stop = func() { cancel(); <-ran }
	hs := httptest.NewServer(srv)
	ts.url = hs.URL + DefaultBasePath + "/live"
	t.Cleanup(func() {
		hs.Close()
		ts.stop()
	})
	testutil.Eventually(t, 5*time.Second, "server running", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.ctx != nil
	})
	return ts
}

func (ts *testServer) sinkCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.sinks)
}

func (ts *testServer) sink(i int) *fileSink {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.sinks[i]
}

// TestPublishH264Opus is the whole path: a pion publisher sends ffmpeg's
// H264 and Opus for a few seconds over loopback, DELETE ends it, and the
// MPEG-TS the session produced is probed and transcoded by ffmpeg.
func TestPublishH264Opus(t *testing.T) {
	const seconds = 6
	m := makeMedia(t, seconds)
	ts := newTestServer(t, nil)
	p := newPublisher(t, clientAPI(t, nil), webrtc.MimeTypeH264, true)

	resp, body := post(t, ts.url, testKey, "application/sdp", strings.NewReader(p.offer(t)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %s: %s", resp.Status, body)
	}
	loc, etag := resp.Header.Get("Location"), resp.Header.Get("ETag")
	if !strings.HasPrefix(loc, DefaultBasePath+"/resource/") || etag == "" || resp.Header.Get("Content-Type") != "application/sdp" {
		t.Fatalf("201 without a resource: Location %q, ETag %q, Content-Type %q", loc, etag, resp.Header.Get("Content-Type"))
	}
	if strings.Contains(body, "a=candidate") && !strings.Contains(body, "127.0.0.1") {
		t.Fatalf("answer has candidates off loopback:\n%s", body)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
		t.Fatal(err)
	}
	p.waitConnected(t)

	began := time.Now()
	ctx, cancel := context.WithCancel(testutil.Context(t, 30*time.Second))
	defer cancel()
	p.send(ctx, t, m)
	t.Logf("sent %d s of media in %v", seconds, time.Since(began).Round(time.Millisecond))

	sk := ts.sink(0)
	if src, n, _, _ := sk.state(); src == nil || n == 0 {
		t.Fatalf("nothing reached the sink (source %v, %d bytes)", src, n)
	}
	del, _ := http.NewRequest(http.MethodDelete, strings.TrimSuffix(ts.url, DefaultBasePath+"/live")+loc, nil)
	if resp, body := do(t, del); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %s: %s", resp.Status, body)
	}
	select {
	case <-sk.done:
	case <-time.After(10 * time.Second):
		t.Fatal("DELETE did not close the sink")
	}
	src, n, _, closeErr := sk.state()
	if closeErr != nil {
		t.Fatalf("sink closed with %v after DELETE, want nil (a clean unpublish)", closeErr)
	}
	want := Source{Width: m.width, Height: m.height, HasAudio: true, HasVideo: true, VideoCodec: "h264", AudioCodec: "opus"}
	src.FrameRate = 0
	if *src != want {
		t.Fatalf("source %+v, want %+v", *src, want)
	}
	testutil.Eventually(t, 5*time.Second, "session gone", func() bool { return ts.Len() == 0 })
	if resp, _ := do(t, del); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("second DELETE: %s, want 404", resp.Status)
	}
	t.Logf("muxed %d bytes of MPEG-TS", n)

	probe := ffprobe(t, sk.path)
	var v, a *probeStream
	for i := range probe.Streams {
		switch probe.Streams[i].CodecType {
		case "video":
			v = &probe.Streams[i]
		case "audio":
			a = &probe.Streams[i]
		}
	}
	if v == nil || v.CodecName != "h264" || v.Width != m.width || v.Height != m.height {
		t.Fatalf("video stream %+v, want h264 %dx%d", v, m.width, m.height)
	}
	if a == nil || a.CodecName != "opus" {
		t.Fatalf("audio stream %+v, want opus", a)
	}
	dur, _ := strconv.ParseFloat(probe.Format.Duration, 64)
	t.Logf("ffprobe: duration %.2f s (sent %d s)", dur, seconds)
	if dur < seconds-1.5 || dur > seconds+1 {
		t.Fatalf("duration %.2f s, want about %d s", dur, seconds)
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", sk.path, "-c:a", "aac", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg cannot transcode the session's MPEG-TS: %v\n%s", err, out)
	}
}

type probeStream struct {
	CodecType string `json:"codec_type"`
	CodecName string `json:"codec_name"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
}

type probeResult struct {
	Streams []probeStream `json:"streams"`
	Format  struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func ffprobe(t *testing.T, path string) probeResult {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var r probeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("ffprobe output: %v", err)
	}
	return r
}
