package webhooks_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/server"
	"github.com/livestreams/livestreams/controlplane/testcluster"
	"github.com/livestreams/livestreams/controlplane/webhooks"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestLeaderChangeResumesDeliveries: a delivery still failing when the
// leader dies is taken up by the next leader (its state is in Raft) and
// arrives with the same event id.
func TestLeaderChangeResumesDeliveries(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	var mu sync.Mutex
	var secret string
	var ids []string
	var bad int
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		ids = append(ids, r.Header.Get(webhooks.HeaderEventID))
		if webhooks.Verify(secret, r.Header.Get(webhooks.HeaderSignature), body, time.Now(), 0) != nil {
			bad++
		}
		mu.Unlock()
		if failing.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(rcv.Close)
	got := func() (int, []string, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(ids), append([]string(nil), ids...), bad
	}

	c := testcluster.Start(t, testcluster.Options{Nodes: 3, Configure: func(cfg *server.Config) {
		cfg.WebhookAllowPrivate = true
		cfg.WebhookBackoff = webhooks.Backoff{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond, Window: 5 * time.Minute}
	}})
	leader := c.Leader(20 * time.Second)
	ctx := testutil.Context(t, 2*time.Minute)
	su, err := leader.Client("").Auth().Signup(ctx, client.Signup{Email: "hooks@example.com", Password: "hooks-password-1", OrgName: "hooks"})
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Client(su.Token)
	w, err := cl.Webhooks().Create(ctx, client.WebhookCreate{URL: rcv.URL + "/in"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = w.Secret
	mu.Unlock()
	ping, err := cl.Webhooks().Test(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "two failed attempts", func() bool { n, _, _ := got(); return n >= 2 })

	leader.Kill()
	failing.Store(false)
	next := c.Leader(30 * time.Second)
	testutil.Until(t, 60*time.Second, "the delivery to succeed under the new leader", func() error {
		d, err := next.Client(su.Token).Webhooks().Delivery(ctx, ping.ID)
		if err != nil {
			return err
		}
		if d.Status != "succeeded" {
			return errStatus(d.Status)
		}
		return nil
	})
	_, seen, bad := got()
	for _, id := range seen {
		if id != ping.EventID {
			t.Errorf("receiver saw event %s, want only %s", id, ping.EventID)
		}
	}
	if bad != 0 {
		t.Errorf("%d requests with a bad signature", bad)
	}
	// The new leader's metrics count what it did.
	resp, err := http.Get(next.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	for _, series := range []string{`livestreams_webhook_attempts_total{result="ok"} 1`, `livestreams_webhook_deliveries_ended_total{status="succeeded"} 1`,
		"livestreams_webhook_attempt_duration_seconds_count", "livestreams_webhook_attempts_in_flight 0"} {
		if !strings.Contains(string(m), series) {
			t.Errorf("the new leader's /metrics lacks %s", series)
		}
	}
}

type errStatus string

func (e errStatus) Error() string { return "delivery is " + string(e) }
