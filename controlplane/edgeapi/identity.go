package edgeapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/pki"
)

// Trust is the cluster's CAs as this node's state has them: Current issues
// edge certificates; Retiring are still trusted while a rotation runs.
type Trust struct {
	Current  pki.CA
	Retiring []pki.CA
}

// Bundle is every trusted CA, current first.
func (t Trust) Bundle() pki.Bundle {
	return pki.BundleOf(append([]pki.CA{t.Current}, t.Retiring...)...)
}

// Serving is the CA that signs the control plane's own certificate: the
// oldest still trusted, because an edge that has not reconnected since a
// rotation began knows only that one.
func (t Trust) Serving() pki.CA {
	if len(t.Retiring) > 0 {
		return t.Retiring[0]
	}
	return t.Current
}

// LoadTrust reads the trusted CAs from the state.
func LoadTrust(store *state.Store) (Trust, error) {
	var t Trust
	err := store.View(func(tx *state.Tx) error {
		m, ok, err := tx.Meta()
		if err != nil {
			return err
		}
		if !ok {
			return &protocol.Error{Code: protocol.CodeUnavailable, Message: "cluster is not initialized yet"}
		}
		t.Current = pki.CA{CertPEM: m.CACertPEM, KeyPEM: m.CAKeyPEM}
		old, err := tx.RetiringCAs()
		for _, o := range old {
			t.Retiring = append(t.Retiring, pki.CA{CertPEM: o.CertPEM, KeyPEM: o.KeyPEM})
		}
		return err
	})
	return t, err
}

func (s *Service) trust() (Trust, error) { return LoadTrust(s.cfg.Node.Store()) }

func unauthorized(msg string) error {
	return &protocol.Error{Code: protocol.CodeUnauthorized, Message: msg}
}

// Join spends a single-use join token on an edge's first certificate: the
// token must be known, unused, unrevoked and unexpired, and the node id
// must not be owned by another certificate. The token is consumed through
// Raft, so two edges racing with one token cannot both join.
func (s *Service) Join(ctx context.Context, r protocol.JoinRequest, remote net.Addr) (protocol.CertificateReply, error) {
	log := s.log.With("node_id", r.NodeID, "remote_addr", addrString(remote))
	id, secret, _, err := pki.ParseJoinToken(r.JoinToken)
	if err != nil {
		log.Warn("join refused: malformed join token")
		return protocol.CertificateReply{}, unauthorized("invalid join token")
	}
	if err := validNodeID(r.NodeID); err != nil {
		return protocol.CertificateReply{}, err
	}
	now := s.cfg.Now().UTC()
	var jt state.JoinToken
	var owner state.NodeCert
	var owned bool
	s.view(func(tx *state.Tx) error {
		jt, err = tx.JoinToken(id)
		if c, cerr := tx.NodeCert(r.NodeID); cerr == nil && c.Owns(now) {
			owner, owned = c, true
		}
		return nil
	})
	tok := pki.JoinToken{ID: jt.ID, SecretHash: jt.SecretHash, CAFingerprint: jt.CAFingerprint}
	if err != nil || !tok.Check(secret) {
		log.Warn("join refused: unknown join token", "token_id", id)
		return protocol.CertificateReply{}, unauthorized("invalid join token")
	}
	if why := jt.Usable(now); why != "" {
		log.Warn("join refused", "token_id", id, "reason", why)
		return protocol.CertificateReply{}, unauthorized(why)
	}
	if owned {
		log.Warn("join refused: node id is owned by another certificate", "token_id", id, "owner_serial", owner.Serial)
		return protocol.CertificateReply{}, nodeOwned(r.NodeID)
	}
	trust, err := s.trust()
	if err != nil {
		return protocol.CertificateReply{}, err
	}
	cert, err := trust.Current.IssueNodeCert(r.CSRPEM, r.NodeID, s.cfg.CertTTL)
	if err != nil {
		return protocol.CertificateReply{}, &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
	}
	rec := state.NodeCert{NodeID: r.NodeID, Serial: cert.Serial, CAFingerprint: trust.Current.Fingerprint(),
		IssuedAt: now, ExpiresAt: cert.NotAfter.UTC()}
	if _, err := s.cfg.Node.Apply(ctx, fsm.CmdConsumeJoinToken, fsm.ConsumeJoinToken{TokenID: jt.ID,
		SecretHash: jt.SecretHash, Cert: rec, At: now}); err != nil {
		var se *state.Error
		if errors.As(err, &se) {
			log.Warn("join refused", "token_id", id, "reason", se.Message)
			if se.Code == state.CodeConflict {
				return protocol.CertificateReply{}, nodeOwned(r.NodeID)
			}
			return protocol.CertificateReply{}, unauthorized(se.Message)
		}
		return protocol.CertificateReply{}, fmt.Errorf("consume join token: %w", err)
	}
	log.Info("edge joined", "token_id", id, "serial", cert.Serial)
	return protocol.CertificateReply{CertificatePEM: cert.CertPEM, CABundlePEM: string(trust.Bundle())}, nil
}

func nodeOwned(id string) error {
	return &protocol.Error{Code: protocol.CodeConflict,
		Message: fmt.Sprintf("node id %s is owned by another certificate; `livestreams node remove %s` first if that edge is gone", id, id)}
}

