// Package oauthtest is a fake of the providers package oauth talks to,
// on loopback, for tests: Google's and Twitch's OAuth servers (an
// authorize endpoint that approves at once and redirects with a code, a
// token endpoint that checks the client secret, the redirect URI and the
// PKCE verifier, refresh grants, revocation) and the YouTube Data API v3
// and Helix calls, speaking their documented JSON. It records what it was
// asked so tests can see refreshes, revocations and bindings.
package oauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/oauth"
)

// The apps the fake knows.
const (
	GoogleClientID     = "google-client.apps.example"
	GoogleClientSecret = "google-secret-not-for-logs"
	TwitchClientID     = "twitchclientid"
	TwitchClientSecret = "twitch-secret-not-for-logs"

	ChannelID   = "UCfakechannel0000000000"
	ChannelName = "Fake Channel"
	TwitchID    = "141981764"
	TwitchLogin = "fakestreamer"

	YouTubeIngest = "rtmp://a.rtmp.youtube.com/live2"
)

// Provider is the running fake. What it saw is read through its methods.
type Provider struct {
	URL string
	srv *http.Server
	ln  net.Listener
	wg  sync.WaitGroup

	mu sync.Mutex
	// ttl is the lifetime of the access tokens it issues next.
	ttl       time.Duration
	codes     map[string]grant
	access    map[string]tokenInfo
	refresh   map[string]tokenInfo
	n         int
	refreshes map[string]int    // provider -> refresh grants served
	revoked   map[string]string // token -> provider, as revoked
	bound     []string          // "broadcast/stream" of each liveBroadcasts.bind
	keys      map[string]string // provider -> the stream key it handed out
	failures  []string          // why requests were refused, for test logs
}

type grant struct {
	provider, clientID, redirect, challenge string
}

type tokenInfo struct {
	provider string
	expires  time.Time
	refresh  string // the refresh token an access token came from
	revoked  bool
}

// Start runs a fake on 127.0.0.1; it stops when the test ends.
func Start(t testing.TB) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{URL: "http://" + ln.Addr().String(), ln: ln, ttl: time.Hour,
		codes: map[string]grant{}, access: map[string]tokenInfo{}, refresh: map[string]tokenInfo{},
		refreshes: map[string]int{}, revoked: map[string]string{}, keys: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /google/auth", p.authorize("youtube", GoogleClientID))
	mux.HandleFunc("POST /google/token", p.token("youtube", GoogleClientID, GoogleClientSecret))
	mux.HandleFunc("POST /google/revoke", p.revoke("youtube"))
	mux.HandleFunc("GET /youtube/v3/channels", p.api("youtube", p.channels))
	mux.HandleFunc("POST /youtube/v3/liveStreams", p.api("youtube", p.insertStream))
	mux.HandleFunc("POST /youtube/v3/liveBroadcasts", p.api("youtube", p.insertBroadcast))
	mux.HandleFunc("POST /youtube/v3/liveBroadcasts/bind", p.api("youtube", p.bind))
	mux.HandleFunc("GET /twitch/oauth2/authorize", p.authorize("twitch", TwitchClientID))
	mux.HandleFunc("POST /twitch/oauth2/token", p.token("twitch", TwitchClientID, TwitchClientSecret))
	mux.HandleFunc("POST /twitch/oauth2/revoke", p.revoke("twitch"))
	mux.HandleFunc("GET /helix/users", p.api("twitch", p.users))
	mux.HandleFunc("GET /helix/streams/key", p.api("twitch", p.streamKey))
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.srv.Serve(ln) }()
	t.Cleanup(func() { p.srv.Close(); p.wg.Wait() })
	return p
}

// The base URLs to configure package oauth with.
func (p *Provider) GoogleAuthURL() string   { return p.URL + "/google/auth" }
func (p *Provider) GoogleTokenURL() string  { return p.URL + "/google/token" }
func (p *Provider) GoogleRevokeURL() string { return p.URL + "/google/revoke" }
func (p *Provider) YouTubeAPIURL() string   { return p.URL + "/youtube/v3" }
func (p *Provider) TwitchAuthURL() string   { return p.URL + "/twitch" } // /oauth2/… under it
func (p *Provider) TwitchAPIURL() string    { return p.URL + "/helix" }

// Config is the oauth configuration of both apps pointed at the fake;
// PublicURL is left to the caller.
func (p *Provider) Config() oauth.Config {
	return oauth.Config{
		YouTube: oauth.App{ClientID: GoogleClientID, ClientSecret: GoogleClientSecret,
			AuthURL: p.GoogleAuthURL(), TokenURL: p.GoogleTokenURL(), RevokeURL: p.GoogleRevokeURL(), APIURL: p.YouTubeAPIURL()},
		Twitch: oauth.App{ClientID: TwitchClientID, ClientSecret: TwitchClientSecret,
			AuthURL: p.TwitchAuthURL() + "/oauth2/authorize", TokenURL: p.TwitchAuthURL() + "/oauth2/token",
			RevokeURL: p.TwitchAuthURL() + "/oauth2/revoke", APIURL: p.TwitchAPIURL()},
	}
}

