package mediajobs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

// The tests in this package run the real ffmpeg and ffprobe on a few
// seconds of generated media (package mediatest), against a Local object
// store whose presigned URLs an httptest server answers.

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

func newRunner(t *testing.T, store objstore.Store) *Runner {
	t.Helper()
	mediatest.RequireFFmpeg(t)
	r, err := NewRunner(Config{Store: store, WorkDir: t.TempDir(), Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
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
