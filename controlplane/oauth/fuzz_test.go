package oauth

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// answering is a transport that answers every request with body.
type answering struct {
	status int
	body   []byte
}

func (a answering) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: a.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzProviderAnswers feeds arbitrary provider answers (token endpoint,
// YouTube Data API, Helix) to the calls that parse them: none may panic,
// and an answer accepted as an ingest must name a URL and a key.
func FuzzProviderAnswers(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r","scope":"x y"}`,
		`{"access_token":"a","token_type":"bearer","expires_in":3600,"refresh_token":"r","scope":["channel:read:stream_key"]}`,
		`{"items":[{"id":"UC1","snippet":{"title":"t"}}]}`,
		`{"id":"s1","cdn":{"ingestionInfo":{"streamName":"k","ingestionAddress":"rtmp://a/live2"}}}`,
		`{"data":[{"id":"1","login":"l"}]}`,
		`{"data":[{"stream_key":"live_1"}]}`,
		`{"items":[]}`, `{"data":null}`, `[]`, `null`, `{`, ``, `{"error":"invalid_grant"}`,
	} {
		f.Add(200, []byte(seed))
		f.Add(400, []byte(seed))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		hc := &http.Client{Transport: answering{status: status, body: body}, Timeout: time.Second}
		app := App{ClientID: "id", ClientSecret: "secret", AuthURL: "http://p/auth", TokenURL: "http://p/token", RevokeURL: "http://p/revoke", APIURL: "http://p/api"}
		s := New(Config{PublicURL: "http://cp", YouTube: app, Twitch: app, HTTPClient: hc})
		ctx := context.Background()
		tok := &oauth2.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(-time.Hour)}
		for _, p := range []string{YouTube, Twitch} {
			if tk, _, err := s.Exchange(ctx, p, "code", NewVerifier(), s.RedirectURI(p, "")); err == nil {
				Scopes(tk)
			}
			s.Fresh(ctx, p, tok)
			s.Revoke(ctx, p, tok)
			in, err := s.Ingest(ctx, p, &oauth2.Token{AccessToken: "a"}, "title")
			if err == nil && (in.URL == "" || in.Key == "") {
				t.Fatalf("%s: ingest %+v accepted without a URL or key", p, in)
			}
		}
	})
}
