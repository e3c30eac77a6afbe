package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/events"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/testutil"
)

// withEvents gives a test node an event hub over its own state, as the
// server does, with a short heartbeat.
func withEvents(t testing.TB) func(*Config) {
	return func(c *Config) {
		hub := events.New(events.Config{Store: c.Node.Store()})
		c.Node.OnApply(hub.Notify)
		c.Events, c.EventHeartbeat = hub, 200*time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); hub.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
}

var errEnough = errors.New("enough events")

// read follows the stream through c until n events came (or the deadline
// passes) and returns them.
func read(t testing.TB, ctx context.Context, c *client.Client, f client.EventFilter, after string, n int) []client.Event {
	t.Helper()
	var got []client.Event
	err := c.Events().Follow(ctx, f, after, func(ev client.Event) error {
		got = append(got, ev)
		if len(got) == n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("%d events of %d: %v", len(got), n, err)
	}
	return got
}

// live publishes and unpublishes stream sid of org through the commands the
// edge API proposes: authorized, started, transcode, ended with a
// recording.
func live(t testing.TB, n *testNode, org, sid string) string {
	t.Helper()
	ctx := testutil.Context(t, 10*time.Second)
	now := time.Now().UTC()
	sess := state.Session{ID: ids.New("ses"), StreamID: sid, OrgID: org, EdgeID: "edge1", Protocol: "rtmp", StartedAt: now}
	for _, c := range []struct {
		typ  string
		body any
	}{
		{fsm.CmdStartSession, fsm.StartSession{Session: sess}},
		{fsm.CmdSessionSource, fsm.SessionSource{ID: sess.ID, Source: state.SourceInfo{Width: 640, Height: 360}, At: now}},
		{fsm.CmdEndSession, fsm.EndSession{ID: sess.ID, Reason: "unpublished", At: now.Add(time.Second), RecordingBytes: 1 << 20}},
	} {
		if _, err := n.node.Apply(ctx, c.typ, c.body); err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
	}
	return sess.ID
}

var liveTypes = []string{state.EventPublishAuthorized, state.EventSessionStarted, state.EventTranscodeStarted,
	state.EventSessionEnded, state.EventRecordingFinalized}

func checkLive(t testing.TB, got []client.Event, sid, sess string) {
	t.Helper()
	if len(got) != len(liveTypes) {
		t.Fatalf("%d events, want %d", len(got), len(liveTypes))
	}
	for i, ev := range got {
		if ev.Type != liveTypes[i] || ev.StreamID != sid || ev.SessionID != sess || ev.ID == "" {
			t.Fatalf("event %d: %+v, want %s of %s", i, ev, liveTypes[i], sess)
		}
		if i > 0 && ev.ID <= got[i-1].ID {
			t.Fatalf("event %d: id %s not after %s", i, ev.ID, got[i-1].ID)
		}
	}
	if !strings.Contains(string(got[3].Data), `"unpublished"`) {
		t.Fatalf("session.ended without its reason: %s", got[3].Data)
	}
}

// TestEventStreamOfAPublish: a client on the stream sees a publish and an
// unpublish in order; one reconnecting with the id of the second event
// gets exactly the rest; the JSON list holds the same.
func TestEventStreamOfAPublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: withEvents(t)})
	sid := str(e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "s"}).json(t), "id")
	other := str(e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "other"}).json(t), "id")
	c := e.admin.typed()
	ctx := testutil.Context(t, 30*time.Second)

	// Subscribed before the publish (live events only, filtered to sid).
	type result struct {
		evs []client.Event
	}
	res := make(chan result, 1)
	go func() {
		var got []client.Event
		c.Events().Follow(ctx, client.EventFilter{StreamID: sid}, "", func(ev client.Event) error {
			got = append(got, ev)
			if len(got) == len(liveTypes) {
				return errEnough
			}
			return nil
		})
		res <- result{got}
	}()
	// The stream is open once a client is counted.
	testutil.Eventually(t, 10*time.Second, "the subscription", func() bool { return e.n.api.cfg.Events.Clients() == 1 })
	live(t, e.n, e.orgA, other)
	sess := live(t, e.n, e.orgA, sid)
	checkLive(t, (<-res).evs, sid, sess)

	// Resume after the second event: the three others, no more, no less.
	all := read(t, ctx, c, client.EventFilter{StreamID: sid}, "0000000000000000-0000", len(liveTypes))
	rest := read(t, ctx, c, client.EventFilter{StreamID: sid}, all[1].ID, 3)
	for i, ev := range rest {
		if ev.ID != all[i+2].ID {
			t.Fatalf("resumed event %d: %s, want %s", i, ev.ID, all[i+2].ID)
		}
	}
	page, err := c.Events().List(ctx, client.EventFilter{StreamID: sid}, all[1].ID, 2)
	if err != nil || len(page.Items) != 2 || page.Items[0].ID != all[2].ID || page.NextCursor != all[3].ID {
		t.Fatalf("list page: %+v %v", page, err)
	}
	// Filters by type; an unknown type and a malformed id are refused.
	typed := read(t, ctx, c, client.EventFilter{Types: []string{state.EventSessionEnded}}, "0000000000000000-0000", 2)
	if typed[0].StreamID != other || typed[1].StreamID != sid {
		t.Fatalf("session.ended events: %+v", typed)
	}
	e.admin.must(400, "GET", "/v1/events?type=session.exploded", nil)
	e.admin.must(400, "GET", "/v1/events", nil, "Last-Event-ID", "not an id")
}

