package gossip

import (
	"bytes"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/livestreams/livestreams/shared/testutil"
)

var testKey = bytes.Repeat([]byte{0x42}, 32)

// testConfig shortens memberlist's timers so that a crash is detected in
// about a second; the waits below allow several times that.
func testConfig(id string, role Role, seeds ...string) Config {
	return Config{
		NodeID: id, Role: role, BindAddr: "127.0.0.1:0", Join: seeds, Key: testKey,
		ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond,
		SuspicionMult: 3, SuspicionMaxTimeoutMult: 2,
		GossipInterval: 20 * time.Millisecond, PushPullInterval: time.Second, TCPTimeout: time.Second,
		JoinRetryMin: 50 * time.Millisecond, JoinRetryMax: 400 * time.Millisecond,
	}
}

// start starts a node for the test; its logs go to the test log when
// LIVESTREAMS_TEST_LOG is set.
func start(t *testing.T, cfg Config, info Info) *Node {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testutil.Logger(t).With("test_node", cfg.NodeID)
	}
	n, err := Start(cfg, info)
	if err != nil {
		t.Fatalf("start %s: %v", cfg.NodeID, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func memberOf(n *Node, id string) (Member, bool) {
	for _, m := range n.Members() {
		if m.NodeID == id {
			return m, true
		}
	}
	return Member{}, false
}

func stateOf(n *Node, id string) State {
	m, _ := memberOf(n, id)
	return m.State
}

func edgeInfo(id, region string, lat, lon float64, streams ...string) Info {
	return Info{
		Region: region, Lat: lat, Lon: lon, HasLocation: true,
		HLSURL:  "https://" + id + ".example.net/hls",
		RTMPURL: "rtmp://" + id + ".example.net/live",
		SRTURL:  "srt://" + id + ".example.net:8890",
		WHIPURL: "https://" + id + ".example.net/whip",
		Load:    Load{CPU: 0.25, Transcodes: 1, Viewers: 12, EgressBps: 3_000_000},
		Streams: streams,
	}
}

type cluster struct {
	nodes []*Node
	infos map[string]Info // as started, with NodeID and Role
}

// startCluster starts edge-1 (the seed), edge-2 and edge-3, and control-1
// joining through edge-2, and waits until all four see all four alive.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{infos: map[string]Info{}}
	add := func(cfg Config, info Info) *Node {
		n := start(t, cfg, info)
		info.NodeID, info.Role = cfg.NodeID, cfg.Role
		c.infos[cfg.NodeID] = info
		c.nodes = append(c.nodes, n)
		return n
	}
	e1 := add(testConfig("edge-1", RoleEdge), edgeInfo("edge-1", "eu-west", 48.85, 2.35, "pb-1"))
	e2 := add(testConfig("edge-2", RoleEdge, e1.Addr()), edgeInfo("edge-2", "eu-central", 50.11, 8.68, "pb-2a", "pb-2b"))
	add(testConfig("edge-3", RoleEdge, e1.Addr()), edgeInfo("edge-3", "us-east", 40.71, -74.0, "pb-3"))
	add(testConfig("control-1", RoleControl, e2.Addr()), Info{Region: "eu-west", Streams: []string{"pb-ctl"}})
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.nodes {
				for _, m := range n.Members() {
					t.Logf("%s sees %s %s at %s, updated %v", n.cfg.NodeID, m.NodeID, m.State, m.Addr, m.UpdatedAt)
				}
			}
		}
	})
	testutil.Eventually(t, 5*time.Second, "all four see all four alive", func() bool {
		for _, n := range c.nodes {
			ms := n.Members()
			if len(ms) != 4 {
				return false
			}
			for _, m := range ms {
				if m.State != StateAlive || m.UpdatedAt.IsZero() {
					return false
				}
			}
		}
		return true
	})
	return c
}

func (c *cluster) node(id string) *Node {
	for _, n := range c.nodes {
		if n.cfg.NodeID == id {
			return n
		}
	}
	panic("no node " + id)
}

func (c *cluster) others(id string) []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if n.cfg.NodeID != id {
			out = append(out, n)
		}
	}
	return out
}

