// Package oauth links creators' accounts at streaming providers (YouTube,
// through Google's OAuth server, and Twitch) and acts for them: the
// authorization code flow with PKCE (S256), token refresh and revocation,
// and the provider API calls that give a restream target its ingest URL
// and stream key. It keeps nothing: the API stores the state parameter,
// the verifier and the tokens (sealed) through Raft, so the callback may
// land on any control-plane node. Every base URL is configurable, so tests
// run the whole flow against a provider on loopback (package oauthtest).
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Provider names, as in /v1/oauth/{provider}/… and the linked accounts.
const (
	YouTube = "youtube"
	Twitch  = "twitch"
)

// Default endpoints of the real providers.
const (
	GoogleAuthURL      = "https://accounts.google.com/o/oauth2/v2/auth"
	GoogleTokenURL     = "https://oauth2.googleapis.com/token"
	GoogleRevokeURL    = "https://oauth2.googleapis.com/revoke"
	YouTubeAPIURL      = "https://www.googleapis.com/youtube/v3"
	TwitchAuthBase     = "https://id.twitch.tv"
	TwitchAPIURL       = "https://api.twitch.tv/helix"
	TwitchIngestURL    = "rtmp://live.twitch.tv/app"
	youtubeScope       = "https://www.googleapis.com/auth/youtube"
	twitchScope        = "channel:read:stream_key"
	maxProviderAnswer  = 1 << 20
	providerAPITimeout = 20 * time.Second
)

// Errors callers map to answers.
var (
	// ErrUnknownProvider is a provider name other than youtube or twitch.
	ErrUnknownProvider = errors.New("unknown provider")
	// ErrNotConfigured is a provider the operator registered no app for.
	ErrNotConfigured = errors.New("provider not configured")
	// ErrRefused is the provider refusing a code, a token or a call
	// (an answer in 4xx): the user must link again or grant more.
	ErrRefused = errors.New("refused by the provider")
)

// App is the operator's OAuth app at one provider and where it lives.
type App struct {
	ClientID, ClientSecret string
	AuthURL, TokenURL      string
	RevokeURL              string
	// APIURL is the provider API's base: YouTube Data API v3 or Helix.
	APIURL string
}

// Config configures the service.
type Config struct {
	// PublicURL is the control plane's base URL as browsers reach it:
	// the redirect URI is PublicURL/v1/oauth/{provider}/callback. Empty
	// leaves the base to the caller (RedirectURI), which records the URI
	// with the state so the exchange sends the same one.
	PublicURL string
	// YouTube and Twitch are the apps; one without a client id is off.
	YouTube, Twitch App
	// TwitchIngest is the RTMP base a Twitch target publishes to (the
	// stream key is appended); default TwitchIngestURL.
	TwitchIngest string
	// HTTPClient talks to the providers; nil means one with a timeout.
	HTTPClient *http.Client
	Now        func() time.Time
}

// Service is the providers the operator configured.
type Service struct {
	cfg       Config
	providers map[string]*provider
}

type provider struct {
	name      string
	oauth     oauth2.Config
	revokeURL string
	apiURL    string
	clientID  string
}

