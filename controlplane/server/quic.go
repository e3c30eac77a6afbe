package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/livestreams/livestreams/controlplane/analytics"
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

// serveQUIC runs the edge endpoint with a certificate from the cluster CA.
func (s *Server) serveQUIC(ctx context.Context) error {
	m, err := s.waitMeta(ctx)
	if err != nil {
		return nil // shutting down before the cluster was initialized
	}
	ca := pki.CA{CertPEM: m.CACertPEM, KeyPEM: m.CAKeyPEM}
	names := []string{protocol.ServerName}
	if h, _, err := net.SplitHostPort(s.quicAddr); err == nil && h != "" {
		names = append(names, h)
	}
	if s.cfg.AdvertiseHost != "" {
		names = append(names, s.cfg.AdvertiseHost)
	}
	cert, err := ca.IssueServerCert(names, 365*24*time.Hour)
	if err != nil {
		return fmt.Errorf("issue control-plane certificate: %w", err)
	}
	svc := edgeapi.New(edgeapi.Config{Node: s.node, Logger: s.cfg.Logger, LeaseTTL: s.cfg.EdgeLeaseTTL, Jobs: s.jobs,
		Analytics: analytics.New(analytics.Config{Node: s.node, Logger: s.cfg.Logger})})
	qs, err := protocol.NewServer(protocol.ServerConfig{
		PacketConn:   s.quicConn,
		TLS:          &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
		Logger:       s.cfg.Logger,
		Authenticate: svc.Authenticate,
		Handler:      svc,
	})
	if err != nil {
		return fmt.Errorf("edge endpoint: %w", err)
	}
	s.log.Info("edge endpoint listening", "addr", s.quicAddr)
	return qs.Serve(ctx)
}

// QUICAddr is the address edges dial.
func (s *Server) QUICAddr() string { return s.quicAddr }

// CreateJoinToken mints an edge join token; the plaintext is returned once
// and only its hash is kept.
func (s *Server) CreateJoinToken(ctx context.Context, description string) (string, error) {
	m, err := s.waitMeta(ctx)
	if err != nil {
		return "", err
	}
	ca := pki.CA{CertPEM: m.CACertPEM, KeyPEM: m.CAKeyPEM}
	tok, plain, err := pki.NewJoinToken(ca.Fingerprint())
	if err != nil {
		return "", err
	}
	j := state.JoinToken{ID: tok.ID, SecretHash: tok.SecretHash, CAFingerprint: tok.CAFingerprint,
		Description: description, CreatedAt: time.Now().UTC()}
	if _, err := s.node.Apply(ctx, fsm.CmdPutJoinToken, j); err != nil {
		return "", fmt.Errorf("store join token: %w", err)
	}
	return plain, nil
}
