package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/controlplane/oauth/oauthtest"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/testutil"
)

// browser is the user's browser: no API credentials, redirects followed
// or not as the test asks.
var (
	browser  = &http.Client{Timeout: 20 * time.Second}
	noFollow = httpClient
)

// browse sends a browser GET and returns the answer, its body read.
func browse(t *testing.T, c *http.Client, u string) answer {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// TestOAuthLinking links a YouTube and a Twitch account to an org against
// the loopback provider, on a two-node cluster whose callbacks land on
// the other node: the redirect chain, a replayed, forged or
// wrong-provider state and a wrong PKCE verifier refused, tokens sealed
// at rest and never answered or logged, an expired token refreshed (and
// the refreshed one stored through Raft) when a restream target is made
// from the account, the target's URL and key from the provider (the key
// sealed, never answered), another org seeing nothing, and unlinking
// revoking at the provider.
func TestOAuthLinking(t *testing.T) {
	t.Parallel()
	fake := oauthtest.Start(t)
	kr, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.SyncBuffer{}
	opts := nodeOpts{cfg: func(c *Config) {
		c.OAuth = oauth.New(fake.Config())
		c.Keyring = kr
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}}
	o1 := opts
	o1.bootstrap = true
	cp1 := startNode(t, "cp1", o1)
	meta := initMeta(t, cp1.node)
	cp2 := startNode(t, "cp2", opts)
	for _, n := range []*testNode{cp1, cp2} {
		n.node.Store().SetKeyring(kr)
	}
	ctx := testutil.Context(t, 60*time.Second)
	if err := cp2.node.Join(ctx, cp1.url); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	e := &env{t: t, n: cp1, meta: meta, rec: rec, anon: &rawClient{t: t, base: cp1.url, rec: rec}}
	a := e.anon.must(201, "POST", "/v1/auth/signup", map[string]any{"email": "root@example.com", "password": testPassword,
		"name": "Root", "org_name": "Org A", "setup_token": testSetupToken}).json(t)
	e.admin, e.orgA = e.anon.as(str(a, "token")), str(a["org"].(map[string]any), "id")
	member, _ := e.key(e.admin, "creator", "member", false)
	viewer, _ := e.key(e.admin, "watcher", "viewer", false)
	testutil.Eventually(t, 15*time.Second, "cp2 to hold the state", func() bool {
		return cp2.node.AppliedIndex() >= cp1.node.AppliedIndex()
	})
	onCP2 := func(callback string) string { return strings.Replace(callback, cp1.url, cp2.url, 1) }
	stream := str(member.must(201, "POST", "/v1/streams", map[string]any{"name": "Main stage"}).json(t), "id")

	// The start answers the consent URL: S256 challenge, the state, the
	// callback on the node it was asked of.
	start := member.must(200, "GET", "/v1/oauth/youtube/start", nil).json(t)
	authURL, _ := url.Parse(str(start, "authorization_url"))
	q := authURL.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || len(q.Get("state")) < 40 ||
		q.Get("redirect_uri") != cp1.url+"/v1/oauth/youtube/callback" || q.Get("client_id") != oauthtest.GoogleClientID ||
		q.Get("access_type") != "offline" {
		t.Fatalf("authorization URL %s", authURL)
	}
	viewer.must(403, "GET", "/v1/oauth/youtube/start", nil)
	member.must(404, "GET", "/v1/oauth/myspace/start", nil)

	// The provider approves and sends the browser back; the callback
	// lands on cp2, which consumes the state cp1 stored.
	back := browse(t, noFollow, authURL.String())
	if back.status != http.StatusFound {
		t.Fatalf("authorize: %d %s", back.status, back.body)
	}
	callback := back.header.Get("Location")
	yt := browse(t, browser, onCP2(callback))
	if yt.status != 200 {
		t.Fatalf("callback: %d %s", yt.status, yt.body)
	}
	ytAcct := yt.json(t)
	if ytAcct["provider"] != "youtube" || ytAcct["account_id"] != oauthtest.ChannelID || ytAcct["account_name"] != oauthtest.ChannelName ||
		ytAcct["org_id"] != e.orgA || !strings.HasPrefix(str(ytAcct, "id"), "lac_") {
		t.Fatalf("linked %v", ytAcct)
	}
	rec.add(recorded{method: "GET", path: "/v1/oauth/youtube/callback", status: yt.status, body: yt.body})

	// A replay of the same callback, on either node, is refused; so are
	// a forged state and a state sent to the other provider's callback.
	for _, u := range []string{callback, onCP2(callback)} {
		if a := browse(t, browser, u); a.status != 400 || a.code() != "invalid" {
			t.Fatalf("replayed callback: %d %s", a.status, a.body)
		}
	}
	if a := browse(t, browser, cp1.url+"/v1/oauth/youtube/callback?code=x&state=forged"+strings.Repeat("a", 40)); a.status != 400 {
		t.Fatalf("forged state: %d %s", a.status, a.body)
	}
	start2, _ := url.Parse(str(member.must(200, "GET", "/v1/oauth/youtube/start", nil).json(t), "authorization_url"))
	crossed := strings.Replace(browse(t, noFollow, start2.String()).header.Get("Location"), "/youtube/", "/twitch/", 1)
	if a := browse(t, browser, crossed); a.status != 400 {
		t.Fatalf("a youtube state on the twitch callback: %d %s", a.status, a.body)
	}

	// ?redirect=1 sends the caller to the consent page.
	if a := member.must(302, "GET", "/v1/oauth/twitch/start?redirect=1", nil); !strings.HasPrefix(a.header.Get("Location"), fake.TwitchAuthURL()+"/oauth2/authorize?") {
		t.Fatalf("redirect to %q", a.header.Get("Location"))
	}

	// An authorization whose challenge is not the verifier's (a code
	// stolen from another flow) fails the exchange at the provider.
	start3, _ := url.Parse(str(member.must(200, "GET", "/v1/oauth/twitch/start", nil).json(t), "authorization_url"))
	sum := sha256.Sum256([]byte(oauth.NewVerifier()))
	q3 := start3.Query()
	q3.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	start3.RawQuery = q3.Encode()
	if a := browse(t, browser, start3.String()); a.status != 400 || !strings.Contains(string(a.body), "invalid_grant") {
		t.Fatalf("wrong verifier: %d %s", a.status, a.body)
	}
	if r := strings.Join(fake.Refusals(), "; "); !strings.Contains(r, "code_verifier does not match") {
		t.Fatalf("the provider refused for: %s", r)
	}

	// Twitch, the whole chain followed by the browser, with tokens that
	// expire at once.
	fake.SetTokenTTL(time.Second)
	tw := browse(t, browser, str(member.must(200, "GET", "/v1/oauth/twitch/start", nil).json(t), "authorization_url"))
	if tw.status != 200 {
		t.Fatalf("twitch link: %d %s", tw.status, tw.body)
	}
	twAcct := tw.json(t)
	if twAcct["account_id"] != oauthtest.TwitchID || twAcct["account_name"] != oauthtest.TwitchLogin {
		t.Fatalf("linked %v", twAcct)
	}
	fake.SetTokenTTL(time.Hour)

	list := viewer.must(200, "GET", "/v1/linked-accounts", nil).json(t)["items"].([]any)
	if len(list) != 2 {
		t.Fatalf("linked accounts %v", list)
	}

	// At rest, the tokens are sealed.
	stored := func(n *testNode, id string) (sealed, open state.LinkedAccount) {
		t.Helper()
		err := n.node.Store().View(func(tx *state.Tx) error {
			all, err := tx.LinkedAccounts(e.orgA)
			for _, a := range all {
				if a.ID == id {
					sealed = a
				}
			}
			if err == nil {
				open, err = tx.LinkedAccount(e.orgA, id)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return sealed, open
	}
	twSealed, twBefore := stored(cp1, str(twAcct, "id"))
	if !keyring.IsSealed([]byte(twSealed.AccessToken)) || !keyring.IsSealed([]byte(twSealed.RefreshToken)) || twBefore.RefreshToken == "" {
		t.Fatal("the linked account's tokens are not sealed at rest")
	}

	// A target from the Twitch account: its token expired, so it is
	// refreshed first and the new one stored; the key is the channel's.
	target := member.must(201, "POST", "/v1/streams/"+stream+"/restream-targets/from-account",
		map[string]any{"linked_account_id": str(twAcct, "id"), "name": "Twitch"}).json(t)
	if n := fake.RefreshCount("twitch"); n != 1 {
		t.Fatalf("%d refresh grants, want 1", n)
	}
	testutil.Eventually(t, 10*time.Second, "the refreshed token on cp2", func() bool {
		_, after := stored(cp2, str(twAcct, "id"))
		return after.AccessToken != twBefore.AccessToken && after.Expiry.After(time.Now().Add(30*time.Minute))
	})
	if target["url"] != oauth.TwitchIngestURL || target["preset"] != "twitch" || target["key_set"] != true ||
		target["linked_account_id"] != twAcct["id"] || target["name"] != "Twitch" {
		t.Fatalf("target %v", target)
	}
	twKey := fake.StreamKey("twitch")
	// And from YouTube: a liveStream bound to a broadcast.
	ytTarget := member.must(201, "POST", "/v1/streams/"+stream+"/restream-targets/from-account",
		map[string]any{"linked_account_id": str(ytAcct, "id")}).json(t)
	if ytTarget["url"] != oauthtest.YouTubeIngest || ytTarget["preset"] != "youtube" || len(fake.Bindings()) != 1 {
		t.Fatalf("target %v, bindings %v", ytTarget, fake.Bindings())
	}
	if n := fake.RefreshCount("youtube"); n != 0 {
		t.Fatalf("a valid YouTube token was refreshed %d times", n)
	}
	ytKey := fake.StreamKey("youtube")
	for _, tg := range []struct {
		id, key string
	}{{str(target, "id"), twKey}, {str(ytTarget, "id"), ytKey}} {
		err := cp1.node.Store().View(func(tx *state.Tx) error {
			r, err := tx.RestreamTarget(stream, tg.id)
			if err != nil {
				return err
			}
			if !keyring.IsSealed([]byte(r.KeySealed)) {
				t.Errorf("target %s: key not sealed", tg.id)
			}
			if k, err := kr.OpenString(state.SealRestreamKey, r.KeySealed); err != nil || k != tg.key {
				t.Errorf("target %s: key opens to %q, %v; want the provider's", tg.id, k, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	member.must(404, "POST", "/v1/streams/"+stream+"/restream-targets/from-account", map[string]any{"linked_account_id": "lac_none"})
	member.must(400, "POST", "/v1/streams/"+stream+"/restream-targets/from-account", map[string]any{})

	// Another org sees none of it and cannot unlink or use it.
	orgB := str(e.admin.must(201, "POST", "/v1/orgs", map[string]any{"name": "Org B"}).json(t), "id")
	bKey, _ := e.key(e.admin.inOrg(orgB), "b", "owner", false)
	bStream := str(bKey.must(201, "POST", "/v1/streams", map[string]any{"name": "B"}).json(t), "id")
	if l := bKey.must(200, "GET", "/v1/linked-accounts", nil).json(t)["items"].([]any); len(l) != 0 {
		t.Fatalf("org B lists %v", l)
	}
	bKey.must(404, "DELETE", "/v1/linked-accounts/"+str(ytAcct, "id"), nil)
	bKey.must(404, "POST", "/v1/streams/"+bStream+"/restream-targets/from-account", map[string]any{"linked_account_id": str(ytAcct, "id")})
	member.must(404, "POST", "/v1/streams/"+bStream+"/restream-targets/from-account", map[string]any{"linked_account_id": str(ytAcct, "id")})

	// Unlinking revokes at the provider, then forgets the account.
	viewer.must(403, "DELETE", "/v1/linked-accounts/"+str(ytAcct, "id"), nil)
	member.must(204, "DELETE", "/v1/linked-accounts/"+str(ytAcct, "id"), nil)
	if n := fake.RevokedCount("youtube"); n != 1 {
		t.Fatalf("%d YouTube tokens revoked", n)
	}
	member.must(204, "DELETE", "/v1/linked-accounts/"+str(twAcct, "id"), nil)
	if n := fake.RevokedCount("twitch"); n != 1 {
		t.Fatalf("%d Twitch tokens revoked", n)
	}
	member.must(404, "DELETE", "/v1/linked-accounts/"+str(ytAcct, "id"), nil)
	if l := member.must(200, "GET", "/v1/linked-accounts?consistent=1", nil).json(t)["items"].([]any); len(l) != 0 {
		t.Fatalf("after unlinking: %v", l)
	}

	// No answer and no log line holds a token, a stream key or a secret.
	secrets := []string{twKey, ytKey, twBefore.AccessToken, twBefore.RefreshToken, oauthtest.GoogleClientSecret, oauthtest.TwitchClientSecret}
	rec.mu.Lock()
	for _, ans := range rec.answers {
		for _, s := range secrets {
			if s != "" && strings.Contains(string(ans.body), s) {
				t.Errorf("%s %s answered a secret: %s", ans.method, ans.path, ans.body)
			}
		}
		if strings.Contains(string(ans.body), "access_token") || strings.Contains(string(ans.body), "refresh_token") {
			t.Errorf("%s %s answered a token field: %s", ans.method, ans.path, ans.body)
		}
	}
	rec.mu.Unlock()
	for _, s := range append(secrets, "access-", "refresh-", "code-") {
		if s != "" && strings.Contains(logs.String(), s) {
			t.Errorf("the logs hold %q:\n%s", s, testutil.LastLines(logs.String(), 40))
		}
	}
	checkNoSecrets(t, rec)
}

// TestOAuthUnconfigured: without the operator's apps the routes answer
// 503 and name the flags; the callback of an unknown provider is 404.
func TestOAuthUnconfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	a := e.admin.do("GET", "/v1/oauth/youtube/start", nil)
	if a.status != 503 || !strings.Contains(string(a.body), "--oauth-google-client-id") {
		t.Fatalf("start without an app: %d %s", a.status, a.body)
	}
	e.anon.must(503, "GET", "/v1/oauth/twitch/callback?state=x&code=y", nil)
	e.anon.must(404, "GET", "/v1/oauth/myspace/callback?state=x&code=y", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if l, err := e.admin.typed().LinkedAccounts().List(ctx); err != nil || len(l) != 0 {
		t.Fatalf("list: %v %v", l, err)
	}
}

// TestOAuthPendingBound: an org has at most 20 links in progress; a
// completed one frees its place.
func TestOAuthPendingBound(t *testing.T) {
	t.Parallel()
	fake := oauthtest.Start(t)
	e := newEnv(t, nodeOpts{cfg: func(c *Config) { c.OAuth = oauth.New(fake.Config()) }})
	var first string
	for i := 0; i < 20; i++ {
		u := str(e.admin.must(200, "GET", "/v1/oauth/twitch/start", nil).json(t), "authorization_url")
		if i == 0 {
			first = u
		}
	}
	if a := e.admin.do("GET", "/v1/oauth/youtube/start", nil); a.status != 409 || a.code() != "conflict" {
		t.Fatalf("a 21st link: %d %s", a.status, a.body)
	}
	if a := browse(t, browser, first); a.status != 200 {
		t.Fatalf("finishing the first link: %d %s", a.status, a.body)
	}
	e.admin.must(200, "GET", "/v1/oauth/youtube/start", nil)
}
