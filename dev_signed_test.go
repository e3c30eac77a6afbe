package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/testutil"
	"github.com/livestreams/livestreams/shared/token"
)

// withToken returns u with its token query parameter replaced (or removed
// when tok is "").
func withToken(t *testing.T, u, tok string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Del("token")
	if tok != "" {
		q.Set("token", tok)
	}
	p.RawQuery = q.Encode()
	return p.String()
}

// TestSignedPlayback publishes to a stream with the signed policy and checks
// every object the edge serves: no, expired, tampered and other-stream
// tokens get 403; a valid token gets 200 and is carried by every child URI
// of the playlists the edge serves.
func TestSignedPlayback(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key, err := c.API.SigningKeys().Create(ctx, client.SigningKeyCreate{})
	if err != nil {
		t.Fatal(err)
	}
	if key.ID == "" || key.PrivatePEM == "" {
		t.Fatalf("signing key answer lacks id or private key: %+v", key)
	}
	mint := func(pid string) string {
		ttl := int64(600)
		tk, err := c.API.SigningKeys().Mint(ctx, key.ID, client.TokenMint{PlaybackID: pid, TTLSeconds: &ttl})
		if err != nil {
			t.Fatal(err)
		}
		return tk.Token
	}
	s := newStream(t, c, client.StreamCreate{Name: "signed", PlaybackPolicy: "signed"})
	other := newStream(t, c, client.StreamCreate{Name: "other", PlaybackPolicy: "signed"})
	valid := mint(s.PlaybackID)
	otherTok := mint(other.PlaybackID)
	priv, err := token.ParsePrivatePEM(key.PrivatePEM)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := token.Sign(priv, key.ID, s.PlaybackID, time.Now().Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Tamper with the payload: claim the other stream, keep the signature.
	parts := strings.Split(otherTok, ".")
	vparts := strings.Split(valid, ".")
	tampered := vparts[0] + "." + parts[1] + "." + vparts[2]

	publish(t, c.RTMPURL(s.Key), 640, 360, 25, true)
	master, vs := masterWhenLive(t, c, s.PlaybackID, "?token="+url.QueryEscape(valid), 1)
	if !strings.Contains(vs[0].URI, "token=") {
		t.Errorf("variant URI in the served master lacks the token: %q", vs[0].URI)
	}
	variant := resolve(master, vs[0].URI)
	var initURI string
	var segs []string
	testutil.EventuallyEvery(t, 20*time.Second, devPoll, "a segment", func() bool {
		code, body, _ := get(t, variant)
		if code != http.StatusOK {
			return false
		}
		initURI, segs, _ = mediaPlaylist(string(body))
		return initURI != "" && len(segs) > 0
	})
	if !strings.Contains(initURI, "token=") || !strings.Contains(segs[0], "token=") {
		t.Errorf("child URIs of the served variant playlist lack the token: %q %q", initURI, segs[0])
	}
	objects := map[string]string{"master": master, "variant": variant,
		"init": resolve(variant, initURI), "segment": resolve(variant, segs[0])}
	for name, u := range objects {
		for _, tc := range []struct {
			what, tok string
			want      int
		}{
			{"valid", valid, http.StatusOK},
			{"none", "", http.StatusForbidden},
			{"expired", expired, http.StatusForbidden},
			{"tampered", tampered, http.StatusForbidden},
			{"other stream", otherTok, http.StatusForbidden},
			{"garbage", "not-a-token", http.StatusForbidden},
		} {
			if code, _, _ := get(t, withToken(t, u, tc.tok)); code != tc.want {
				t.Errorf("%s with %s token: status %d, want %d", name, tc.what, code, tc.want)
			}
		}
	}
	// The control plane's play URL keeps the token through its redirect.
	if code, _, _ := get(t, c.PlaybackURL(s.PlaybackID)); code != http.StatusForbidden {
		t.Errorf("play URL without a token: status %d, want 403 from the edge", code)
	}
}
