package server

import "github.com/livestreams/livestreams/controlplane/oauth"

// oauthService is the account linking of this node: the providers send
// the browser back to --public-url, or without one to the URL the start
// request came in by.
func (s *Server) oauthService() *oauth.Service {
	cfg := s.cfg.OAuth
	if cfg.PublicURL == "" {
		cfg.PublicURL = s.cfg.PublicURL
	}
	return oauth.New(cfg)
}
