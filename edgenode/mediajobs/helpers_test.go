package mediajobs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// The tests in this package run the real ffmpeg and ffprobe on a few
// seconds of generated media, against a Local object store whose
// presigned URLs an httptest server answers. They skip only when ffmpeg
// is not installed.

// fixtures caches generated sources across the tests of one run.
var fixtures struct {
	dir   string
	mu    sync.Mutex
	files map[string]string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "media-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtures.dir, fixtures.files = dir, map[string]string{}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func requireFFmpeg(t *testing.T) {
	t.Helper()
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed", p)
		}
	}
}

// sourceSpec describes a generated test source: testsrc2 video with a
// keyframe every 2 s (as our live recordings have) and a sine tone.
type sourceSpec struct {
	w, h    int
	seconds int
	video   bool
	audio   bool
	// fragmented writes fragmented MP4 as the live recorder does.
	fragmented bool
	// rotate marks the video as displayed turned by that many degrees, as
	// phones do.
	rotate int
}

func (s sourceSpec) name() string {
	return fmt.Sprintf("src_%dx%d_%ds_v%v_a%v_frag%v_rot%d.mp4", s.w, s.h, s.seconds, s.video, s.audio, s.fragmented, s.rotate)
}

// source returns the path of the generated file, making it once per run.
func source(t *testing.T, s sourceSpec) string {
	t.Helper()
	requireFFmpeg(t)
	fixtures.mu.Lock()
	defer fixtures.mu.Unlock()
	if p, ok := fixtures.files[s.name()]; ok {
		return p
	}
	path := filepath.Join(fixtures.dir, s.name())
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}
	if s.video {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30", s.w, s.h))
	}
	if s.audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	args = append(args, "-t", strconv.Itoa(s.seconds))
	if s.video {
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p")
	}
	if s.audio {
		args = append(args, "-c:a", "aac")
	}
	if s.fragmented {
		args = append(args, "-movflags", "+frag_keyframe+empty_moov+default_base_moof")
	}
	out := path
	if s.rotate != 0 {
		out = path + ".unrotated.mp4"
	}
	args = append(args, "-f", "mp4", out)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("generate %s: %v\n%s", s.name(), err, out)
	}
	if s.rotate != 0 {
		// The MP4 muxer turns the tag into a display matrix only when
		// remuxing; an encoder drops it.
		remux := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", out,
			"-c", "copy", "-metadata:s:v:0", "rotate=" + strconv.Itoa(s.rotate), "-f", "mp4", path}
		if out, err := exec.CommandContext(ctx, "ffmpeg", remux...).CombinedOutput(); err != nil {
			t.Fatalf("rotate %s: %v\n%s", s.name(), err, out)
		}
	}
	fixtures.files[s.name()] = path
	return path
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// newStore returns a Local store whose presigned URLs work: an httptest
// server on 127.0.0.1 serves its Handler.
func newStore(t *testing.T) *objstore.Local {
	t.Helper()
	var local *objstore.Local
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	l, err := objstore.NewLocal(t.TempDir(), srv.URL, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	local = l
	return l
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func newRunner(t *testing.T, store objstore.Store) *Runner {
	t.Helper()
	requireFFmpeg(t)
	r, err := NewRunner(Config{Store: store, WorkDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func putFile(t *testing.T, store objstore.Store, key, path string) objstore.ObjectInfo {
	t.Helper()
	info, err := store.PutFile(t.Context(), key, path, objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func job(t *testing.T, typ string, payload any) protocol.Job {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.Job{ID: "job_" + strings.ReplaceAll(t.Name(), "/", "_"), Type: typ, OrgID: "org1", Attempt: 1, Payload: b}
}

func assetPrefix(t *testing.T, asset string) string {
	t.Helper()
	p, err := objstore.AssetPrefix("org1", asset)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// recorder collects progress reports.
type recorder struct {
	mu      sync.Mutex
	reports []protocol.JobProgress
	at      []time.Time
}

func (r *recorder) add(p protocol.JobProgress) {
	r.mu.Lock()
	r.reports = append(r.reports, p)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
}

func (r *recorder) last() (protocol.JobProgress, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reports) == 0 {
		return protocol.JobProgress{}, false
	}
	return r.reports[len(r.reports)-1], true
}

// check verifies the reports rise to 100 and, but for the last, come at
// most twice a second.
func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reports) < 2 {
		t.Fatalf("%d progress reports, want several", len(r.reports))
	}
	for i := 1; i < len(r.reports); i++ {
		if r.reports[i].Percent < r.reports[i-1].Percent {
			t.Errorf("progress went back: %v after %v", r.reports[i].Percent, r.reports[i-1].Percent)
		}
		if gap := r.at[i].Sub(r.at[i-1]); i < len(r.reports)-1 && gap < progressEvery-50*time.Millisecond {
			t.Errorf("progress reports %v apart", gap)
		}
	}
	if last := r.reports[len(r.reports)-1].Percent; last != 100 {
		t.Errorf("last progress %v, want 100", last)
	}
}

// listKeys returns the keys under prefix.
func listKeys(t *testing.T, store objstore.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := store.List(t.Context(), prefix, func(o objstore.ObjectInfo) error {
		keys = append(keys, strings.TrimPrefix(o.Key, prefix))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func getObject(t *testing.T, store objstore.Store, key string) []byte {
	t.Helper()
	rc, _, err := store.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// probeTest runs ffprobe and returns its one-line answer.
func probeTest(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", append([]string{"-v", "error"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ffprobe %q: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// probeSize returns the width and height of a file's first video stream.
func probeSize(t *testing.T, path string) (int, int) {
	t.Helper()
	out := probeTest(t, "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0:s=x", path)
	var w, h int
	if _, err := fmt.Sscanf(out, "%dx%d", &w, &h); err != nil {
		t.Fatalf("size of %s: %q", path, out)
	}
	return w, h
}

func probeDuration(t *testing.T, path string) float64 {
	t.Helper()
	out := probeTest(t, "-show_entries", "format=duration", "-of", "csv=p=0", path)
	d, err := strconv.ParseFloat(out, 64)
	if err != nil {
		t.Fatalf("duration of %s: %q", path, out)
	}
	return d
}

// cue is one parsed storyboard cue.
type cue struct {
	start, end time.Duration
	image      string
	x, y, w, h int
}

var cueTiming = regexp.MustCompile(`^(\d{2,}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2,}):(\d{2}):(\d{2})\.(\d{3})$`)
var cueXYWH = regexp.MustCompile(`^([^#\s]+)#xywh=(\d+),(\d+),(\d+),(\d+)$`)

// parseVTT reads a storyboard's cues strictly: a header, then blocks of a
// timing line and one payload line.
func parseVTT(t *testing.T, data []byte) []cue {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	if !sc.Scan() || sc.Text() != "WEBVTT" {
		t.Fatalf("no WEBVTT header:\n%s", data)
	}
	var cues []cue
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		m := cueTiming.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("bad cue timing %q", line)
		}
		if !sc.Scan() {
			t.Fatalf("cue %q without payload", line)
		}
		p := cueXYWH.FindStringSubmatch(sc.Text())
		if p == nil {
			t.Fatalf("bad cue payload %q", sc.Text())
		}
		n := func(s string) int { v, _ := strconv.Atoi(s); return v }
		clock := func(h, m, s, ms string) time.Duration {
			return time.Duration(n(h))*time.Hour + time.Duration(n(m))*time.Minute +
				time.Duration(n(s))*time.Second + time.Duration(n(ms))*time.Millisecond
		}
		cues = append(cues, cue{
			start: clock(m[1], m[2], m[3], m[4]), end: clock(m[5], m[6], m[7], m[8]),
			image: p[1], x: n(p[2]), y: n(p[3]), w: n(p[4]), h: n(p[5]),
		})
	}
	return cues
}
