package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/livestreams/livestreams/controlplane/analytics"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/edgeapi"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/pki"
)

func newClusterCA(clusterID string) (pki.CA, error) { return pki.NewCA(clusterID) }

// waitMeta blocks until the cluster meta (CA, secrets) has reached this
// node's state: at once on the bootstrap node, after catch-up on joiners.
func (s *Server) waitMeta(ctx context.Context) (state.Meta, error) {
	for {
		var m state.Meta
		var ok bool
		s.node.Store().View(func(tx *state.Tx) error { m, ok, _ = tx.Meta(); return nil })
		if ok {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// serveQUIC runs the edge endpoint: mutual TLS with the cluster's CAs,
// certificates from the CA edges already trust, and removed edges cut off.
func (s *Server) serveQUIC(ctx context.Context) error {
	if _, err := s.waitMeta(ctx); err != nil {
		return nil // shutting down before the cluster was initialized
	}
	names := []string{protocol.ServerName}
	if h, _, err := net.SplitHostPort(s.quicAddr); err == nil && h != "" {
		names = append(names, h)
	}
	if s.cfg.AdvertiseHost != "" {
		names = append(names, s.cfg.AdvertiseHost)
	}
	creds := &edgeTLS{store: s.node.Store(), names: names}
	if _, err := creds.config(); err != nil {
		return fmt.Errorf("edge endpoint: %w", err)
	}
	svc := edgeapi.New(edgeapi.Config{Node: s.node, Logger: s.cfg.Logger, LeaseTTL: s.cfg.EdgeLeaseTTL, Jobs: s.jobs,
		Analytics: analytics.New(analytics.Config{Node: s.node, Logger: s.cfg.Logger}), Progress: s.progress})
	for _, c := range svc.Collectors() {
		if err := s.metrics.Register(c); err == nil {
			defer s.metrics.Unregister(c)
		}
	}
	qs, err := protocol.NewServer(protocol.ServerConfig{
		PacketConn: s.quicConn,
		TLS: &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{protocol.ALPN},
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return creds.config() }},
		Logger:       s.cfg.Logger,
		Authenticate: svc.Authenticate,
		Join:         svc.Join,
		Handler:      svc,
	})
	if err != nil {
		return fmt.Errorf("edge endpoint: %w", err)
	}
	s.log.Info("edge endpoint listening", "addr", s.quicAddr)
	var wg sync.WaitGroup
	defer wg.Wait()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { s.cutOffRevoked(rctx, qs) })
	return qs.Serve(ctx)
}

// revokedPoll is how often connected edges are checked against the
// certificate table, so `node remove` cuts an edge off within it.
const revokedPoll = 250 * time.Millisecond

// cutOffRevoked closes the connections of edges whose certificate is no
// longer the current one of their node (removed, or replaced by a
// renewal that the edge then reconnects with).
func (s *Server) cutOffRevoked(ctx context.Context, qs *protocol.Server) {
	t := time.NewTicker(revokedPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		current := map[string]string{}
		s.node.Store().View(func(tx *state.Tx) error {
			certs, err := tx.NodeCerts()
			for _, c := range certs {
				if c.RevokedAt == nil {
					current[c.NodeID] = c.Serial
				}
			}
			return err
		})
		n := qs.Disconnect(func(p protocol.Peer) bool {
			return p.Hello.Certificate == nil || current[p.Hello.NodeID] != pki.Serial(p.Hello.Certificate)
		})
		if n > 0 {
			s.log.Info("edges cut off: certificate revoked or replaced", "connections", n)
		}
	}
}

// edgeTLS builds the endpoint's TLS configuration from the trusted CAs in
// the state, again whenever they change (a CA rotation): client
// certificates from any trusted CA are verified at the handshake, and the
// server certificate comes from the CA every edge already trusts.
type edgeTLS struct {
	store *state.Store
	names []string

	mu     sync.Mutex
	bundle pki.Bundle
	conf   *tls.Config
}

func (e *edgeTLS) config() (*tls.Config, error) {
	trust, err := edgeapi.LoadTrust(e.store)
	if err != nil {
		return nil, err
	}
	bundle := trust.Bundle()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conf != nil && e.bundle == bundle {
		return e.conf, nil
	}
	cert, err := trust.Serving().IssueServerCert(e.names, 365*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("issue control-plane certificate: %w", err)
	}
	e.conf = &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{protocol.ALPN},
		MinVersion:   tls.VersionTLS13,
		// Joining edges have no certificate yet; the hello refuses any
		// other request without one.
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  bundle.Pool(),
	}
	e.bundle = bundle
	return e.conf, nil
}

// QUICAddr is the address edges dial.
func (s *Server) QUICAddr() string { return s.quicAddr }

// DefaultJoinTokenTTL is how long a join token lasts unless told.
const DefaultJoinTokenTTL = time.Hour

// CreateJoinToken mints a single-use edge join token valid for
// DefaultJoinTokenTTL; the plaintext is returned once and only its hash is
// kept.
func (s *Server) CreateJoinToken(ctx context.Context, description string) (string, error) {
	tok, err := s.NewJoinToken(ctx, description, 0)
	return tok.Token, err
}

// NewJoinToken mints a single-use edge join token valid for ttl
// (DefaultJoinTokenTTL if zero). It pins the CA that signs the control
// plane's certificate, the one a new edge will see.
func (s *Server) NewJoinToken(ctx context.Context, description string, ttl time.Duration) (client.JoinToken, error) {
	if _, err := s.waitMeta(ctx); err != nil {
		return client.JoinToken{}, err
	}
	if ttl <= 0 {
		ttl = DefaultJoinTokenTTL
	}
	trust, err := edgeapi.LoadTrust(s.node.Store())
	if err != nil {
		return client.JoinToken{}, err
	}
	tok, plain, err := pki.NewJoinToken(trust.Serving().Fingerprint())
	if err != nil {
		return client.JoinToken{}, err
	}
	now := time.Now().UTC()
	j := state.JoinToken{ID: tok.ID, SecretHash: tok.SecretHash, CAFingerprint: tok.CAFingerprint,
		Description: description, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if _, err := s.node.Apply(ctx, fsm.CmdPutJoinToken, j); err != nil {
		return client.JoinToken{}, fmt.Errorf("store join token: %w", err)
	}
	return client.JoinToken{Token: plain, ID: j.ID, ExpiresAt: j.ExpiresAt}, nil
}
