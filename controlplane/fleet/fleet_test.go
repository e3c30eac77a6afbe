package fleet

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/routing"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/geoip"
	"github.com/livestreams/livestreams/shared/geoip/geoiptest"
)

type fakeMembers struct {
	mu sync.Mutex
	m  map[string]Member
}

func (f *fakeMembers) Members() []Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Member
	for _, m := range f.m {
		out = append(out, m)
	}
	return out
}

func (f *fakeMembers) set(id string, fn func(*Member)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.m[id]
	fn(&m)
	f.m[id] = m
}

var cities = map[string][2]float64{
	"lon": {51.51, -0.13}, "lin": {58.41, 15.62}, "sea": {47.61, -122.33},
}

// world is three edges (London, Linköping, Seattle) registered in the
// state, all alive in gossip, and one live stream published to London.
func world(t *testing.T) (*Fleet, *fakeMembers, state.Stream, time.Time) {
	t.Helper()
	store, err := state.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	members := &fakeMembers{m: map[string]Member{}}
	st := state.Stream{ID: "str_1", OrgID: "org_1", Name: "s", PlaybackID: "pid1", KeyHash: "h1", CurrentSessionID: "ses_1", Status: state.StreamActive}
	err = store.Update(func(tx *state.Tx) error {
		for id, c := range cities {
			e := state.Edge{ID: id, Region: id, Lat: c[0], Lon: c[1], HLSURL: "http://" + id + ":8081", RTMPURL: "rtmp://" + id + "/live",
				LeaseExpiresAt: now.Add(10 * time.Second)}
			if err := tx.PutEdge(e); err != nil {
				return err
			}
			members.m[id] = Member{ID: id, State: "alive", Region: id, Lat: c[0], Lon: c[1], HasLoc: true}
		}
		if err := tx.PutSession(state.Session{ID: "ses_1", StreamID: st.ID, OrgID: st.OrgID, EdgeID: "lon", StartedAt: now}); err != nil {
			return err
		}
		return tx.PutStream(st)
	})
	if err != nil {
		t.Fatal(err)
	}
	geo, err := geoip.Open(geoiptest.TempDB(t, geoiptest.Sample()), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { geo.Close() })
	f := New(Config{Store: store, Members: members, GeoIP: geo, Now: func() time.Time { return now }})
	return f, members, st, now
}

func TestPlaybackGoesToTheNearestEdge(t *testing.T) {
	f, _, st, _ := world(t)
	for ip, want := range map[netip.Addr]string{geoiptest.LondonIP: "lon", geoiptest.LinkopingIP: "lin", geoiptest.SeattleIP: "sea"} {
		rt, err := f.Playback(context.Background(), st, ip)
		if err != nil {
			t.Fatal(err)
		}
		if rt.EdgeID != want || rt.URL != "http://"+want+":8081/hls/pid1/master.m3u8" {
			t.Errorf("viewer %v: routed to %s (%s), want %s", ip, rt.EdgeID, rt.URL, want)
		}
		in, err := f.Ingest(context.Background(), ip, "")
		if err != nil || in.EdgeID != want || in.RTMP != "rtmp://"+want+"/live" {
			t.Errorf("creator %v: ingest %+v %v, want %s", ip, in, err, want)
		}
	}
}

func TestDeadAndDrainingEdgesGetNoNewTraffic(t *testing.T) {
	f, members, st, _ := world(t)
	members.set("sea", func(m *Member) { m.State = "dead" })
	rt, err := f.Playback(context.Background(), st, geoiptest.SeattleIP)
	if err != nil || rt.EdgeID == "sea" {
		t.Fatalf("Seattle viewer with Seattle dead: %+v %v", rt, err)
	}
	members.set("sea", func(m *Member) { m.State = "alive"; m.Draining = true })
	if rt, _ := f.Playback(context.Background(), st, geoiptest.SeattleIP); rt.EdgeID == "sea" {
		t.Fatal("a draining edge got a new viewer")
	}
	if in, _ := f.Ingest(context.Background(), geoiptest.SeattleIP, ""); in.EdgeID == "sea" {
		t.Fatal("a draining edge got a new publish")
	}
	var excluded string
	for _, s := range rt.Scores {
		if s.Candidate.ID == "sea" {
			excluded = s.Excluded
		}
	}
	if excluded == "" {
		t.Errorf("the explanation does not say why Seattle was excluded: %+v", rt.Scores)
	}
}

func TestOriginDeathEndsPlayback(t *testing.T) {
	f, members, st, _ := world(t)
	members.set("lon", func(m *Member) { m.State = "dead" })
	if _, err := f.Playback(context.Background(), st, geoiptest.SeattleIP); !errors.Is(err, ErrNotLive) {
		t.Fatalf("origin dead: %v, want ErrNotLive", err)
	}
	idle := st
	idle.CurrentSessionID = ""
	if _, err := f.Playback(context.Background(), idle, geoiptest.SeattleIP); !errors.Is(err, ErrNotLive) {
		t.Fatalf("idle stream: %v, want ErrNotLive", err)
	}
}