// TestEventsTokenScope: a query token reads its org's stream and nothing
// else: not another org's events, not another route; a session token is
// not an events token either.
func TestEventsTokenScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: withEvents(t)})
	orgB := str(e.admin.must(201, "POST", "/v1/orgs", map[string]any{"name": "Org B"}).json(t), "id")
	viewerA := e.user("viewer@example.com", e.orgA, "viewer")
	sidA := str(e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "a"}).json(t), "id")
	sidB := str(e.admin.inOrg(orgB).must(201, "POST", "/v1/streams", map[string]any{"name": "b"}).json(t), "id")

	tok := viewerA.must(201, "POST", "/v1/events/token", nil).json(t)
	if str(tok, "org_id") != e.orgA || str(tok, "token") == "" {
		t.Fatalf("token answer %v", tok)
	}
	token := str(tok, "token")
	live(t, e.n, orgB, sidB)
	sessA := live(t, e.n, e.orgA, sidA)

	// With the token alone (no Authorization), from the start of the log:
	// org A's events only, even when asking for org B's stream.
	got := e.anon.must(200, "GET", "/v1/events?format=json&after=0000000000000000-0000&token="+token, nil).json(t)
	items := got["items"].([]any)
	if len(items) != len(liveTypes) {
		t.Fatalf("%d events through the token, want org A's %d", len(items), len(liveTypes))
	}
	for _, it := range items {
		if ev := it.(map[string]any); str(ev, "org_id") != e.orgA || str(ev, "session_id") != sessA {
			t.Fatalf("the token read %v", ev)
		}
	}
	if n := len(e.anon.must(200, "GET", "/v1/events?format=json&after=0000000000000000-0000&stream_id="+sidB+"&token="+token, nil).json(t)["items"].([]any)); n != 0 {
		t.Fatalf("org A's token read %d events of org B's stream", n)
	}
	// The streaming form through the token.
	req, _ := http.NewRequestWithContext(testutil.Context(t, 10*time.Second), "GET", e.n.url+"/v1/events?token="+token, nil)
	req.Header.Set("Last-Event-ID", "0000000000000000-0000")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var streamed []client.SSEMessage
	client.ReadSSE(resp.Body, func(m client.SSEMessage) error {
		streamed = append(streamed, m)
		if len(streamed) == len(liveTypes) {
			return errEnough
		}
		return nil
	})
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" || len(streamed) != len(liveTypes) || streamed[0].Event != state.EventPublishAuthorized {
		t.Fatalf("stream through the token: %s, %+v", resp.Header.Get("Content-Type"), streamed)
	}

	// Read-only and events-only: every other route refuses it.
	bearer := e.anon.as(token)
	for _, r := range [][2]string{{"GET", "/v1/me"}, {"GET", "/v1/streams"}, {"POST", "/v1/streams"}, {"POST", "/v1/events/token"}, {"GET", "/v1/events"}} {
		if a := bearer.do(r[0], r[1], map[string]any{"name": "x"}); a.status != 401 {
			t.Fatalf("%s %s with the events token: %d %s", r[0], r[1], a.status, a.body)
		}
	}
	// A session token, a forged one and garbage are not events tokens.
	for _, bad := range []string{viewerA.token, token[:len(token)-2] + "xx", "garbage"} {
		e.anon.must(401, "GET", "/v1/events?format=json&token="+bad, nil)
	}
	// An org B member's token reads org B only; removing the viewer from
	// org A ends their token at once.
	e.admin.must(204, "DELETE", "/v1/orgs/"+e.orgA+"/members/"+str(viewerA.must(200, "GET", "/v1/me", nil).json(t)["user"].(map[string]any), "id"), nil)
	e.anon.must(401, "GET", "/v1/events?format=json&token="+token, nil)
}