// SetTokenTTL sets the lifetime of the access tokens issued from now on.
func (p *Provider) SetTokenTTL(d time.Duration) {
	p.mu.Lock()
	p.ttl = d
	p.mu.Unlock()
}

// RefreshCount is how many refresh grants provider's token endpoint served.
func (p *Provider) RefreshCount(provider string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshes[provider]
}

// RevokedCount is how many of provider's tokens were revoked.
func (p *Provider) RevokedCount(provider string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, pr := range p.revoked {
		if pr == provider {
			n++
		}
	}
	return n
}

// StreamKey is the stream key the fake handed out for provider.
func (p *Provider) StreamKey(provider string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[provider]
}

// Bindings lists the liveBroadcasts.bind calls as "broadcast/stream".
func (p *Provider) Bindings() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.bound...)
}

// Refusals lists why the fake refused requests.
func (p *Provider) Refusals() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.failures...)
}

func (p *Provider) refuse(w http.ResponseWriter, status int, code, why string) {
	p.mu.Lock()
	p.failures = append(p.failures, why)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": why})
}

func random(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// authorize approves at once: it redirects to redirect_uri with a code
// bound to the client, the redirect URI and the S256 challenge.
func (p *Provider) authorize(provider, clientID string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("client_id") != clientID:
			p.refuse(w, 400, "invalid_client", "authorize: unknown client_id")
			return
		case q.Get("response_type") != "code":
			p.refuse(w, 400, "unsupported_response_type", "authorize: response_type is not code")
			return
		case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
			p.refuse(w, 400, "invalid_request", "authorize: no S256 code challenge")
			return
		case q.Get("state") == "" || q.Get("redirect_uri") == "":
			p.refuse(w, 400, "invalid_request", "authorize: no state or redirect_uri")
			return
		}
		code := random("code-")
		p.mu.Lock()
		p.codes[code] = grant{provider: provider, clientID: clientID, redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
		p.mu.Unlock()
		u, err := url.Parse(q.Get("redirect_uri"))
		if err != nil {
			p.refuse(w, 400, "invalid_request", "authorize: bad redirect_uri")
			return
		}
		back := u.Query()
		back.Set("code", code)
		back.Set("state", q.Get("state"))
		if provider == "twitch" {
			back.Set("scope", q.Get("scope"))
		}
		u.RawQuery = back.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
}

// token serves the authorization_code and refresh_token grants.
func (p *Provider) token(provider, clientID, secret string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			p.refuse(w, 400, "invalid_request", "token: bad form")
			return
		}
		id, sec := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		if u, pw, ok := r.BasicAuth(); ok {
			id, sec = u, pw
		}
		if id != clientID || sec != secret {
			p.refuse(w, 401, "invalid_client", "token: wrong client id or secret")
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		var refresh string
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			g, ok := p.codes[r.PostForm.Get("code")]
			delete(p.codes, r.PostForm.Get("code")) // single use, even when refused
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			switch {
			case !ok || g.provider != provider:
				p.unlockedRefuse(w, "token: unknown or used code")
				return
			case g.redirect != r.PostForm.Get("redirect_uri"):
				p.unlockedRefuse(w, "token: redirect_uri differs from the authorization's")
				return
			case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
				p.unlockedRefuse(w, "token: code_verifier does not match the challenge")
				return
			}
			refresh = random("refresh-")
			p.refresh[refresh] = tokenInfo{provider: provider}
		case "refresh_token":
			refresh = r.PostForm.Get("refresh_token")
			ti, ok := p.refresh[refresh]
			if !ok || ti.revoked || ti.provider != provider {
				p.unlockedRefuse(w, "token: unknown or revoked refresh token")
				return
			}
			p.refreshes[provider]++
		default:
			p.unlockedRefuse(w, "token: unsupported grant_type")
			return
		}
		p.n++
		access := fmt.Sprintf("access-%d-%s", p.n, random(""))
		p.access[access] = tokenInfo{provider: provider, expires: time.Now().Add(p.ttl), refresh: refresh}
		ans := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(p.ttl / time.Second)}
		if provider == "twitch" {
			ans["token_type"] = "bearer"
			ans["scope"] = []string{"channel:read:stream_key"}
			ans["refresh_token"] = refresh
		} else {
			ans["scope"] = "https://www.googleapis.com/auth/youtube"
			if r.PostForm.Get("grant_type") == "authorization_code" {
				ans["refresh_token"] = refresh // Google sends it only on the first exchange
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(ans)
	}
}

// unlockedRefuse is refuse for a caller holding the lock.
func (p *Provider) unlockedRefuse(w http.ResponseWriter, why string) {
	p.failures = append(p.failures, why)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(400)
	json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": why})
}

