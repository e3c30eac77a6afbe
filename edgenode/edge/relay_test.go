package edge_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

const gossipKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func get(u string) (int, []byte) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// startGossipEdge runs one edge against cp, gossiping through seed ("" for
// the first); stop ends it early.
func startGossipEdge(t *testing.T, cp *fakeControl, id, seed string) (n *edge.Node, stop func() (time.Duration, error)) {
	t.Helper()
	var join []string
	if seed != "" {
		join = []string{seed}
	}
	n, err := edge.New(edge.Config{NodeID: id, DataDir: t.TempDir(), Control: []string{cp.addr()}, JoinToken: cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0", GossipJoin: join,
		GossipKey: gossipKey, GossipProbeInterval: 200 * time.Millisecond, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return n, runEdge(t, n)
}

// TestRelay publishes to edge A and watches through edge B: 50 viewers
// asking B at once for a fresh segment make A send it once; B enforces the
// playback token; when A goes away, B stops serving the live playlist.
func TestRelay(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	const key = "sk_test_relay"
	cp := startFakeControl(t, key, protocol.PlaybackSigned)
	a, stopA := startGossipEdge(t, cp, "edge-a", "")
	b, _ := startGossipEdge(t, cp, "edge-b", a.GossipAddr())

	pub := mediatest.Publish(t, a.RTMPURL()+"/"+key, mediatest.Live{Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 40, GOP: 30}})

	q := "?token=" + cp.mint()
	base := b.HTTPURL() + "/hls/pb1/"
	testutil.Eventually(t, 30*time.Second, "the master playlist through edge B", func() bool {
		code, body := get(base + "master.m3u8" + q)
		return code == 200 && strings.Contains(string(body), "360p/index.m3u8")
	})
	if code, _ := get(base + "master.m3u8"); code != http.StatusForbidden {
		t.Errorf("edge B without a token: %d, want 403", code)
	}

	// Wait for a segment B has not fetched yet, then 50 viewers at once.
	var fresh string
	testutil.Eventually(t, 20*time.Second, "a fresh segment", func() bool {
		_, body := get(base + "360p/index.m3u8" + q)
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "#") && strings.Contains(line, ".m4s") { // a segment, not a part's tag
				name, _, _ := strings.Cut(line, "?")
				if a.RelayServed("pb1", "360p/"+name) == 0 {
					fresh = name
				}
			}
		}
		return fresh != ""
	})
	var wg sync.WaitGroup
	codes := make([]int, 50)
	bodies := make([][]byte, 50)
	for i := range codes {
		wg.Go(func() { codes[i], bodies[i] = get(base + "360p/" + fresh + q) })
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != 200 || !bytes.Equal(bodies[i], bodies[0]) || len(bodies[0]) == 0 {
			t.Fatalf("viewer %d: status %d, %d bytes (viewer 0: %d bytes)", i, codes[i], len(bodies[i]), len(bodies[0]))
		}
	}
	if got := a.RelayServed("pb1", "360p/"+fresh); got != 1 {
		t.Errorf("edge A served %s to edge B %d times for 50 viewers, want 1", fresh, got)
	}
	if code, _ := get(base + "360p/" + fresh); code != http.StatusForbidden {
		t.Errorf("a cached segment on edge B without a token: %d, want 403", code)
	}
	t.Logf("FIGURE relay: 50 concurrent viewers of a fresh segment through edge B -> %d request(s) to the origin", a.RelayServed("pb1", "360p/"+fresh))
	// Edge B's /metrics count them: one miss, the rest from its cache or
	// waiting on the one fetch.
	m := scrape(t, b)
	misses, hits, waits := m["livestreams_edge_relay_misses_total"], m["livestreams_edge_relay_hits_total"], m["livestreams_edge_relay_coalesced_waits_total"]
	if misses < 1 || hits+waits < 49 || m[`livestreams_edge_hls_requests_total{code="2xx",kind="segment"}`] < 50 {
		t.Errorf("edge B's relay metrics: %v misses, %v hits, %v coalesced waits; %v segments served",
			misses, hits, waits, m[`livestreams_edge_hls_requests_total{code="2xx",kind="segment"}`])
	}

	// The origin goes away: B stops serving the live playlist.
	pub.Process.Kill()
	stopA()
	gone := time.Now()
	testutil.Eventually(t, 10*time.Second, "edge B to stop serving the playlist", func() bool {
		code, _ := get(base + "360p/index.m3u8" + q)
		return code == http.StatusNotFound || code == http.StatusBadGateway
	})
	t.Logf("edge B stopped serving the live playlist %v after the origin left", time.Since(gone).Round(time.Millisecond))
}