func TestMembersCarryInfoAndUpdatesSpread(t *testing.T) {
	c := startCluster(t)
	for _, n := range c.nodes {
		for _, m := range n.Members() {
			want := c.infos[m.NodeID]
			got := m.Info
			got.UpdatedAt = time.Time{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s sees %s as\n%+v\nwant\n%+v", n.cfg.NodeID, m.NodeID, got, want)
			}
			if m.Self != (m.NodeID == n.cfg.NodeID) {
				t.Errorf("%s sees %s with Self %v", n.cfg.NodeID, m.NodeID, m.Self)
			}
			if m.Addr == "" || m.Routable() != (m.Role == RoleEdge) {
				t.Errorf("%s sees %s with addr %q, routable %v", n.cfg.NodeID, m.NodeID, m.Addr, m.Routable())
			}
		}
	}

	events, cancel := c.node("control-1").Subscribe()
	defer cancel()
	e2 := c.node("edge-2")
	e2.Update(func(i *Info) {
		i.Streams = append(i.Streams, "pb-new")
		i.Load = Load{CPU: 0.9, Transcodes: 4, Viewers: 300, EgressBps: 90_000_000}
		i.Draining = true
	})
	took := testutil.Eventually(t, 2*time.Second, "update of edge-2 seen by all", func() bool {
		for _, n := range c.others("edge-2") {
			m, _ := memberOf(n, "edge-2")
			if !slices.Contains(m.Streams, "pb-new") || !m.Draining || m.Load.CPU != 0.9 || m.Load.EgressBps != 90_000_000 {
				return false
			}
		}
		return true
	})
	t.Logf("update of edge-2 seen by all peers after %v", took)
	waitEvent(t, events, EventUpdate, "edge-2")

	for _, n := range c.nodes {
		for pb, want := range map[string]string{"pb-new": "edge-2", "pb-2a": "edge-2", "pb-1": "edge-1", "pb-3": "edge-3"} {
			if m, ok := n.Origin(pb); !ok || m.NodeID != want || m.State != StateAlive {
				t.Errorf("%s: Origin(%s) = %s %v, want %s", n.cfg.NodeID, pb, m.NodeID, ok, want)
			}
		}
		for _, pb := range []string{"pb-ctl", "pb-unknown"} {
			if m, ok := n.Origin(pb); ok {
				t.Errorf("%s: Origin(%s) = %s, want none", n.cfg.NodeID, pb, m.NodeID)
			}
		}
		if m, _ := memberOf(n, "edge-2"); m.Routable() {
			t.Errorf("%s: draining edge-2 routable", n.cfg.NodeID)
		}
	}
}

// waitEvent reads events until one of type typ for member id, for at most
// two seconds, and fails on an EventDead for id before it.
func waitEvent(t *testing.T, events <-chan Event, typ EventType, id string) {
	t.Helper()
	timeout := time.After(2 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("events closed before %s of %s", typ, id)
			}
			if e.Member.NodeID != id {
				continue
			}
			if e.Type == typ {
				return
			}
			if e.Type == EventDead {
				t.Fatalf("event dead of %s before %s", id, typ)
			}
		case <-timeout:
			t.Fatalf("no %s event of %s", typ, id)
		}
	}
}

func TestCrashedMemberReportedDead(t *testing.T) {
	c := startCluster(t)
	events, cancel := c.node("control-1").Subscribe()
	defer cancel()

	if err := c.node("edge-3").Close(); err != nil {
		t.Fatal(err)
	}
	took := testutil.Eventually(t, 5*time.Second, "edge-3 dead on all peers", func() bool {
		for _, n := range c.others("edge-3") {
			if stateOf(n, "edge-3") != StateDead {
				return false
			}
		}
		return true
	})
	t.Logf("crash of edge-3 reported dead by all peers after %v", took)
	waitEvent(t, events, EventDead, "edge-3")
	for _, n := range c.others("edge-3") {
		if m, ok := n.Origin("pb-3"); ok {
			t.Errorf("%s: Origin(pb-3) = %s after its death", n.cfg.NodeID, m.NodeID)
		}
		if m, _ := memberOf(n, "edge-3"); m.Routable() || m.Since.IsZero() {
			t.Errorf("%s: dead edge-3 listed as %+v", n.cfg.NodeID, m)
		}
	}
}

