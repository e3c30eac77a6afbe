package protocol

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/quic-go/quic-go"
)

// Edge identity messages. An edge without a certificate opens a connection
// whose first and only request is a join: its single-use join token, its
// node id and a certificate request. The answer is its client certificate
// and the CA bundle; every later connection presents that certificate
// (mutual TLS) and says hello without a token. Over such a connection the
// edge renews its certificate (before expiry, or after the cluster CA
// rotated) and learns the current CA bundle in each HelloReply.
const (
	TypeJoin             = "join"
	TypeRenewCertificate = "renew_certificate"
	// TypeWatchSigningKeys waits for a change to the cluster's playback
	// signing keys (one revoked or created): the push that makes a
	// revocation stop verifying on every edge within a second or two.
	TypeWatchSigningKeys = "watch_signing_keys"
)

// JoinRequest asks for an edge certificate with a join token.
type JoinRequest struct {
	JoinToken string `json:"join_token"`
	NodeID    string `json:"node_id"`
	CSRPEM    string `json:"csr_pem"`
}

// String formats the request without its join token.
func (r JoinRequest) String() string {
	return fmt.Sprintf("{NodeID:%s JoinToken:%s}", r.NodeID, redacted)
}

// LogValue keeps the join token out of structured logs.
func (r JoinRequest) LogValue() slog.Value { return slog.GroupValue(slog.String("node_id", r.NodeID)) }

// CertificateReply carries an edge certificate (PEM, signed by the CA that
// issues edge certificates now) and the bundle of CAs to trust for the
// control plane (PEM, one or, during a CA rotation, two).
type CertificateReply struct {
	CertificatePEM string `json:"certificate_pem"`
	CABundlePEM    string `json:"ca_bundle_pem"`
}

// RenewCertificateRequest asks for a new certificate for the edge's own
// node id, from the CA that issues them now.
type RenewCertificateRequest struct {
	CSRPEM string `json:"csr_pem"`
}

// WatchSigningKeysRequest waits up to WaitMS (at most 20 s) for the signing
// keys to differ from Revision ("" answers at once with the current set).
type WatchSigningKeysRequest struct {
	Revision string `json:"revision"`
	WaitMS   int64  `json:"wait_ms"`
}

// WatchSigningKeysReply is the cluster's current signing keys: the active
// ones with their orgs, and the ids of the revoked ones, which no edge may
// accept whatever it was told before.
type WatchSigningKeysReply struct {
	Revision string          `json:"revision"`
	Active   []OrgSigningKey `json:"active"`
	Revoked  []string        `json:"revoked"`
}

// OrgSigningKey is a signing key's public half with its org.
type OrgSigningKey struct {
	ID        string `json:"id"`
	OrgID     string `json:"org_id"`
	PublicPEM string `json:"public_pem"`
}

// RenewCertificate asks for a new certificate over the current connection.
func (c *Client) RenewCertificate(ctx context.Context, req RenewCertificateRequest) (CertificateReply, error) {
	var reply CertificateReply
	err := c.Call(ctx, TypeRenewCertificate, req, &reply)
	return reply, err
}

// WatchSigningKeys long-polls for a change of the signing keys.
func (c *Client) WatchSigningKeys(ctx context.Context, req WatchSigningKeysRequest) (WatchSigningKeysReply, error) {
	var reply WatchSigningKeysReply
	err := c.Call(ctx, TypeWatchSigningKeys, req, &reply)
	return reply, err
}

// Reconnect closes the current connection so the client dials again with
// a new handshake (a renewed certificate). Calls in flight on the old
// connection fail; later calls wait for the new one.
func (c *Client) Reconnect() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.CloseWithError(connClosed, "reconnecting")
	}
}

// Join trades a join token for an edge certificate: it tries addrs in order
// on one-request connections verified with tlsConf (normally
// pki.ClientTLSConfig pinned to the token's CA fingerprint). A refusal (a
// used, expired or revoked token, a node id another certificate owns) is
// returned at once as an *Error.
func Join(ctx context.Context, addrs []string, tlsConf *tls.Config, req JoinRequest) (CertificateReply, error) {
	if len(addrs) == 0 {
		return CertificateReply{}, errors.New("join: no control-plane addresses")
	}
	tlsConf = tlsConf.Clone()
	if len(tlsConf.NextProtos) == 0 {
		tlsConf.NextProtos = []string{ALPN}
	}
	c := &Client{cfg: ClientConfig{MaxFrame: frameLimit(0)}}
	qc := &quic.Config{MaxIdleTimeout: DefaultIdleTimeout, HandshakeIdleTimeout: DefaultDialTimeout,
		MaxIncomingStreams: -1, MaxIncomingUniStreams: -1}
	var lastErr error
	for _, addr := range addrs {
		reply, err := func() (CertificateReply, error) {
			dctx, cancel := context.WithTimeout(ctx, DefaultDialTimeout+DefaultRequestTimeout)
			defer cancel()
			conn, err := quic.DialAddr(dctx, addr, tlsConf, qc)
			if err != nil {
				return CertificateReply{}, fmt.Errorf("dial %s: %w", addr, err)
			}
			defer conn.CloseWithError(connClosed, "")
			var reply CertificateReply
			if err := c.roundTrip(dctx, conn, TypeJoin, req, &reply); err != nil {
				return CertificateReply{}, fmt.Errorf("join via %s: %w", addr, err)
			}
			return reply, nil
		}()
		if err == nil {
			return reply, nil
		}
		lastErr = err
		var perr *Error
		if errors.As(err, &perr) && permanent(perr.Code) {
			return CertificateReply{}, err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return CertificateReply{}, lastErr
}

// Disconnect closes the connections of the edges match selects (a removed
// node, a revoked certificate) and returns how many it closed. Their
// clients are refused at the next handshake.
func (s *Server) Disconnect(match func(Peer) bool) int {
	s.mu.Lock()
	var victims []*quic.Conn
	for c, p := range s.peers {
		if match(p) {
			victims = append(victims, c)
		}
	}
	s.mu.Unlock()
	for _, c := range victims {
		c.CloseWithError(connRefused, CodeUnauthorized)
	}
	return len(victims)
}

// joinTimeout bounds a join's handling (a Raft write included).
const joinTimeout = 15 * time.Second
