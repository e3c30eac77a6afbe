package oauth

import (
	"context"
	"fmt"
	"net/url"

	"golang.org/x/oauth2"
)

// The Helix answers this package reads, as documented (only the fields
// used).
type (
	twitchUsers struct {
		Data []struct {
			ID          string `json:"id"`
			Login       string `json:"login"`
			DisplayName string `json:"display_name"`
		} `json:"data"`
	}
	twitchStreamKey struct {
		Data []struct {
			StreamKey string `json:"stream_key"`
		} `json:"data"`
	}
)

// twitchUser is GET /helix/users without parameters: the user the token
// acts for.
func (s *Service) twitchUser(ctx context.Context, p *provider, tok *oauth2.Token) (Account, error) {
	var u twitchUsers
	if err := s.call(ctx, p, tok, "GET", "/users", nil, nil, &u); err != nil {
		return Account{}, err
	}
	if len(u.Data) == 0 || u.Data[0].ID == "" {
		return Account{}, fmt.Errorf("twitch users: no user for the token: %w", ErrRefused)
	}
	return Account{ID: u.Data[0].ID, Name: u.Data[0].Login}, nil
}

// twitchIngest reads the channel's stream key (GET /helix/streams/key,
// scope channel:read:stream_key) and pairs it with the configured ingest
// server.
func (s *Service) twitchIngest(ctx context.Context, p *provider, tok *oauth2.Token) (Ingest, error) {
	acct, err := s.twitchUser(ctx, p, tok)
	if err != nil {
		return Ingest{}, err
	}
	var k twitchStreamKey
	if err := s.call(ctx, p, tok, "GET", "/streams/key", url.Values{"broadcaster_id": {acct.ID}}, nil, &k); err != nil {
		return Ingest{}, err
	}
	if len(k.Data) == 0 || k.Data[0].StreamKey == "" {
		return Ingest{}, fmt.Errorf("twitch streams/key: answer without a stream key")
	}
	return Ingest{URL: s.cfg.TwitchIngest, Key: k.Data[0].StreamKey}, nil
}
