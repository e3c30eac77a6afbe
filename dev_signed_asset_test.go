package main

import (
	"github.com/livestreams/livestreams/shared/testutil"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// TestSignedRecordingPlaysWithAPIToken is the regression test of minting
// for assets: a signed stream's recording is an asset whose playback id
// POST /v1/signing-keys/{id}/tokens accepts, and the token plays it (and
// nothing plays it without one).
func TestSignedRecordingPlaysWithAPIToken(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	key, err := c.API.SigningKeys().Create(testutil.Context(t, 10*time.Second), client.SigningKeyCreate{})
	if err != nil {
		t.Fatal(err)
	}
	s := newStream(t, c, client.StreamCreate{Name: "signed-recording", PlaybackPolicy: "signed"})
	pub := publish(t, c.RTMPURL(s.Key), 320, 180, 4, true)
	if err := pub.Wait(); err != nil {
		t.Fatalf("publish: %v", err)
	}
	a := recordingOf(t, c, s.ID, 2*time.Minute, func(a recordingAsset) bool { return a.Status == "ready" })
	// The calls after the wait get their own time: the wait above may
	// take most of a minute on a busy machine.
	ctx := testutil.Context(t, 10*time.Second)
	if a.PlaybackPolicy != "signed" {
		// The recording keeps the stream's policy; make sure of it either way.
		signed := "signed"
		if a, err = c.API.Assets().Update(ctx, a.ID, client.AssetUpdate{PlaybackPolicy: &signed}); err != nil {
			t.Fatal(err)
		}
	}
	ttl := int64(600)
	tok, err := c.API.SigningKeys().Mint(ctx, key.ID, client.TokenMint{PlaybackID: a.PlaybackID, TTLSeconds: &ttl})
	if err != nil {
		t.Fatalf("mint a token for the recording's playback id %s: %v", a.PlaybackID, err)
	}
	play := c.PlaybackURL(a.PlaybackID)
	if code, _, _ := get(t, play); code != http.StatusForbidden {
		t.Errorf("the signed recording without a token: status %d, want 403", code)
	}
	code, body, final := get(t, withToken(t, play, tok.Token))
	if code != http.StatusOK || !strings.Contains(string(body), "#EXTM3U") {
		t.Fatalf("the signed recording with an API-minted token: status %d at %s: %.200s", code, final, body)
	}
	// Its renditions play with the token the playlist carries.
	var child string
	for _, l := range strings.Split(string(body), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			child = l
			break
		}
	}
	if child == "" || !strings.Contains(child, "token=") {
		t.Fatalf("the served playlist's first URI %q lacks the token", child)
	}
	base, _ := url.Parse(final)
	ref, err := url.Parse(child)
	if err != nil {
		t.Fatal(err)
	}
	if code, b, _ := get(t, base.ResolveReference(ref).String()); code != http.StatusOK {
		t.Errorf("the recording's %s with the token: status %d: %.200s", child, code, b)
	}
}