// TestManySubscribers: 200 concurrent clients on one node each get every
// event of a publish, in order.
func TestManySubscribers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: withEvents(t)})
	sid := str(e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "s"}).json(t), "id")
	c := e.admin.typed()
	ctx := testutil.Context(t, 60*time.Second)
	const clients, publishes = 200, 5
	want := publishes * len(liveTypes)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got []client.Event
			err := c.Events().Follow(ctx, client.EventFilter{StreamID: sid}, "", func(ev client.Event) error {
				if len(got) > 0 && ev.ID <= got[len(got)-1].ID {
					return fmt.Errorf("client %d: %s after %s", i, ev.ID, got[len(got)-1].ID)
				}
				got = append(got, ev)
				if len(got) == want {
					return errEnough
				}
				return nil
			})
			if !errors.Is(err, errEnough) {
				errs <- fmt.Errorf("client %d: %d events of %d: %v", i, len(got), want, err)
			}
		}()
	}
	testutil.Eventually(t, 30*time.Second, "every client subscribed", func() bool { return e.n.api.cfg.Events.Clients() == clients })
	for range publishes {
		live(t, e.n, e.orgA, sid)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestResumeAcrossLeaderLoss: a client following through a three-node
// cluster resumes with its last id on another node when the node it read
// from (the leader) dies, and sees every event once.
func TestResumeAcrossLeaderLoss(t *testing.T) {
	t.Parallel()
	cp1 := startNode(t, "cp1", nodeOpts{bootstrap: true, cfg: withEvents(t)})
	initMeta(t, cp1.node)
	cp2 := startNode(t, "cp2", nodeOpts{cfg: withEvents(t)})
	cp3 := startNode(t, "cp3", nodeOpts{cfg: withEvents(t)})
	ctx := testutil.Context(t, 90*time.Second)
	for _, n := range []*testNode{cp2, cp3} {
		if err := n.node.Join(ctx, cp1.url); err != nil {
			t.Fatal(err)
		}
	}
	nodes := []*testNode{cp1, cp2, cp3}
	leader := func() *testNode {
		for _, n := range nodes {
			if n.node.IsLeader() {
				return n
			}
		}
		return nil
	}
	testutil.Eventually(t, 15*time.Second, "a leader of three", func() bool {
		return leader() != nil && len(cp1.node.Status().Servers) == 3
	})
	lead := leader()
	anon := &rawClient{t: t, base: lead.url, rec: &recorder{}}
	a := anon.must(201, "POST", "/v1/auth/signup", map[string]any{"email": "root@example.com", "password": testPassword,
		"org_name": "Org", "setup_token": testSetupToken}).json(t)
	root := anon.as(str(a, "token"))
	key := str(root.must(201, "POST", "/v1/api-keys", map[string]any{"name": "events", "role": "viewer"}).json(t), "key")
	org := str(a["org"].(map[string]any), "id")
	sid := str(root.must(201, "POST", "/v1/streams", map[string]any{"name": "s"}).json(t), "id")
	testutil.Eventually(t, 10*time.Second, "the followers to hold the key", func() bool {
		return cp2.node.AppliedIndex() >= lead.node.AppliedIndex() && cp3.node.AppliedIndex() >= lead.node.AppliedIndex()
	})

	// The client lists the leader first, so it reads from it.
	addrs := []string{lead.url}
	var rest []*testNode
	for _, n := range nodes {
		if n != lead {
			addrs, rest = append(addrs, n.url), append(rest, n)
		}
	}
	c, err := client.New(client.Config{Addrs: addrs, Token: key})
	if err != nil {
		t.Fatal(err)
	}
	const before, after = 2, 2
	want := (before + after) * len(liveTypes)
	var mu sync.Mutex
	var got []client.Event
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	done := make(chan error, 1)
	go func() {
		done <- c.Events().Follow(ctx, client.EventFilter{StreamID: sid}, "0000000000000000-0000", func(ev client.Event) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ev)
			if len(got) == want {
				return errEnough
			}
			return nil
		})
	}()
	for range before {
		live(t, lead, org, sid)
	}
	testutil.Eventually(t, 15*time.Second, "the events before the loss", func() bool { return count() == before*len(liveTypes) })
	if c.Addr() != lead.url {
		t.Fatalf("the client reads from %s, not the leader %s", c.Addr(), lead.url)
	}

	// Kill the leader: its HTTP server (the open stream with it) and Raft.
	lead.srv.Close()
	lead.node.Close()
	testutil.Eventually(t, 20*time.Second, "a new leader", func() bool {
		for _, n := range rest {
			if n.node.IsLeader() {
				return true
			}
		}
		return false
	})
	var newLead *testNode
	for _, n := range rest {
		if n.node.IsLeader() {
			newLead = n
		}
	}
	for range after {
		live(t, newLead, org, sid)
	}
	if err := <-done; !errors.Is(err, errEnough) {
		t.Fatalf("follow: %v after %d events of %d", err, count(), want)
	}
	if c.Addr() == lead.url {
		t.Fatal("the client still reads from the dead leader")
	}
	seen := map[string]bool{}
	for i, ev := range got {
		if seen[ev.ID] || (i > 0 && ev.ID <= got[i-1].ID) {
			t.Fatalf("event %d (%s) repeated or out of order", i, ev.ID)
		}
		seen[ev.ID] = true
		if ev.Type != liveTypes[i%len(liveTypes)] {
			t.Fatalf("event %d is %s, want %s: one was lost", i, ev.Type, liveTypes[i%len(liveTypes)])
		}
	}
}