func TestWithoutGossipTheLeaseDecides(t *testing.T) {
	f, _, st, now := world(t)
	f.cfg.Members = nil
	nodes, err := f.Nodes()
	if err != nil || len(nodes) != 3 || nodes[0].Source != "lease" || nodes[0].State != "alive" {
		t.Fatalf("nodes without gossip: %+v %v", nodes, err)
	}
	f.cfg.Now = func() time.Time { return now.Add(time.Minute) }
	if _, err := f.Playback(context.Background(), st, geoiptest.LondonIP); !errors.Is(err, ErrNotLive) {
		t.Fatalf("every lease lapsed: %v, want ErrNotLive", err)
	}
	if _, err := f.Ingest(context.Background(), geoiptest.LondonIP, ""); !errors.Is(err, routing.ErrNoEdge) {
		t.Fatalf("ingest with every lease lapsed: %v, want ErrNoEdge", err)
	}
}

func TestUnknownClientFallsBackToLoad(t *testing.T) {
	f, members, st, _ := world(t)
	members.set("lon", func(m *Member) { m.Load.CPU = 0.8 })
	members.set("lin", func(m *Member) { m.Load.CPU = 0.1 })
	members.set("sea", func(m *Member) { m.Load.CPU = 0.5 })
	rt, err := f.Playback(context.Background(), st, netip.MustParseAddr("127.0.0.1"))
	if err != nil || rt.EdgeID != "lin" || rt.Client.Known {
		t.Fatalf("unknown viewer: %+v %v, want the least loaded (lin)", rt, err)
	}
	if !strings.Contains(rt.URL, "/hls/pid1/") {
		t.Errorf("url %q", rt.URL)
	}
}

func TestEdgeWithoutCoordinatesIsPlacedByGeoIP(t *testing.T) {
	f, members, st, now := world(t)
	delete(members.m, "sea")
	err := f.cfg.Store.Update(func(tx *state.Tx) error {
		return tx.PutEdge(state.Edge{ID: "sea", HLSURL: "http://" + geoiptest.SeattleIP.String() + ":8081",
			RTMPURL: "rtmp://" + geoiptest.SeattleIP.String() + "/live", LeaseExpiresAt: now.Add(10 * time.Second)})
	})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := f.Playback(context.Background(), st, geoiptest.SeattleIP)
	if err != nil || rt.EdgeID != "sea" {
		t.Fatalf("Seattle viewer: %+v %v, want the edge GeoIP places in Seattle", rt, err)
	}
}

func TestVODGoesToTheNearestLiveEdge(t *testing.T) {
	f, members, _, _ := world(t)
	for ip, want := range map[netip.Addr]string{geoiptest.LondonIP: "lon", geoiptest.LinkopingIP: "lin", geoiptest.SeattleIP: "sea"} {
		rt, err := f.VOD(context.Background(), "vod pid", ip)
		if err != nil {
			t.Fatal(err)
		}
		if rt.EdgeID != want || rt.URL != "http://"+want+":8081/hls/vod%20pid/master.m3u8" {
			t.Errorf("viewer %v: routed to %s (%s), want %s", ip, rt.EdgeID, rt.URL, want)
		}
	}
	// No origin: London dead does not stop an asset playing, it only
	// moves London's viewers elsewhere; a draining edge gets none.
	members.set("lon", func(m *Member) { m.State = "dead" })
	members.set("lin", func(m *Member) { m.Draining = true })
	rt, err := f.VOD(context.Background(), "pid", geoiptest.LondonIP)
	if err != nil || rt.EdgeID != "sea" {
		t.Fatalf("London viewer with London dead and Linköping draining: %+v %v, want sea", rt, err)
	}
	members.set("sea", func(m *Member) { m.State = "left" })
	if _, err := f.VOD(context.Background(), "pid", geoiptest.LondonIP); !errors.Is(err, routing.ErrNoEdge) {
		t.Fatalf("no routable edge: %v, want ErrNoEdge", err)
	}
}

// TestIngestByProtocol sends a creator who asks for a protocol to the
// nearest edge offering it, with every URL that edge offers, and refuses
// when none does.
func TestIngestByProtocol(t *testing.T) {
	f, _, _, _ := world(t)
	err := f.cfg.Store.Update(func(tx *state.Tx) error {
		e, err := tx.Edge("lin")
		if err != nil {
			return err
		}
		e.RTMPSURL, e.SRTURL, e.WHIPURL = "rtmps://lin/live", "srt://lin:8890", "https://lin/whip"
		return tx.PutEdge(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, proto := range []string{protocol.IngestRTMPS, protocol.IngestSRT, protocol.IngestWHIP} {
		in, err := f.Ingest(context.Background(), geoiptest.LondonIP, proto)
		if err != nil || in.EdgeID != "lin" || in.URL != map[string]string{protocol.IngestRTMPS: "rtmps://lin/live",
			protocol.IngestSRT: "srt://lin:8890", protocol.IngestWHIP: "https://lin/whip"}[proto] {
			t.Errorf("London creator over %s: %+v %v, want lin, the one edge offering it", proto, in, err)
		}
		if in.RTMP != "rtmp://lin/live" || in.RTMPS == "" || in.SRT == "" || in.WHIP == "" {
			t.Errorf("over %s: the route lacks some of lin's URLs: %+v", proto, in)
		}
	}
	if in, err := f.Ingest(context.Background(), geoiptest.LondonIP, ""); err != nil || in.EdgeID != "lon" || in.WHIP != "" {
		t.Errorf("London creator over anything: %+v %v, want lon without WHIP", in, err)
	}
	if _, err := f.Ingest(context.Background(), geoiptest.LondonIP, "carrier-pigeon"); !errors.Is(err, routing.ErrNoEdge) {
		t.Errorf("an unknown protocol: %v, want ErrNoEdge", err)
	}
}