// New returns the service; a provider without a client id stays off.
func New(cfg Config) *Service {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: providerAPITimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TwitchIngest == "" {
		cfg.TwitchIngest = TwitchIngestURL
	}
	s := &Service{cfg: cfg, providers: map[string]*provider{}}
	add := func(name string, a App, scope string, def App) {
		if a.ClientID == "" {
			return
		}
		a = a.orDefaults(def)
		s.providers[name] = &provider{
			name: name, revokeURL: a.RevokeURL, apiURL: strings.TrimRight(a.APIURL, "/"), clientID: a.ClientID,
			oauth: oauth2.Config{
				ClientID: a.ClientID, ClientSecret: a.ClientSecret,
				Endpoint: oauth2.Endpoint{AuthURL: a.AuthURL, TokenURL: a.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
				Scopes:   []string{scope},
			},
		}
	}
	add(YouTube, cfg.YouTube, youtubeScope, App{AuthURL: GoogleAuthURL, TokenURL: GoogleTokenURL,
		RevokeURL: GoogleRevokeURL, APIURL: YouTubeAPIURL})
	add(Twitch, cfg.Twitch, twitchScope, App{AuthURL: TwitchAuthBase + "/oauth2/authorize",
		TokenURL: TwitchAuthBase + "/oauth2/token", RevokeURL: TwitchAuthBase + "/oauth2/revoke", APIURL: TwitchAPIURL})
	return s
}

func (a App) orDefaults(d App) App {
	if a.AuthURL == "" {
		a.AuthURL = d.AuthURL
	}
	if a.TokenURL == "" {
		a.TokenURL = d.TokenURL
	}
	if a.RevokeURL == "" {
		a.RevokeURL = d.RevokeURL
	}
	if a.APIURL == "" {
		a.APIURL = d.APIURL
	}
	return a
}

// Providers lists the configured providers' names, sorted.
func (s *Service) Providers() []string {
	var out []string
	for n := range s.providers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *Service) provider(name string) (*provider, error) {
	if name != YouTube && name != Twitch {
		return nil, fmt.Errorf("%q: %w", name, ErrUnknownProvider)
	}
	if s == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNotConfigured)
	}
	p := s.providers[name]
	if p == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNotConfigured)
	}
	return p, nil
}

// Configured returns nil for a provider the operator registered an app
// for, else ErrUnknownProvider or ErrNotConfigured.
func (s *Service) Configured(name string) error {
	_, err := s.provider(name)
	return err
}

// RedirectURI is the callback URI of provider name: under the configured
// public URL, else under base (the URL the request came in by).
func (s *Service) RedirectURI(name, base string) string {
	if s != nil && s.cfg.PublicURL != "" {
		base = s.cfg.PublicURL
	}
	return strings.TrimRight(base, "/") + "/v1/oauth/" + url.PathEscape(name) + "/callback"
}

// NewVerifier returns a fresh PKCE code verifier.
func NewVerifier() string { return oauth2.GenerateVerifier() }

