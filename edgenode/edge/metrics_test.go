package edge_test

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

// scrape reads an edge's /metrics into series ("name{labels}") and values.
func scrape(t *testing.T, n *edge.Node) map[string]float64 {
	t.Helper()
	code, body := get(n.HTTPURL() + "/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

var mediaSequence = regexp.MustCompile(`(?m)^#EXT-X-MEDIA-SEQUENCE:(\d+)$`)

// TestMetricsAndWindowAfterPublish publishes to an edge whose stream has
// a 6 s DVR window: the live playlist it serves never lists more than the
// window (three 2 s segments) and its media sequence moves past 0; /metrics
// shows the session, its ffmpeg speed, the requests by kind and the bytes
// sent, then the recording leaving the upload queue, and the job slots.
func TestMetricsAndWindowAfterPublish(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	const key = "sk_test_metrics"
	cp := startFakeControl(t, key, protocol.PlaybackPublic)
	cp.dvrWindow = 6
	local, err := objstore.NewLocal(t.TempDir(), "http://127.0.0.1:1", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	n, err := edge.New(edge.Config{NodeID: "edge-m", DataDir: t.TempDir(), Control: []string{cp.addr()}, JoinToken: cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ObjectStore: local, Runner: &childRunner{}, MaxJobs: 2,
		Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runEdge(t, n)

	pub := mediatest.Publish(t, n.RTMPURL()+"/"+key, mediatest.Live{Spec: mediatest.Spec{Width: 320, Height: 180, Seconds: 16, Audio: true}})
	base := n.HTTPURL() + "/hls/pb1/"
	var variant string
	testutil.Until(t, 30*time.Second, "the master playlist", func() error {
		code, body := get(base + "master.m3u8")
		if code != 200 {
			return fmt.Errorf("master.m3u8: %d", code)
		}
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasSuffix(l, ".m3u8") {
				variant = l
				return nil
			}
		}
		return fmt.Errorf("no variant in %q", body)
	})
	var maxListed, segments int
	var lastSegment string
	testutil.Until(t, 40*time.Second, "the live window to slide", func() error {
		code, body := get(base + variant)
		if code != 200 {
			return fmt.Errorf("%s: %d", variant, code)
		}
		listed := 0
		for _, l := range strings.Split(string(body), "\n") {
			if !strings.HasPrefix(l, "#") && strings.Contains(l, ".m4s") { // segments, not parts' tags
				listed++
				lastSegment = l
			}
		}
		maxListed = max(maxListed, listed)
		if listed > 3 {
			t.Fatalf("the playlist lists %d segments, over a 6 s window of 2 s segments:\n%s", listed, body)
		}
		if lastSegment != "" && segments == 0 {
			if code, _ := get(base + strings.TrimSuffix(variant, "index.m3u8") + lastSegment); code == 200 {
				segments++
			}
		}
		m := mediaSequence.FindStringSubmatch(string(body))
		if m == nil || m[1] == "0" {
			return fmt.Errorf("media sequence still 0:\n%s", body)
		}
		return nil
	})

	live := scrape(t, n)
	session := `livestreams_edge_ffmpeg_speed{session_id="ses_1"}`
	for series, ok := range map[string]func(float64) bool{
		"livestreams_edge_live_sessions": func(v float64) bool { return v == 1 },
		"livestreams_edge_transcodes":    func(v float64) bool { return v == 1 },
		session:                          func(v float64) bool { return v > 0.3 && v < 10 },
		`livestreams_edge_hls_requests_total{code="2xx",kind="master"}`:   func(v float64) bool { return v >= 1 },
		`livestreams_edge_hls_requests_total{code="2xx",kind="playlist"}`: func(v float64) bool { return v >= 1 },
		`livestreams_edge_hls_requests_total{code="2xx",kind="segment"}`:  func(v float64) bool { return v == float64(segments) },
		`livestreams_edge_hls_sent_bytes_total{kind="playlist"}`:          func(v float64) bool { return v > 0 },
		"livestreams_edge_egress_bytes_total":                             func(v float64) bool { return v > 0 },
		"livestreams_edge_viewers":                                        func(v float64) bool { return v == 0 },
		`livestreams_edge_job_slots{state="total"}`:                       func(v float64) bool { return v == 2 },
		`livestreams_edge_job_slots{state="busy"}`:                        func(v float64) bool { return v == 0 },
		`livestreams_edge_upload_queue_items{state="pending"}`:            func(v float64) bool { return v == 0 },
		"livestreams_edge_upload_queue_oldest_age_seconds":                func(v float64) bool { return v == 0 },
		"go_goroutines": func(v float64) bool { return v > 0 },
	} {
		if v, has := live[series]; !has || !ok(v) {
			t.Errorf("during the publish: %s = %v (present %v)", series, v, has)
		}
	}
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	testutil.Eventually(t, 60*time.Second, "the recording uploaded", func() bool { return cp.recordingUploaded("ses_1") })
	testutil.Until(t, 10*time.Second, "the metrics to show it", func() error {
		after := scrape(t, n)
		for series, want := range map[string]float64{
			"livestreams_edge_live_sessions":                       0,
			"livestreams_edge_transcodes":                          0,
			"livestreams_edge_uploads_done_total":                  1,
			`livestreams_edge_upload_queue_items{state="pending"}`: 0,
			"livestreams_edge_upload_queue_bytes":                  0,
		} {
			if v, has := after[series]; !has || v != want {
				return fmt.Errorf("after the publish: %s = %v (present %v), want %v", series, v, has, want)
			}
		}
		if _, has := after[session]; has {
			return fmt.Errorf("%s still exported after the session ended", session)
		}
		return nil
	})
	t.Logf("at most %d segments listed with a 6 s window; ffmpeg speed %.2f during the publish", maxListed, live[session])
}
