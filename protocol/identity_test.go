package protocol

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/pki"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestJoinThenMutualTLS: a join answers on its own connection; the
// certificate it returns authenticates the next connection over mutual
// TLS, and the handler sees it in the peer; Disconnect cuts the peer off.
func TestJoinThenMutualTLS(t *testing.T) {
	e := newTestEnv(t)
	seen := make(chan Peer, 1)
	srv, _ := e.startServer("127.0.0.1:0", "cp1", HandlerFunc(func(ctx context.Context, p Peer, typ string, body json.RawMessage) (any, error) {
		select {
		case seen <- p:
		default:
		}
		return nil, nil
	}), func(c *ServerConfig) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{e.cert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: e.ca.Pool(), MinVersion: tls.VersionTLS13}
		c.Authenticate = func(ctx context.Context, h Hello) (HelloReply, error) {
			if h.Certificate == nil {
				return HelloReply{}, &Error{Code: CodeUnauthorized, Message: "no client certificate"}
			}
			if id, err := pki.NodeID(h.Certificate); err != nil || id != h.NodeID {
				return HelloReply{}, &Error{Code: CodeForbidden, Message: "not your node id"}
			}
			return HelloReply{ClusterID: "cluster-1", CABundlePEM: string(pki.BundleOf(e.ca))}, nil
		}
		c.Join = func(ctx context.Context, r JoinRequest, remote net.Addr) (CertificateReply, error) {
			if r.JoinToken != e.token {
				return CertificateReply{}, &Error{Code: CodeUnauthorized, Message: "join token was already used"}
			}
			nc, err := e.ca.IssueNodeCert(r.CSRPEM, r.NodeID, time.Hour)
			if err != nil {
				return CertificateReply{}, &Error{Code: CodeInvalid, Message: err.Error()}
			}
			return CertificateReply{CertificatePEM: nc.CertPEM, CABundlePEM: string(pki.BundleOf(e.ca))}, nil
		}
	})
	addr := srv.Addr().String()
	key, _, _ := pki.NewNodeKey()
	csr, _ := pki.NewCSR(key, "edge-1")
	ctx := testutil.Context(t, 20*time.Second)
	pinned := pki.ClientTLSConfig(e.ca.Fingerprint(), ServerName)

	_, err := Join(ctx, []string{addr}, pinned, JoinRequest{JoinToken: "lsj_wrong", NodeID: "edge-1", CSRPEM: csr})
	if ErrorCode(err) != CodeUnauthorized {
		t.Fatalf("join with a wrong token: %v, want unauthorized", err)
	}
	reply, err := Join(ctx, []string{addr}, pinned, JoinRequest{JoinToken: e.token, NodeID: "edge-1", CSRPEM: csr})
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	leaf, err := pki.ParseCertPEM(reply.CertificatePEM)
	if err != nil {
		t.Fatal(err)
	}
	cert := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	conf := pki.EdgeTLSConfig(func() (*tls.Certificate, error) { return cert, nil }, func() pki.Bundle { return pki.Bundle(reply.CABundlePEM) })

	// Without a certificate the hello is refused.
	cfg := e.clientConfig("", addr)
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	if c, err := Dial(dctx, cfg); err == nil {
		c.Close()
		t.Fatal("a hello without a certificate was admitted")
	}
	cancel()

	cfg.TLS = conf
	var connects atomic.Int32
	cfg.OnConnect = func(r HelloReply) {
		connects.Add(1)
		if r.CABundlePEM == "" {
			t.Error("hello reply without the CA bundle")
		}
	}
	c := e.dial(cfg)
	if err := c.Call(ctx, "anything", nil, nil); err != nil {
		t.Fatal(err)
	}
	p := <-seen
	if p.Hello.Certificate == nil || pki.Serial(p.Hello.Certificate) != pki.Serial(leaf) {
		t.Fatalf("handler's peer has certificate %v, want the edge's", p.Hello.Certificate)
	}
	if n := connects.Load(); n != 1 {
		t.Fatalf("OnConnect called %d times, want 1", n)
	}
	if n := srv.Disconnect(func(p Peer) bool { return p.Hello.NodeID == "edge-1" }); n != 1 {
		t.Fatalf("Disconnect closed %d connections, want 1", n)
	}
	// The client reconnects on its own (its certificate is still good here).
	testutil.Until(t, 10*time.Second, "a call after the disconnect", func() error {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		defer ccancel()
		return c.Call(cctx, "anything", nil, nil)
	})
}