// AuthURL is where the user's browser goes to grant access: the
// provider's consent page with state, the S256 challenge of verifier and
// the redirect URI (which the exchange must send again).
func (s *Service) AuthURL(name, state, verifier, redirectURI string) (string, error) {
	p, err := s.provider(name)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("redirect_uri", redirectURI)}
	if name == YouTube {
		// A refresh token is issued only with offline access, and again
		// on a re-link only when consent is asked again.
		opts = append(opts, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	return p.oauth.AuthCodeURL(state, opts...), nil
}

// Account is who a token acts for at the provider.
type Account struct {
	ID, Name string
}

// Exchange trades the callback's code (with the verifier and redirect URI
// of its state) for a token and asks the provider whose account it is.
func (s *Service) Exchange(ctx context.Context, name, code, verifier, redirectURI string) (*oauth2.Token, Account, error) {
	p, err := s.provider(name)
	if err != nil {
		return nil, Account{}, err
	}
	tok, err := p.oauth.Exchange(s.ctx(ctx), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("redirect_uri", redirectURI))
	if err != nil {
		return nil, Account{}, fmt.Errorf("exchange %s code: %w", name, tokenError(err))
	}
	acct, err := s.account(ctx, p, tok)
	if err != nil {
		return nil, Account{}, err
	}
	return tok, acct, nil
}

// Fresh returns tok while it is valid, else a refreshed token; refreshed
// says the caller must store the new one.
func (s *Service) Fresh(ctx context.Context, name string, tok *oauth2.Token) (fresh *oauth2.Token, refreshed bool, err error) {
	p, err := s.provider(name)
	if err != nil {
		return nil, false, err
	}
	if tok.Valid() {
		return tok, false, nil
	}
	if tok.RefreshToken == "" {
		return nil, false, fmt.Errorf("refresh %s token: expired and no refresh token: %w", name, ErrRefused)
	}
	nt, err := p.oauth.TokenSource(s.ctx(ctx), tok).Token()
	if err != nil {
		return nil, false, fmt.Errorf("refresh %s token: %w", name, tokenError(err))
	}
	return nt, nt.AccessToken != tok.AccessToken, nil
}

// Revoke revokes a token at the provider: Google's revoke endpoint (the
// refresh token, which takes its access tokens with it), Twitch's
// POST /oauth2/revoke (the access token).
func (s *Service) Revoke(ctx context.Context, name string, tok *oauth2.Token) error {
	p, err := s.provider(name)
	if err != nil {
		return err
	}
	form := url.Values{}
	switch name {
	case YouTube:
		t := tok.RefreshToken
		if t == "" {
			t = tok.AccessToken
		}
		form.Set("token", t)
	case Twitch:
		form.Set("client_id", p.clientID)
		form.Set("token", tok.AccessToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.revokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revoke %s token: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("revoke %s token: %w", name, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxProviderAnswer))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("revoke %s token: status %d: %w", name, resp.StatusCode, statusError(resp.StatusCode))
	}
	return nil
}

// Ingest is where a restream target publishes for a linked account.
type Ingest struct {
	// URL is the RTMP(S) base, Key the stream key appended to it.
	URL, Key string
	// StreamID and BroadcastID are YouTube's liveStream and the
	// liveBroadcast bound to it ("" for Twitch).
	StreamID, BroadcastID string
}

// Ingest asks the provider, as the account of tok, where to publish a
// stream titled title.
func (s *Service) Ingest(ctx context.Context, name string, tok *oauth2.Token, title string) (Ingest, error) {
	p, err := s.provider(name)
	if err != nil {
		return Ingest{}, err
	}
	switch name {
	case YouTube:
		return s.youtubeIngest(ctx, p, tok, title)
	default:
		return s.twitchIngest(ctx, p, tok)
	}
}

func (s *Service) account(ctx context.Context, p *provider, tok *oauth2.Token) (Account, error) {
	if p.name == YouTube {
		return s.youtubeChannel(ctx, p, tok)
	}
	return s.twitchUser(ctx, p, tok)
}

// ctx carries the HTTP client the oauth2 package uses.
func (s *Service) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)
}

// Scopes returns the scopes a token answer granted: Google sends a
// space-separated string, Twitch a JSON array.
func Scopes(tok *oauth2.Token) []string {
	switch v := tok.Extra("scope").(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// call makes one provider API request as tok and decodes the JSON answer
// into out (when not nil). Errors name the call and status, never the
// token.
func (s *Service) call(ctx context.Context, p *provider, tok *oauth2.Token, method, path string, q url.Values, body, out any) error {
	u := p.apiURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s %s: %w", p.name, method, path, err)
		}
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", p.name, method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.name == Twitch {
		req.Header.Set("Client-Id", p.clientID)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", p.name, method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderAnswer))
	if err != nil {
		return fmt.Errorf("%s %s %s: read answer: %w", p.name, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s %s: status %d: %w", p.name, method, path, resp.StatusCode, statusError(resp.StatusCode))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s %s: decode answer: %w", p.name, method, path, err)
	}
	return nil
}

// tokenError maps a token endpoint failure: a 4xx answer (bad code, bad
// verifier, revoked refresh token) is ErrRefused with the provider's
// error code; anything else is passed on without the answer's body.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		if re.Response.StatusCode/100 == 4 {
			if re.ErrorCode != "" {
				return fmt.Errorf("%s: %w", re.ErrorCode, ErrRefused)
			}
			return fmt.Errorf("status %d: %w", re.Response.StatusCode, ErrRefused)
		}
		return fmt.Errorf("token endpoint status %d", re.Response.StatusCode)
	}
	return err
}

func statusError(code int) error {
	if code/100 == 4 {
		return ErrRefused
	}
	return errors.New("provider error")
}
