package fleet

import (
	"context"
	"strings"
	"testing"

	"github.com/livestreams/livestreams/shared/geoip/geoiptest"
)

// TestGossipCannotMoveViewers: an edge's public URLs come from what it
// registered over its authenticated connection; gossip metadata that
// disagrees (a member announcing the same node id with another URL, as in
// issue 12's probe) does not change where viewers or creators are sent.
func TestGossipCannotMoveViewers(t *testing.T) {
	f, members, st, _ := world(t)
	members.set("lon", func(m *Member) {
		m.HLSURL, m.RTMPURL = "http://evil.example:8081", "rtmp://evil.example/live"
	})
	rt, err := f.Playback(context.Background(), st, geoiptest.LondonIP)
	if err != nil {
		t.Fatal(err)
	}
	if rt.EdgeID != "lon" || strings.Contains(rt.URL, "evil") {
		t.Fatalf("viewer routed to %s (%s), want lon at its registered URL", rt.EdgeID, rt.URL)
	}
	in, err := f.Ingest(context.Background(), geoiptest.LondonIP, "")
	if err != nil || strings.Contains(in.RTMP, "evil") || strings.Contains(in.URL, "evil") {
		t.Fatalf("creator sent to %+v %v, want the registered URL", in, err)
	}
	nodes, err := f.Nodes()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if strings.Contains(n.HLSURL, "evil") || strings.Contains(n.RTMPURL, "evil") {
			t.Fatalf("node %s lists gossip's URL: %+v", n.ID, n)
		}
	}
}