// revoke serves Google's /revoke (token=) and Twitch's /oauth2/revoke
// (client_id=, token=). Revoking a refresh token revokes its access
// tokens too.
func (p *Provider) revoke(provider string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			p.refuse(w, 400, "invalid_request", "revoke: bad form")
			return
		}
		if provider == "twitch" && r.PostForm.Get("client_id") != TwitchClientID {
			p.refuse(w, 400, "invalid_client", "revoke: wrong client_id")
			return
		}
		tok := r.PostForm.Get("token")
		p.mu.Lock()
		defer p.mu.Unlock()
		if ti, ok := p.access[tok]; ok && ti.provider == provider {
			ti.revoked = true
			p.access[tok] = ti
		} else if ti, ok := p.refresh[tok]; ok && ti.provider == provider {
			ti.revoked = true
			p.refresh[tok] = ti
			for a, ai := range p.access {
				if ai.refresh == tok {
					ai.revoked = true
					p.access[a] = ai
				}
			}
		} else {
			p.failures = append(p.failures, "revoke: unknown token")
			w.WriteHeader(400)
			return
		}
		p.revoked[tok] = provider
		w.WriteHeader(200)
	}
}

// api admits a call made with a live access token of provider (and, for
// Helix, the app's Client-Id).
func (p *Provider) api(provider string, serve func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		p.mu.Lock()
		ti, known := p.access[tok]
		p.mu.Unlock()
		switch {
		case !ok || !known || ti.provider != provider:
			p.refuse(w, 401, "unauthorized", r.URL.Path+": unknown access token")
			return
		case ti.revoked:
			p.refuse(w, 401, "unauthorized", r.URL.Path+": revoked access token")
			return
		case time.Now().After(ti.expires):
			p.refuse(w, 401, "unauthorized", r.URL.Path+": expired access token")
			return
		case provider == "twitch" && r.Header.Get("Client-Id") != TwitchClientID:
			p.refuse(w, 401, "unauthorized", r.URL.Path+": no or wrong Client-Id")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		serve(w, r)
	}
}

func (p *Provider) channels(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("mine") != "true" {
		p.refuse(w, 400, "invalid_request", "channels: not mine=true")
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"kind": "youtube#channelListResponse",
		"items": []any{map[string]any{"kind": "youtube#channel", "id": ChannelID, "snippet": map[string]any{"title": ChannelName}}}})
}

func (p *Provider) insertStream(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !strings.Contains(r.URL.Query().Get("part"), "cdn") {
		p.refuse(w, 400, "invalid_request", "liveStreams.insert: bad body or no cdn part")
		return
	}
	cdn, _ := in["cdn"].(map[string]any)
	if cdn == nil || cdn["ingestionType"] != "rtmp" {
		p.refuse(w, 400, "invalid_request", "liveStreams.insert: cdn.ingestionType is not rtmp")
		return
	}
	key := "abcd-efgh-ijkl-mnop-" + random("")[:4]
	p.mu.Lock()
	p.keys["youtube"] = key
	p.mu.Unlock()
	cdn["ingestionInfo"] = map[string]any{"streamName": key, "ingestionAddress": YouTubeIngest,
		"backupIngestionAddress": YouTubeIngest + "?backup=1", "rtmpsIngestionAddress": "rtmps://a.rtmps.youtube.com/live2"}
	in["id"], in["kind"] = random("stream"), "youtube#liveStream"
	json.NewEncoder(w).Encode(in)
}

func (p *Provider) insertBroadcast(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		p.refuse(w, 400, "invalid_request", "liveBroadcasts.insert: bad body")
		return
	}
	sn, _ := in["snippet"].(map[string]any)
	st, _ := in["status"].(map[string]any)
	if sn == nil || sn["scheduledStartTime"] == nil || st == nil || st["privacyStatus"] == nil {
		p.refuse(w, 400, "invalid_request", "liveBroadcasts.insert: no scheduledStartTime or privacyStatus")
		return
	}
	in["id"], in["kind"] = random("bc"), "youtube#liveBroadcast"
	json.NewEncoder(w).Encode(in)
}

func (p *Provider) bind(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("id") == "" || q.Get("streamId") == "" || q.Get("part") == "" {
		p.refuse(w, 400, "invalid_request", "liveBroadcasts.bind: no id, streamId or part")
		return
	}
	p.mu.Lock()
	p.bound = append(p.bound, q.Get("id")+"/"+q.Get("streamId"))
	p.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"kind": "youtube#liveBroadcast", "id": q.Get("id"),
		"contentDetails": map[string]any{"boundStreamId": q.Get("streamId")}})
}

func (p *Provider) users(w http.ResponseWriter, r *http.Request) {
	json.NewEncoder(w).Encode(map[string]any{"data": []any{map[string]any{"id": TwitchID, "login": TwitchLogin,
		"display_name": "FakeStreamer", "type": "", "broadcaster_type": ""}}})
}

func (p *Provider) streamKey(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("broadcaster_id") != TwitchID {
		p.refuse(w, 400, "invalid_request", "streams/key: broadcaster_id is not the token's user")
		return
	}
	key := "live_" + TwitchID + "_" + random("")[:20]
	p.mu.Lock()
	p.keys["twitch"] = key
	p.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"data": []any{map[string]any{"stream_key": key}}})
}