func TestLeaveReportedLeft(t *testing.T) {
	c := startCluster(t)
	events, cancel := c.node("control-1").Subscribe()
	defer cancel()

	if err := c.node("edge-2").Leave(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	took := testutil.Eventually(t, 2*time.Second, "edge-2 left on all peers", func() bool {
		for _, n := range c.others("edge-2") {
			if stateOf(n, "edge-2") != StateLeft {
				return false
			}
		}
		return true
	})
	t.Logf("leave of edge-2 seen by all peers after %v", took)
	waitEvent(t, events, EventLeave, "edge-2")
	for _, n := range c.others("edge-2") {
		if m, ok := n.Origin("pb-2a"); ok {
			t.Errorf("%s: Origin(pb-2a) = %s after its leave", n.cfg.NodeID, m.NodeID)
		}
	}
	if err := c.node("edge-2").Leave(time.Second); err == nil {
		t.Error("second Leave succeeded")
	}
}

func TestOtherKeyCannotJoin(t *testing.T) {
	e1 := start(t, testConfig("edge-1", RoleEdge), edgeInfo("edge-1", "eu", 1, 1))
	e2 := start(t, testConfig("edge-2", RoleEdge, e1.Addr()), edgeInfo("edge-2", "eu", 1, 1))
	testutil.Eventually(t, 5*time.Second, "edge-2 joins", func() bool { return stateOf(e1, "edge-2") == StateAlive })

	cfg := testConfig("intruder", RoleEdge, e1.Addr(), e2.Addr())
	cfg.Key = bytes.Repeat([]byte{0x17}, 32)
	x := start(t, cfg, edgeInfo("intruder", "eu", 1, 1, "pb-fake"))
	testutil.Eventually(t, 5*time.Second, "three join attempts", func() bool { return x.joinAttempts.Load() >= 3 })
	for _, n := range []*Node{e1, e2} {
		if _, ok := memberOf(n, "intruder"); ok {
			t.Errorf("%s lists the intruder", n.cfg.NodeID)
		}
		if _, ok := n.Origin("pb-fake"); ok {
			t.Errorf("%s resolves the intruder's stream", n.cfg.NodeID)
		}
	}
	if ms := x.Members(); len(ms) != 1 || !ms[0].Self {
		t.Errorf("intruder sees %+v", ms)
	}
}

func TestJoinRetriesUntilSeedStarts(t *testing.T) {
	seedAddr := testutil.FreeAddr(t)
	e := start(t, testConfig("edge-early", RoleEdge, seedAddr), edgeInfo("edge-early", "eu", 1, 1))
	testutil.Eventually(t, 5*time.Second, "two failed join attempts", func() bool { return e.joinAttempts.Load() >= 2 })

	cfg := testConfig("seed", RoleEdge)
	cfg.BindAddr = seedAddr
	seed := start(t, cfg, edgeInfo("seed", "eu", 1, 1))
	took := testutil.Eventually(t, 5*time.Second, "edge-early joins the late seed", func() bool {
		return stateOf(seed, "edge-early") == StateAlive && stateOf(e, "seed") == StateAlive
	})
	t.Logf("joined %v after the seed started, after %d attempts", took, e.joinAttempts.Load())
}

func TestLargeRecordAndMetaChangeSpread(t *testing.T) {
	e1 := start(t, testConfig("edge-1", RoleEdge), edgeInfo("edge-1", "eu", 1, 1))
	e2 := start(t, testConfig("edge-2", RoleEdge, e1.Addr()), edgeInfo("edge-2", "eu", 1, 1))
	testutil.Eventually(t, 5*time.Second, "edge-2 joins", func() bool { return stateOf(e1, "edge-2") == StateAlive })

	var many []string
	for i := range 300 {
		many = append(many, fmt.Sprintf("playback-%024d", i))
	}
	slices.Sort(many)
	e2.Update(func(i *Info) {
		i.Streams = many
		i.Region = "eu-north"
		i.HLSURL = "https://edge-2.example.org/hls"
	})
	if m, _ := memberOf(e2, "edge-2"); m.Region != "eu-north" || len(m.Streams) != len(many) {
		t.Errorf("edge-2 sees itself as %s with %d streams", m.Region, len(m.Streams))
	}
	if len(encodeRecordMsg(record{NodeID: "edge-2", Streams: many})) <= maxBroadcastLen {
		t.Fatal("record fits a broadcast; the test needs one that does not")
	}
	testutil.Eventually(t, 3*time.Second, "large record and new meta reach edge-1", func() bool {
		m, _ := memberOf(e1, "edge-2")
		return slices.Equal(m.Streams, many) && m.Region == "eu-north" && m.HLSURL == "https://edge-2.example.org/hls"
	})
	if m, ok := e1.Origin(many[299]); !ok || m.NodeID != "edge-2" {
		t.Errorf("Origin(%s) = %s %v", many[299], m.NodeID, ok)
	}
}

func TestStartRejects(t *testing.T) {
	long := "https://" + strings.Repeat("x", 240)
	for name, tc := range map[string]struct {
		mutate func(*Config, *Info)
		want   string
	}{
		"no key":        {func(c *Config, _ *Info) { c.Key = nil }, "gossip key required"},
		"short key":     {func(c *Config, _ *Info) { c.Key = c.Key[:10] }, "10 bytes"},
		"no node id":    {func(c *Config, _ *Info) { c.NodeID = "" }, "node id required"},
		"bad role":      {func(c *Config, _ *Info) { c.Role = "router" }, `role "router"`},
		"bind name":     {func(c *Config, _ *Info) { c.BindAddr = "localhost:0" }, "not an IP"},
		"bad seed":      {func(c *Config, _ *Info) { c.Join = []string{"nohostport"} }, "seed"},
		"other node":    {func(_ *Config, i *Info) { i.NodeID = "edge-9" }, `"edge-9"`},
		"meta too long": {func(_ *Config, i *Info) { i.HLSURL, i.RTMPURL, i.SRTURL = long, long, long }, "limit 512"},
		"bad stream":    {func(_ *Config, i *Info) { i.Streams = []string{"a\nb"} }, "control character"},
		"bad location":  {func(_ *Config, i *Info) { i.Lat = 91 }, "location"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, info := testConfig("edge-1", RoleEdge), edgeInfo("edge-1", "eu", 1, 1)
			tc.mutate(&cfg, &info)
			n, err := Start(cfg, info)
			if err == nil {
				n.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	n := start(t, testConfig("edge-1", RoleEdge), edgeInfo("edge-1", "eu", 1, 1))
	events, cancel := n.Subscribe()
	for i := range 3 * eventBuffer {
		n.Update(func(info *Info) { info.Load.Viewers = i })
	}
	if len(events) != eventBuffer {
		t.Errorf("%d events buffered, want %d", len(events), eventBuffer)
	}
	cancel()
	cancel()
	for range events {
	}
	if m, _ := memberOf(n, "edge-1"); m.Load.Viewers != 3*eventBuffer-1 {
		t.Errorf("viewers %d after the updates", m.Load.Viewers)
	}
	n.Close()
	if _, ok := <-mustSubscribe(n); ok {
		t.Error("subscription after Close delivered an event")
	}
}

func mustSubscribe(n *Node) <-chan Event {
	ch, _ := n.Subscribe()
	return ch
}

func TestUpdateCleansInput(t *testing.T) {
	n := start(t, testConfig("edge-1", RoleEdge), edgeInfo("edge-1", "eu", 1, 1))
	n.Update(func(i *Info) {
		i.NodeID, i.Role = "someone-else", RoleControl
		i.Load = Load{CPU: 1.7, Transcodes: -1, Viewers: -5, EgressBps: -1}
		i.Streams = []string{"b", "a", "b", "", "bad\x00id", strings.Repeat("x", maxIDLen+1)}
		i.Region = strings.Repeat("r", maxRegionLen+1) // too long: ignored
	})
	m, _ := memberOf(n, "edge-1")
	if m.NodeID != "edge-1" || m.Role != RoleEdge || m.Region != "eu" {
		t.Errorf("identity changed: %+v", m.Info)
	}
	if m.Load != (Load{CPU: 1}) {
		t.Errorf("load %+v", m.Load)
	}
	if !slices.Equal(m.Streams, []string{"a", "b"}) {
		t.Errorf("streams %q", m.Streams)
	}

	events, cancel := n.Subscribe()
	defer cancel()
	n.Update(func(i *Info) { i.Streams = []string{"b", "a"} })
	if len(events) != 0 {
		t.Errorf("an update that changed nothing sent %v", (<-events).Type)
	}
}

// TestMemberTable drives the table through the delegate as memberlist
// would, with a peer memberlist never saw: stale, malformed and
// earlier-life records must not win.
func TestMemberTable(t *testing.T) {
	n := start(t, testConfig("edge-1", RoleEdge), edgeInfo("edge-1", "eu", 1, 1))
	d := delegate{n}
	meta, err := encodeMeta(stable{Role: RoleEdge, Region: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	peer := peerNode("edge-2", meta)
	rec := func(v uint64, leaving bool, streams ...string) []byte {
		return encodeRecordMsg(record{NodeID: "edge-2", Version: v, UpdatedAt: time.Unix(0, int64(v)), Leaving: leaving, Streams: streams})
	}
	origin := func(pb string) string {
		m, _ := n.Origin(pb)
		return m.NodeID
	}

	d.NotifyMsg(rec(10, false, "pb-x"))
	if _, ok := memberOf(n, "edge-2"); ok || origin("pb-x") != "" {
		t.Fatal("a record alone made edge-2 a member")
	}
	d.NotifyJoin(peer)
	if stateOf(n, "edge-2") != StateAlive || origin("pb-x") != "edge-2" {
		t.Fatalf("after join: %s, origin %q", stateOf(n, "edge-2"), origin("pb-x"))
	}
	d.NotifyMsg(rec(9, false, "pb-old"))
	d.MergeRemoteState(encodeStateMsg([]record{{NodeID: "edge-2", Version: 8, Streams: []string{"pb-old"}}}), false)
	if origin("pb-old") != "" || origin("pb-x") != "edge-2" {
		t.Fatal("a stale record overwrote a newer one")
	}
	for _, b := range [][]byte{{}, {msgRecord}, {0xff, 1, 2}, rec(11, false, "pb-y")[:12], append(rec(11, false), 0)} {
		d.NotifyMsg(b)
		d.MergeRemoteState(b, true)
	}
	if origin("pb-x") != "edge-2" {
		t.Fatal("a malformed message changed the table")
	}

	d.NotifyLeave(peer)
	if stateOf(n, "edge-2") != StateDead || origin("pb-x") != "" {
		t.Fatalf("after failure: %s, origin %q", stateOf(n, "edge-2"), origin("pb-x"))
	}
	d.NotifyJoin(peer) // restarted, before its first record
	if m, _ := memberOf(n, "edge-2"); m.State != StateAlive || m.Streams != nil {
		t.Fatalf("after rejoin: %+v", m)
	}
	d.NotifyMsg(rec(10, false, "pb-x")) // the earlier life's record, late
	if origin("pb-x") != "" {
		t.Fatal("the earlier life's record came back")
	}
	d.NotifyMsg(rec(20, false, "pb-z"))
	if origin("pb-z") != "edge-2" {
		t.Fatal("the new life's record was not taken")
	}

	events, cancel := n.Subscribe()
	defer cancel()
	d.NotifyMsg(rec(21, true))
	if stateOf(n, "edge-2") != StateLeft || origin("pb-z") != "" {
		t.Fatalf("after leave announcement: %s", stateOf(n, "edge-2"))
	}
	d.NotifyLeave(peer)
	if stateOf(n, "edge-2") != StateLeft {
		t.Fatalf("after leave: %s", stateOf(n, "edge-2"))
	}
	if e := <-events; e.Type != EventLeave || len(events) != 0 {
		t.Errorf("events %v and %d more, want one leave", e.Type, len(events))
	}

	n.mu.Lock()
	v := n.version
	n.mu.Unlock()
	d.NotifyMsg(encodeRecordMsg(record{NodeID: "edge-1", Version: v + 100}))
	n.mu.Lock()
	v2 := n.version
	n.mu.Unlock()
	if v2 <= v+100 {
		t.Errorf("own version %d not past a newer record of ours %d", v2, v+100)
	}
}

func peerNode(name string, meta []byte) *memberlist.Node {
	return &memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 9, Meta: meta}
}

func TestParseKey(t *testing.T) {
	k32 := bytes.Repeat([]byte{0xab}, 32)
	for in, want := range map[string]int{
		"0123456789abcdef0123456789abcdef":             16, // hex wins over base64
		"  " + strings.Repeat("ab", 24) + "\n":         24,
		"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=": 32,
		"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s":  32,
		"AAAAAAAAAAAAAAAAAAAAAA==":                     16,
	} {
		k, err := ParseKey(in)
		if err != nil || len(k) != want {
			t.Errorf("ParseKey(%q) = %d bytes, %v; want %d", in, len(k), err, want)
		}
	}
	if k, _ := ParseKey("q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="); !bytes.Equal(k, k32) {
		t.Error("base64 decoded wrong")
	}
	for _, in := range []string{"", "abcd", "not a key at all!", strings.Repeat("a", 100)} {
		if _, err := ParseKey(in); err == nil {
			t.Errorf("ParseKey(%q) succeeded", in)
		} else if in != "" && strings.Contains(err.Error(), in) {
			t.Errorf("error %q repeats the key", err)
		}
	}
	g, err := GenerateKey()
	if err != nil || len(g) != 32 {
		t.Fatalf("GenerateKey: %d bytes, %v", len(g), err)
	}
}
