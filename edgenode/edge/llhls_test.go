package edge_test

import (
	"fmt"
	"os"
	"path/filepath"
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

var (
	preloadHint = regexp.MustCompile(`(?m)^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"$`)
	segmentLine = regexp.MustCompile(`(?m)^seg_\w+_(\d+)\.m4s$`)
)

// TestLowLatencyPublish publishes a low-latency stream to an edge and
// plays it as an LL-HLS client does: blocking reloads for the next
// segment return once it is listed, the preload hint's part is served as
// soon as it is written, a request too far ahead is refused, and the
// session's end leaves a finished playlist and no parts.
func TestLowLatencyPublish(t *testing.T) {
	t.Parallel()
	mediatest.RequireFFmpeg(t)
	const key = "sk_test_llhls"
	cp := startFakeControl(t, key, protocol.PlaybackPublic)
	cp.latency = protocol.LatencyLow
	local, err := objstore.NewLocal(t.TempDir(), "http://127.0.0.1:1", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	dataDir := t.TempDir()
	n, err := edge.New(edge.Config{NodeID: "edge-ll", DataDir: dataDir, Control: []string{cp.addr()}, JoinToken: cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ObjectStore: local, Runner: &childRunner{}, MaxJobs: 1,
		Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runEdge(t, n)

	pub := mediatest.Publish(t, n.RTMPURL()+"/"+key, mediatest.Live{Spec: mediatest.Spec{Width: 320, Height: 180, Seconds: 12, Audio: true}})
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
	rungURL := base + strings.TrimSuffix(variant, "index.m3u8")

	code, body := get(base + variant)
	if code != 200 || !strings.Contains(string(body), "#EXT-X-PART-INF:PART-TARGET=") {
		t.Fatalf("%s: %d\n%s", variant, code, body)
	}
	segs := segmentLine.FindAllStringSubmatch(string(body), -1)
	last, _ := strconv.Atoi(segs[len(segs)-1][1])

	// The next segment, blocking.
	start := time.Now()
	code, body = get(fmt.Sprintf("%s?_HLS_msn=%d", base+variant, last+1))
	if code != 200 || !strings.Contains(string(body), fmt.Sprintf("_%05d.m4s\n", last+1)) {
		t.Fatalf("blocking reload for segment %d: %d\n%s", last+1, code, body)
	}
	t.Logf("segment %d listed after %v of blocking", last+1, time.Since(start).Round(time.Millisecond))

	// The preload hint: held until written, then the part.
	hint := preloadHint.FindStringSubmatch(string(body))
	if hint == nil {
		t.Fatalf("no preload hint:\n%s", body)
	}
	code, part := get(rungURL + hint[1])
	if code != 200 || len(part) < 100 || string(part[4:8]) != "moof" {
		t.Fatalf("hinted part %s: %d, %d bytes", hint[1], code, len(part))
	}

	// Parts are counted as their own kind of request.
	if got := scrape(t, n)[`livestreams_edge_hls_requests_total{code="2xx",kind="part"}`]; got != 1 {
		t.Errorf("part requests in /metrics: %v, want 1", got)
	}

	// Too far ahead: 400 at once.
	if code, _ := get(fmt.Sprintf("%s?_HLS_msn=%d", base+variant, last+100)); code != 400 {
		t.Fatalf("far-future msn: %d, want 400", code)
	}

	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	testutil.Until(t, 30*time.Second, "the finished playlist", func() error {
		code, body := get(base + variant)
		if code != 200 || !strings.Contains(string(body), "#EXT-X-ENDLIST") || strings.Contains(string(body), "#EXT-X-PART") {
			return fmt.Errorf("%d:\n%s", code, body)
		}
		return nil
	})
	left, _ := filepath.Glob(filepath.Join(dataDir, "hls", "pb1", "*", "part_*"))
	if len(left) > 0 {
		t.Fatalf("parts left after the session: %v", left)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "hls", "pb1", "master.m3u8")); err != nil {
		t.Fatal(err)
	}
}