func validNodeID(id string) error {
	if id == "" || len(id) > 128 || strings.ContainsAny(id, "/ \t\r\n") {
		return &protocol.Error{Code: protocol.CodeInvalid, Message: "edge node id must be 1-128 characters without spaces or slashes"}
	}
	return nil
}

// identify checks the connection's client certificate against the state:
// trusted CA, bound to the node id the edge claims, and the current,
// unrevoked certificate of that node id. It returns the certificate record.
func (s *Service) identify(h protocol.Hello) (state.NodeCert, Trust, error) {
	c := h.Certificate
	if c == nil {
		return state.NodeCert{}, Trust{}, unauthorized("no client certificate: an edge joins once with a single-use join token (--join-token-file) and authenticates with its certificate afterwards")
	}
	trust, err := s.trust()
	if err != nil {
		return state.NodeCert{}, Trust{}, err
	}
	now := s.cfg.Now()
	id, err := pki.VerifyNodeCert(c, trust.Bundle(), now)
	if err != nil {
		return state.NodeCert{}, trust, unauthorized("client certificate not trusted")
	}
	if h.NodeID != id {
		s.log.Warn("edge refused: certificate claims another node id", "cert_node_id", id, "claimed_node_id", h.NodeID)
		return state.NodeCert{}, trust, &protocol.Error{Code: protocol.CodeForbidden, Message: "node id " + h.NodeID + " is not the one in this certificate"}
	}
	var rec state.NodeCert
	err = s.view(func(tx *state.Tx) error { var err error; rec, err = tx.NodeCert(id); return err })
	if err != nil || rec.Serial != pki.Serial(c) || rec.RevokedAt != nil {
		s.log.Warn("edge refused: certificate revoked or replaced", "node_id", id, "serial", pki.Serial(c))
		return state.NodeCert{}, trust, unauthorized("certificate revoked or replaced (`livestreams node remove`); this edge must join again with a new join token")
	}
	return rec, trust, nil
}

// stillValid is checked on every request, so a removed node is cut off
// even before its connection is closed.
func (s *Service) stillValid(peer protocol.Peer) error {
	c := peer.Hello.Certificate
	if c == nil {
		return unauthorized("no client certificate")
	}
	var rec state.NodeCert
	err := s.view(func(tx *state.Tx) error { var err error; rec, err = tx.NodeCert(peer.Hello.NodeID); return err })
	if err != nil || rec.Serial != pki.Serial(c) || rec.RevokedAt != nil {
		return unauthorized("certificate revoked or replaced")
	}
	return nil
}

// needsRenewal: from a retiring CA, or past two thirds of its life.
func needsRenewal(rec state.NodeCert, trust Trust, now time.Time) bool {
	if rec.CAFingerprint != trust.Current.Fingerprint() {
		return true
	}
	life := rec.ExpiresAt.Sub(rec.IssuedAt)
	return rec.ExpiresAt.Sub(now) < life/3
}

// renewCertificate issues the calling edge a new certificate from the
// current CA and makes it the one that owns the node id.
func (s *Service) renewCertificate(ctx context.Context, peer protocol.Peer, r protocol.RenewCertificateRequest) (any, error) {
	c := peer.Hello.Certificate
	trust, err := s.trust()
	if err != nil {
		return nil, err
	}
	cert, err := trust.Current.IssueNodeCert(r.CSRPEM, peer.Hello.NodeID, s.cfg.CertTTL)
	if err != nil {
		return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
	}
	now := s.cfg.Now().UTC()
	rec := state.NodeCert{NodeID: peer.Hello.NodeID, Serial: cert.Serial, CAFingerprint: trust.Current.Fingerprint(),
		IssuedAt: now, ExpiresAt: cert.NotAfter.UTC()}
	if _, err := s.cfg.Node.Apply(ctx, fsm.CmdRenewNodeCert, fsm.RenewNodeCert{OldSerial: pki.Serial(c), Cert: rec}); err != nil {
		var se *state.Error
		if errors.As(err, &se) {
			return nil, unauthorized(se.Message)
		}
		return nil, fmt.Errorf("renew certificate: %w", err)
	}
	s.log.Info("edge certificate renewed", "node_id", peer.Hello.NodeID, "serial", cert.Serial, "ca", trust.Current.Fingerprint()[:16])
	return protocol.CertificateReply{CertificatePEM: cert.CertPEM, CABundlePEM: string(trust.Bundle())}, nil
}

// certOrders tells a connected edge to trust a new bundle and renew,
// while a rotation runs or its certificate is due.
func (s *Service) certOrders(peer protocol.Peer, reply *protocol.HeartbeatReply) {
	trust, err := s.trust()
	if err != nil {
		return
	}
	var rec state.NodeCert
	if s.view(func(tx *state.Tx) error { var err error; rec, err = tx.NodeCert(peer.Hello.NodeID); return err }) != nil {
		return
	}
	renew := needsRenewal(rec, trust, s.cfg.Now())
	if renew || len(trust.Retiring) > 0 {
		reply.CABundlePEM, reply.RenewCertificate = string(trust.Bundle()), renew
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
