package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/webhooks"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestDevWebhooks: livestreams dev accepts a receiver on loopback (its
// default --webhook-allow-private), and a publish reaches it as signed
// session.started and session.ended deliveries carrying the stream's id;
// with the flag off the same URL is refused.
func TestDevWebhooks(t *testing.T) {
	t.Parallel()
	type got struct {
		typ, id, stream string
		verified        bool
	}
	var mu sync.Mutex
	var secret string
	var seen []got
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			StreamID string `json:"stream_id"`
		}
		json.Unmarshal(body, &ev)
		mu.Lock()
		ok := webhooks.Verify(secret, r.Header.Get(webhooks.HeaderSignature), body, time.Now(), 5*time.Minute) == nil
		seen = append(seen, got{ev.Type, r.Header.Get(webhooks.HeaderEventID), ev.StreamID, ok && ev.ID == r.Header.Get(webhooks.HeaderEventID)})
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)

	c := startDev(t)
	ctx := testutil.Context(t, 2*time.Minute)
	w, err := c.API.Webhooks().Create(ctx, client.WebhookCreate{URL: rcv.URL + "/hooks", EventTypes: []string{"session.started", "session.ended"}})
	if err != nil {
		t.Fatalf("create a loopback webhook on dev: %v", err)
	}
	mu.Lock()
	secret = w.Secret
	mu.Unlock()

	s := newStream(t, c, client.StreamCreate{Name: "hooked"})
	pub := publish(t, c.RTMPURL(s.Key), 160, 90, 3, false)
	pub.Wait()
	testutil.Eventually(t, 90*time.Second, "session.started and session.ended at the receiver", func() bool {
		mu.Lock()
		defer mu.Unlock()
		types := map[string]bool{}
		for _, g := range seen {
			types[g.typ] = true
		}
		return types["session.started"] && types["session.ended"]
	})
	mu.Lock()
	for _, g := range seen {
		if !g.verified || g.stream != s.ID || (g.typ != "session.started" && g.typ != "session.ended") {
			t.Errorf("delivery %+v (want verified, stream %s, a subscribed type)", g, s.ID)
		}
	}
	mu.Unlock()

	off := startDevWith(t, func(cfg *devConfig) { cfg.NoWebhookPrivate = true })
	if _, err := off.API.Webhooks().Create(ctx, client.WebhookCreate{URL: rcv.URL}); err == nil {
		t.Fatal("dev with --webhook-allow-private=false accepted a loopback webhook")
	}
}
