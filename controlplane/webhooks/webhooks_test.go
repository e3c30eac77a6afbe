package webhooks_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/webhooks"
	"github.com/livestreams/livestreams/shared/testutil"
)

const testSecret = "whsec_testtesttesttesttest"

// testBackoff retries within milliseconds: the tests wait on state, not
// on the clock.
var testBackoff = webhooks.Backoff{Base: 10 * time.Millisecond, Cap: 50 * time.Millisecond, Window: time.Minute}

// machine is a one-node control plane with an org, and a dispatcher.
type machine struct {
	t    testing.TB
	node *cluster.Node
	org  string
}

func newMachine(t testing.TB) *machine {
	t.Helper()
	n, err := cluster.Open(cluster.Config{NodeID: "cp1", DataDir: t.TempDir(), RaftAddr: testutil.FreeAddr(t),
		HTTPAdvertise: "http://127.0.0.1:1", Bootstrap: true, ClusterKey: "test-cluster-key-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx := testutil.Context(t, 15*time.Second)
	if err := n.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	m := &machine{t: t, node: n, org: "org_a"}
	m.must(fsm.CmdCreateOrg, fsm.CreateOrg{Org: state.Org{ID: m.org, Name: "A", CreatedAt: time.Now().UTC()}}, nil)
	return m
}

func (m *machine) must(typ string, body, out any) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.node.ApplyInto(ctx, typ, body, out); err != nil {
		m.t.Fatalf("%s: %v", typ, err)
	}
}

// dispatch runs a dispatcher until the test ends.
func (m *machine) dispatch(allowPrivate bool) *webhooks.Dispatcher {
	d := webhooks.New(webhooks.Config{Node: m.node, AllowPrivate: allowPrivate, Backoff: testBackoff,
		Interval: 10 * time.Millisecond, Timeout: 5 * time.Second, Logger: testutil.Logger(m.t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	m.t.Cleanup(func() { cancel(); <-done })
	return d
}

func (m *machine) webhook(url string, types ...string) state.Webhook {
	now := time.Now().UTC()
	w := state.Webhook{ID: ids.New("wh"), OrgID: m.org, URL: url, SecretSealed: testSecret, EventTypes: types,
		Enabled: true, CreatedAt: now, UpdatedAt: now}
	m.must(fsm.CmdCreateWebhook, w, nil)
	return w
}

// asset creates an asset, which emits asset.created.
func (m *machine) asset() string {
	id := ids.New("ast")
	m.must(fsm.CmdCreateAsset, fsm.CreateAsset{Asset: state.Asset{ID: id, OrgID: m.org, Type: state.AssetUpload,
		PlaybackID: ids.PlaybackID(), PlaybackPolicy: state.PolicyPublic, CreatedAt: time.Now().UTC()}}, nil)
	return id
}

func (m *machine) deliveries(hook string) []state.WebhookDelivery {
	var out []state.WebhookDelivery
	if err := m.node.Store().View(func(tx *state.Tx) error {
		var err error
		out, err = tx.Deliveries(hook, 100)
		return err
	}); err != nil {
		m.t.Fatal(err)
	}
	return out
}

// receiver is a webhook endpoint on loopback that checks every signature
// and fails the first failFirst requests of each event with 500.
type receiver struct {
	t         *testing.T
	srv       *httptest.Server
	failFirst int

	mu       sync.Mutex
	requests []received
}

type received struct {
	eventID, eventType string
	body               []byte
	verifyErr          error
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	r := &receiver{t: t, failFirst: failFirst}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rec := received{eventID: req.Header.Get(webhooks.HeaderEventID), eventType: req.Header.Get(webhooks.HeaderEventType), body: body,
			verifyErr: webhooks.Verify(testSecret, req.Header.Get(webhooks.HeaderSignature), body, time.Now(), 0)}
		r.mu.Lock()
		r.requests = append(r.requests, rec)
		n := 0
		for _, x := range r.requests {
			if x.eventID == rec.eventID {
				n++
			}
		}
		r.mu.Unlock()
		if rec.verifyErr != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		if n <= r.failFirst {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "thanks")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.requests...)
}

// TestDeliveryRetriesThenSucceeds: the receiver fails the first three
// attempts; the fourth succeeds; every attempt is recorded and signed;
// a redelivery sends the same event id and body.
func TestDeliveryRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	rcv := newReceiver(t, 3)
	hook := m.webhook(rcv.srv.URL+"/hook", state.EventAssetCreated)
	other := m.webhook(rcv.srv.URL+"/other", state.EventAssetReady) // not subscribed to asset.created
	m.dispatch(true)
	asset := m.asset()

	var d state.WebhookDelivery
	testutil.Eventually(t, 20*time.Second, "the delivery to end", func() bool {
		ds := m.deliveries(hook.ID)
		if len(ds) == 1 && ds[0].Status != state.DeliveryPending {
			d = ds[0]
			return true
		}
		return false
	})
	if d.Status != state.DeliverySucceeded || len(d.Attempts) != 4 {
		t.Fatalf("delivery %s after %d attempts, want succeeded after 4: %+v", d.Status, len(d.Attempts), d.Attempts)
	}
	for i, a := range d.Attempts {
		wantOK, wantCode := i == 3, 500
		if wantOK {
			wantCode = 200
		}
		if a.N != i+1 || a.OK != wantOK || a.ResponseCode != wantCode || (i < 3 && !strings.Contains(a.ResponseBody, "not yet")) {
			t.Errorf("attempt %d = %+v", i+1, a)
		}
	}
	if n := len(m.deliveries(other.ID)); n != 0 {
		t.Errorf("an endpoint not subscribed to asset.created got %d deliveries", n)
	}
	reqs := rcv.got()
	if len(reqs) != 4 {
		t.Fatalf("receiver got %d requests, want 4", len(reqs))
	}
	for _, r := range reqs {
		if r.verifyErr != nil {
			t.Errorf("signature: %v", r.verifyErr)
		}
		if r.eventID != d.EventID || r.eventType != state.EventAssetCreated || string(r.body) != string(reqs[0].body) {
			t.Errorf("request %s %s %s, want the same event %s each time", r.eventID, r.eventType, r.body, d.EventID)
		}
	}
	if !strings.Contains(string(reqs[0].body), `"asset_id":"`+asset+`"`) || !strings.Contains(string(reqs[0].body), `"type":"asset.created"`) ||
		!strings.Contains(string(reqs[0].body), `"id":"`+d.EventID+`"`) {
		t.Errorf("body %s", reqs[0].body)
	}

	// By hand, again: a new delivery, the same event id and bytes.
	var again state.WebhookDelivery
	m.must(fsm.CmdRedeliver, fsm.Redeliver{OrgID: m.org, ID: d.ID, NewID: ids.New("whd"), At: time.Now().UTC()}, &again)
	testutil.Eventually(t, 20*time.Second, "the redelivery", func() bool { return len(rcv.got()) == 5 })
	last := rcv.got()[4]
	if last.eventID != d.EventID || string(last.body) != string(reqs[0].body) || last.verifyErr != nil {
		t.Errorf("redelivery sent event %s (%v), want %s", last.eventID, last.verifyErr, d.EventID)
	}
	testutil.Eventually(t, 10*time.Second, "the redelivery to be recorded", func() bool {
		ds := m.deliveries(hook.ID)
		return len(ds) == 2 && ds[0].ID == again.ID && ds[0].Status == state.DeliverySucceeded && ds[0].RedeliveryOf == d.ID
	})

	// Each ending is an event of the log (never sent to webhooks).
	var delivered int
	m.node.Store().View(func(tx *state.Tx) error {
		evs, _ := tx.EventsAfter("", 1000)
		for _, ev := range evs {
			if ev.Type == state.EventWebhookDelivered {
				delivered++
			}
		}
		return nil
	})
	if delivered != 2 {
		t.Errorf("%d webhook.delivered events, want 2", delivered)
	}
}

// TestDeliveryGivesUp: a receiver that always fails makes the delivery
// fail once the retry window is over, with webhook.failed in the log.
func TestDeliveryGivesUp(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	rcv := newReceiver(t, 1<<30)
	hook := m.webhook(rcv.srv.URL)
	d := webhooks.New(webhooks.Config{Node: m.node, AllowPrivate: true, Interval: 10 * time.Millisecond,
		Backoff: webhooks.Backoff{Base: 10 * time.Millisecond, Cap: 20 * time.Millisecond, Window: 300 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	m.asset()
	testutil.Eventually(t, 20*time.Second, "the delivery to fail", func() bool {
		ds := m.deliveries(hook.ID)
		return len(ds) == 1 && ds[0].Status == state.DeliveryFailed
	})
	if n := len(m.deliveries(hook.ID)[0].Attempts); n < 3 {
		t.Errorf("gave up after %d attempts", n)
	}
	// The dispatcher counts once its record is applied, just after the
	// state shows it.
	testutil.Eventually(t, 10*time.Second, "the failure to be counted", func() bool { return d.Stats().Failed == 1 })
	if s := d.Stats(); s.Succeeded != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestDispatcherRefusesPrivateAddress: an endpoint on loopback (stored
// past the API's check, as a name resolving there would be) is never
// connected to without --webhook-allow-private.
func TestDispatcherRefusesPrivateAddress(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	rcv := newReceiver(t, 0)
	port := rcv.srv.URL[strings.LastIndex(rcv.srv.URL, ":")+1:]
	hook := m.webhook("http://localhost:" + port + "/hook")
	m.dispatch(false)
	m.asset()
	testutil.Eventually(t, 20*time.Second, "two refused attempts", func() bool {
		ds := m.deliveries(hook.ID)
		return len(ds) == 1 && len(ds[0].Attempts) >= 2
	})
	for _, a := range m.deliveries(hook.ID)[0].Attempts {
		if a.OK || !strings.Contains(a.Error, "not public") {
			t.Errorf("attempt %+v, want refused as not public", a)
		}
	}
	if n := len(rcv.got()); n != 0 {
		t.Errorf("the receiver on loopback got %d requests", n)
	}
}

func TestControlRefusesBeforeConnecting(t *testing.T) {
	t.Parallel()
	refuse := webhooks.Control(false)
	for _, addr := range []string{"10.0.0.1:80", "172.16.5.4:443", "192.168.1.1:80", "169.254.169.254:80", "127.0.0.1:8080",
		"[::1]:80", "[fd00::1]:80", "[fe80::1]:80", "100.64.0.1:80", "0.0.0.0:80", "224.0.0.1:80", "[::ffff:10.0.0.1]:80",
		"[::]:80", "[64:ff9b::a00:1]:80", "255.255.255.255:80"} {
		// A nil RawConn: the check must decide on the address alone,
		// before any connection exists.
		if err := refuse("tcp", addr, nil); !errors.Is(err, webhooks.ErrForbiddenAddress) {
			t.Errorf("Control(%s) = %v, want refused", addr, err)
		}
		if err := webhooks.Control(true)("tcp", addr, nil); err != nil {
			t.Errorf("Control allowing private (%s) = %v", addr, err)
		}
	}
	for _, addr := range []string{"8.8.8.8:443", "93.184.216.34:80", "[2606:4700::1111]:443"} {
		if err := refuse("tcp", addr, nil); err != nil {
			t.Errorf("Control(%s) = %v, want allowed", addr, err)
		}
	}
}

// TestClientRefusesNameResolvingToLoopback: the check is on the resolved
// address, so a name (localhost) is refused as its address would be.
func TestClientRefusesNameResolvingToLoopback(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 0)
	port := rcv.srv.URL[strings.LastIndex(rcv.srv.URL, ":")+1:]
	if addrs, err := net.DefaultResolver.LookupHost(context.Background(), "localhost"); err != nil || len(addrs) == 0 {
		t.Skipf("localhost does not resolve here: %v", err)
	}
	d := state.WebhookDelivery{ID: "whd_1", EventID: "e1", EventType: "asset.created", Body: []byte(`{}`)}
	ctx := testutil.Context(t, 10*time.Second)
	_, _, err := webhooks.Send(ctx, webhooks.NewHTTPClient(false, 5*time.Second, 1), "http://localhost:"+port+"/", testSecret, d, time.Now())
	if !errors.Is(err, webhooks.ErrForbiddenAddress) {
		t.Fatalf("send to localhost = %v, want refused", err)
	}
	if code, _, err := webhooks.Send(ctx, webhooks.NewHTTPClient(true, 5*time.Second, 1), "http://localhost:"+port+"/", testSecret, d, time.Now()); err != nil || code != 200 {
		t.Fatalf("send to localhost allowing private = %d %v", code, err)
	}
	if n := len(rcv.got()); n != 1 {
		t.Fatalf("receiver got %d requests, want only the allowed one", n)
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url           string
		public, allow bool
	}{
		{"https://example.com/hook", true, true},
		{"http://93.184.216.34:8080/x?y=1", true, true},
		{"http://10.0.0.1/hook", false, true},
		{"http://169.254.169.254/latest/meta-data", false, true},
		{"http://127.0.0.1:9000/", false, true},
		{"http://[::1]:9000/", false, true},
		{"http://localhost:9000/", false, true},
		{"http://api.localhost/", false, true},
		{"http://100.100.1.1/", false, true},
		{"ftp://example.com/", false, false},
		{"file:///etc/passwd", false, false},
		{"https://user:pass@example.com/", false, false},
		{"https:///nohost", false, false},
		{"not a url at all", false, false},
	} {
		if err := webhooks.CheckURL(c.url, false); (err == nil) != c.public {
			t.Errorf("CheckURL(%q) = %v, want ok %v", c.url, err, c.public)
		}
		if err := webhooks.CheckURL(c.url, true); (err == nil) != c.allow {
			t.Errorf("CheckURL(%q, allow private) = %v, want ok %v", c.url, err, c.allow)
		}
	}
}

// TestSendBoundsTheAnswer: 1 KiB of the answer is kept, whole runes.
func TestSendBoundsTheAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "é"+strings.Repeat("x", 1022)+"é"+strings.Repeat("y", 1<<20))
	}))
	t.Cleanup(srv.Close)
	d := state.WebhookDelivery{ID: "whd_1", EventID: "e1", EventType: "asset.created", Body: []byte(`{}`)}
	code, body, err := webhooks.Send(testutil.Context(t, 10*time.Second), webhooks.NewHTTPClient(true, 5*time.Second, 1), srv.URL, testSecret, d, time.Now())
	if err != nil || code != http.StatusBadGateway {
		t.Fatalf("send = %d %v", code, err)
	}
	if len(body) > 1024 || len(body) < 1020 || !strings.HasPrefix(body, "éxxx") || strings.ContainsRune(body, '\uFFFD') {
		t.Fatalf("kept %d bytes: %q…", len(body), body[:min(len(body), 20)])
	}
}

// TestSendTimesOutSlowReceiver: a receiver that never answers costs one
// timeout, not a stuck worker.
func TestSendTimesOutSlowReceiver(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	d := state.WebhookDelivery{ID: "whd_1", EventID: "e1", EventType: "asset.created", Body: []byte(`{}`)}
	_, _, err := webhooks.Send(testutil.Context(t, 10*time.Second), webhooks.NewHTTPClient(true, 200*time.Millisecond, 1), srv.URL, testSecret, d, time.Now())
	var ne net.Error
	if err == nil || !(errors.As(err, &ne) && ne.Timeout() || strings.Contains(err.Error(), "Timeout")) {
		t.Fatalf("send to a silent receiver = %v, want a timeout", err)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	created := time.Unix(1_700_000_000, 0)
	b := webhooks.DefaultBackoff
	half := func() float64 { return 0.5 }
	now, n := created, 0
	for {
		next := b.Next(n+1, created, now, half)
		if next.IsZero() {
			break
		}
		if gap := next.Sub(now); gap > b.Cap {
			t.Fatalf("attempt %d waits %s, more than the cap", n+2, gap)
		}
		now, n = next, n+1
	}
	if span := now.Sub(created); n < 15 || span < 20*time.Hour || span > 24*time.Hour {
		t.Fatalf("%d retries over %s, want about a day", n, span)
	}
	if got := b.Next(1, created, created, half); got.Sub(created) != time.Second {
		t.Errorf("first retry after %s, want 1s", got.Sub(created))
	}
}

// TestPruneKeepsPending: past the retention finished deliveries go,
// pending ones stay.
func TestPruneKeepsPending(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	ok, failing := newReceiver(t, 0), newReceiver(t, 1<<30)
	good, bad := m.webhook(ok.srv.URL), m.webhook(failing.srv.URL)
	d := m.dispatch(true)
	m.asset()
	testutil.Eventually(t, 20*time.Second, "one delivery done, the other retrying", func() bool {
		g, b := m.deliveries(good.ID), m.deliveries(bad.ID)
		return len(g) == 1 && g[0].Status == state.DeliverySucceeded && len(b) == 1 && len(b[0].Attempts) >= 1
	})
	ctx := testutil.Context(t, 10*time.Second)
	if n, err := d.Prune(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("prune within the retention = %d, %v", n, err)
	}
	if n, err := d.Prune(ctx, time.Now().Add(webhooks.DefaultRetention+time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune past the retention = %d, %v; want the finished one", n, err)
	}
	if g, b := m.deliveries(good.ID), m.deliveries(bad.ID); len(g) != 0 || len(b) != 1 || b[0].Status != state.DeliveryPending {
		t.Fatalf("after pruning: %d finished kept, pending %v", len(g), b)
	}
}
