package whip

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/livestreams/livestreams/shared/testutil"
)

// TestRefusals: every bad POST gets a clear 4xx and opens no session.
func TestRefusals(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxOfferBytes = 16 << 10 })
	good := newPublisher(t, clientAPI(t, nil), webrtc.MimeTypeH264, true).offer(t)
	vp8 := newPublisher(t, clientAPI(t, func(me *webrtc.MediaEngine) error {
		return me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			PayloadType: 96}, webrtc.RTPCodecTypeVideo)
	}), webrtc.MimeTypeVP8, false).offer(t)

	tests := []struct {
		name, key, ctype, body string
		status                 int
		bodySubstr             string
	}{
		{"wrong key", "sk_wrong", "application/sdp", good, http.StatusUnauthorized, "unknown stream key"},
		{"no key", "", "application/sdp", good, http.StatusUnauthorized, "Bearer"},
		{"not sdp", testKey, "application/json", good, http.StatusUnsupportedMediaType, "application/sdp"},
		{"no H264", testKey, "application/sdp", vp8, http.StatusUnsupportedMediaType, "H264"},
		{"garbage", testKey, "application/sdp", "v=0\r\nthis is not SDP\r\n", http.StatusBadRequest, "SDP"},
		{"empty", testKey, "application/sdp", "", http.StatusBadRequest, "empty"},
		{"oversized", testKey, "application/sdp", good + strings.Repeat("a=x-pad:0123456789\r\n", 1000), http.StatusRequestEntityTooLarge, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, ts.url, tc.key, tc.ctype, strings.NewReader(tc.body))
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.bodySubstr) {
				t.Fatalf("%s %q, want %d with %q", resp.Status, body, tc.status, tc.bodySubstr)
			}
			if strings.Contains(body, tc.key) && tc.key != "" {
				t.Fatalf("the answer repeats the stream key: %q", body)
			}
		})
	}
	if n := ts.sinkCount(); n != 0 {
		t.Fatalf("%d sinks opened by refused publishes", n)
	}
	if n := ts.Len(); n != 0 {
		t.Fatalf("%d sessions after refused publishes", n)
	}

	base := strings.TrimSuffix(ts.url, "/live")
	for _, tc := range []struct {
		method, url string
		status      int
	}{
		{http.MethodGet, ts.url, http.StatusMethodNotAllowed},
		{http.MethodOptions, ts.url, http.StatusNoContent},
		{http.MethodDelete, base + "/resource/nosuch", http.StatusNotFound},
		{http.MethodPatch, base + "/resource/nosuch", http.StatusMethodNotAllowed},
		{http.MethodOptions, base + "/resource/nosuch", http.StatusNoContent},
		{http.MethodPost, strings.TrimSuffix(base, DefaultBasePath) + "/whipper", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, nil)
		if resp, body := do(t, req); resp.StatusCode != tc.status {
			t.Errorf("%s %s: %s %q, want %d", tc.method, tc.url, resp.Status, body, tc.status)
		}
	}
}

// TestSessionEnds: a session ends, and its sink is closed once with why,
// when the publisher stalls, closes its peer connection, or the server
// stops.
func TestSessionEnds(t *testing.T) {
	connect := func(t *testing.T, ts *testServer) (*publisher, *fileSink) {
		t.Helper()
		p := newPublisher(t, clientAPI(t, nil), webrtc.MimeTypeH264, true)
		resp, body := post(t, ts.url, testKey, "application/sdp", strings.NewReader(p.offer(t)))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %s: %s", resp.Status, body)
		}
		if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
			t.Fatal(err)
		}
		p.waitConnected(t)
		return p, ts.sink(0)
	}
	closed := func(t *testing.T, sk *fileSink, within time.Duration) error {
		t.Helper()
		select {
		case <-sk.done:
		case <-time.After(within):
			t.Fatalf("sink not closed within %v", within)
		}
		_, _, _, err := sk.state()
		return err
	}

	t.Run("stall", func(t *testing.T) {
		ts := newTestServer(t, func(c *Config) { c.StallTimeout = time.Second })
		_, sk := connect(t, ts)
		err := closed(t, sk, 5*time.Second)
		var to interface{ Timeout() bool }
		if !errors.As(err, &to) || !to.Timeout() {
			t.Fatalf("closed with %v, want a timeout", err)
		}
		testutil.Eventually(t, 5*time.Second, "session gone", func() bool { return ts.Len() == 0 })
	})

	t.Run("peer closes", func(t *testing.T) {
		ts := newTestServer(t, nil)
		p, sk := connect(t, ts)
		m := makeMedia(t, 2)
		ctx, cancel := context.WithCancel(testutil.Context(t, 20*time.Second))
		defer cancel()
		p.send(ctx, t, m)
		if src, _, _, _ := sk.state(); src == nil {
			t.Fatal("the session never started")
		}
		if err := p.pc.Close(); err != nil {
			t.Fatal(err)
		}
		if err := closed(t, sk, 10*time.Second); err != nil {
			t.Fatalf("closed with %v, want nil", err)
		}
	})

	t.Run("server stops", func(t *testing.T) {
		ts := newTestServer(t, nil)
		_, sk := connect(t, ts)
		ts.stop()
		if err := closed(t, sk, 5*time.Second); !errors.Is(err, ErrShuttingDown) {
			t.Fatalf("closed with %v, want %v", err, ErrShuttingDown)
		}
		resp, _ := post(t, ts.url, testKey, "application/sdp", strings.NewReader(readOffer(t, "minimal_offer.sdp")))
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("POST after stop: %s, want 503", resp.Status)
		}
	})
}

// TestPublicIP: with 1:1 NAT the answer's host candidate carries the
// public address and the shared UDP port. (The publisher never uses the
// answer: nothing is sent to the documentation address.)
func TestPublicIP(t *testing.T) {
	const public = "203.0.113.7"
	var port string
	ts := newTestServer(t, func(c *Config) {
		c.PublicIP = public
		_, port, _ = strings.Cut(c.UDPAddr, ":")
	})
	p := newPublisher(t, clientAPI(t, nil), webrtc.MimeTypeH264, false)
	resp, body := post(t, ts.url, testKey, "application/sdp", strings.NewReader(p.offer(t)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %s: %s", resp.Status, body)
	}
	if !strings.Contains(body, " "+public+" "+port+" typ host") || strings.Contains(body, "127.0.0.1 "+port) {
		t.Fatalf("answer without the public address %s:%s as its host candidate:\n%s", public, port, body)
	}
	del, _ := http.NewRequest(http.MethodDelete, strings.TrimSuffix(ts.url, DefaultBasePath+"/live")+resp.Header.Get("Location"), nil)
	if resp, _ := do(t, del); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %s", resp.Status)
	}
	select {
	case <-ts.sink(0).done:
	case <-time.After(5 * time.Second):
		t.Fatal("DELETE did not close the sink")
	}
}
