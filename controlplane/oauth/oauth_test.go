package oauth_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/controlplane/oauth/oauthtest"
	"github.com/livestreams/livestreams/shared/testutil"
)

func newService(fake *oauthtest.Provider) *oauth.Service {
	cfg := fake.Config()
	cfg.PublicURL = "https://cp.example.com/"
	return oauth.New(cfg)
}

var noRedirect = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// approve sends the browser to the authorization URL and returns the
// callback's query the provider redirects to.
func approve(t *testing.T, authURL string) url.Values {
	t.Helper()
	resp, err := noRedirect.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

// TestProviders runs each provider's whole flow against the fake: the
// authorization URL carries the S256 challenge and the redirect URI, the
// code exchange needs the verifier, the token names the account, an
// expired token is refreshed, the ingest comes from the provider API,
// and revocation reaches the provider.
func TestProviders(t *testing.T) {
	t.Parallel()
	fake := oauthtest.Start(t)
	svc := newService(fake)
	if got := strings.Join(svc.Providers(), ","); got != "twitch,youtube" {
		t.Fatalf("providers = %s", got)
	}
	for _, c := range []struct {
		provider, accountID, ingest string
	}{
		{oauth.YouTube, oauthtest.ChannelID, oauthtest.YouTubeIngest},
		{oauth.Twitch, oauthtest.TwitchID, oauth.TwitchIngestURL},
	} {
		t.Run(c.provider, func(t *testing.T) {
			ctx := testutil.Context(t, 20*time.Second)
			verifier := oauth.NewVerifier()
			redirect := svc.RedirectURI(c.provider, "http://ignored.example")
			au, err := svc.AuthURL(c.provider, "state-1", verifier, redirect)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(au)
			if q := u.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
				q.Get("redirect_uri") != "https://cp.example.com/v1/oauth/"+c.provider+"/callback" || q.Get("state") != "state-1" {
				t.Fatalf("authorization URL %s", au)
			}
			back := approve(t, au)
			if back.Get("state") != "state-1" {
				t.Fatalf("callback state %q", back.Get("state"))
			}
			// The wrong verifier is refused, and the code is spent.
			if _, _, err := svc.Exchange(ctx, c.provider, back.Get("code"), oauth.NewVerifier(), redirect); !errors.Is(err, oauth.ErrRefused) {
				t.Fatalf("exchange with a wrong verifier: %v", err)
			}
			back = approve(t, au)
			tok, acct, err := svc.Exchange(ctx, c.provider, back.Get("code"), verifier, redirect)
			if err != nil {
				t.Fatal(err)
			}
			if acct.ID != c.accountID || tok.RefreshToken == "" || len(oauth.Scopes(tok)) != 1 {
				t.Fatalf("account %+v, token with refresh %v, scopes %v", acct, tok.RefreshToken != "", oauth.Scopes(tok))
			}
			if _, _, err := svc.Exchange(ctx, c.provider, back.Get("code"), verifier, redirect); !errors.Is(err, oauth.ErrRefused) {
				t.Fatalf("a code used twice: %v", err)
			}

			same, refreshed, err := svc.Fresh(ctx, c.provider, tok)
			if err != nil || refreshed || same.AccessToken != tok.AccessToken {
				t.Fatalf("fresh of a valid token: refreshed %v, %v", refreshed, err)
			}
			tok.Expiry = time.Now().Add(-time.Minute)
			nt, refreshed, err := svc.Fresh(ctx, c.provider, tok)
			if err != nil || !refreshed || nt.AccessToken == tok.AccessToken || nt.RefreshToken == "" {
				t.Fatalf("fresh of an expired token: refreshed %v, %v", refreshed, err)
			}
			if n := fake.RefreshCount(c.provider); n != 1 {
				t.Fatalf("%d refresh grants", n)
			}

			in, err := svc.Ingest(ctx, c.provider, nt, "Main stage")
			if err != nil {
				t.Fatal(err)
			}
			if in.URL != c.ingest || in.Key == "" || in.Key != fake.StreamKey(c.provider) {
				t.Fatalf("ingest %+v", in)
			}
			if c.provider == oauth.YouTube {
				if b := fake.Bindings(); len(b) != 1 || b[0] != in.BroadcastID+"/"+in.StreamID {
					t.Fatalf("bindings %v for %+v", b, in)
				}
			}

			if err := svc.Revoke(ctx, c.provider, nt); err != nil {
				t.Fatal(err)
			}
			if n := fake.RevokedCount(c.provider); n != 1 {
				t.Fatalf("%d revoked", n)
			}
			if _, err := svc.Ingest(ctx, c.provider, nt, "after"); !errors.Is(err, oauth.ErrRefused) {
				t.Fatalf("ingest with a revoked token: %v", err)
			}
		})
	}
}

func TestUnconfigured(t *testing.T) {
	t.Parallel()
	svc := oauth.New(oauth.Config{PublicURL: "http://x"})
	if _, err := svc.AuthURL(oauth.YouTube, "s", "v", ""); !errors.Is(err, oauth.ErrNotConfigured) {
		t.Fatalf("youtube without an app: %v", err)
	}
	if _, err := svc.AuthURL("myspace", "s", "v", ""); !errors.Is(err, oauth.ErrUnknownProvider) {
		t.Fatalf("unknown provider: %v", err)
	}
	var none *oauth.Service
	if _, err := none.AuthURL(oauth.Twitch, "s", "v", ""); !errors.Is(err, oauth.ErrNotConfigured) {
		t.Fatalf("nil service: %v", err)
	}
}
