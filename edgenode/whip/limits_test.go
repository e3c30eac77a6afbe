package whip

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/livestreams/livestreams/shared/testutil"
)

// TestMaxPerIP: one address has at most MaxPerIP publishes at once (here
// held in Publish); the next is answered 429 with Retry-After before its
// offer is read, and a slot frees when a publish ends (issue 12, the
// per-address cap RTMP and SRT have).
func TestMaxPerIP(t *testing.T) {
	release := make(chan struct{})
	ts := newTestServer(t, func(c *Config) {
		c.MaxPerIP = 2
		c.Publish = func(ctx context.Context, req Request) (Sink, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, Refuse(http.StatusForbidden, errors.New("held, then refused"))
		}
	})
	offer := newPublisher(t, clientAPI(t, nil), webrtc.MimeTypeH264, true).offer(t)
	var wg sync.WaitGroup
	defer wg.Wait()
	for range 2 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, ts.url, strings.NewReader(offer))
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("Content-Type", "application/sdp")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	testutil.Eventually(t, 5*time.Second, "two publishes held", func() bool {
		ts.Server.mu.Lock()
		defer ts.Server.mu.Unlock()
		n := 0
		for _, v := range ts.Server.perIP {
			n += v
		}
		return n == 2
	})
	resp, body := post(t, ts.url, testKey, "application/sdp", strings.NewReader(offer))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "at most 2") {
		t.Fatalf("third publish from one address: %s %q (Retry-After %q), want 429", resp.Status, body, resp.Header.Get("Retry-After"))
	}
	close(release)
	wg.Wait()
	if resp, body := post(t, ts.url, testKey, "application/sdp", strings.NewReader(offer)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("publish after the others ended: %s %q, want the Publish refusal (403)", resp.Status, body)
	}
}
