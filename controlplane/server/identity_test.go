package server

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/pki"
	"github.com/livestreams/livestreams/shared/testutil"
)

// testEdge is an edge's identity as edgenode/edge keeps it: a key, the
// certificate the cluster issued for it, and the CAs it trusts.
type testEdge struct {
	id  string
	key crypto.Signer
	// refusalExpected shortens the dial: a refused handshake is retried
	// until the deadline.
	refusalExpected bool

	mu     sync.Mutex
	cert   *tls.Certificate
	bundle pki.Bundle
}

// joinAs trades a join token for a certificate for node id.
func joinAs(srv *Server, id, joinToken string) (*testEdge, error) {
	_, _, caFP, err := pki.ParseJoinToken(joinToken)
	if err != nil {
		return nil, err
	}
	key, _, err := pki.NewNodeKey()
	if err != nil {
		return nil, err
	}
	e := &testEdge{id: id, key: key}
	csr, err := pki.NewCSR(key, id)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := protocol.Join(ctx, []string{srv.QUICAddr()}, pki.ClientTLSConfig(caFP, pki.ControlServerName),
		protocol.JoinRequest{JoinToken: joinToken, NodeID: id, CSRPEM: csr})
	if err != nil {
		return nil, err
	}
	return e, e.set(reply)
}

func (e *testEdge) set(r protocol.CertificateReply) error {
	leaf, err := pki.ParseCertPEM(r.CertificatePEM)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cert = &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: e.key, Leaf: leaf}
	e.bundle = pki.Bundle(r.CABundlePEM)
	return nil
}

func (e *testEdge) tlsConfig() *tls.Config {
	return pki.EdgeTLSConfig(func() (*tls.Certificate, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.cert, nil
	}, func() pki.Bundle {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.bundle
	})
}

// dial connects as node claim (normally e.id) with this certificate.
func (e *testEdge) dialAs(t *testing.T, srv *Server, claim, hlsURL string, onConnect func(protocol.HelloReply)) (*protocol.Client, error) {
	t.Helper()
	timeout := 10 * time.Second
	if e.refusalExpected {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return protocol.Dial(ctx, protocol.ClientConfig{Addrs: []string{srv.QUICAddr()}, TLS: e.tlsConfig(),
		DialTimeout: 2 * time.Second, MaxBackoff: 200 * time.Millisecond, OnConnect: onConnect, Logger: testutil.Logger(t),
		Hello: protocol.Hello{NodeID: claim, HLSURL: hlsURL, RTMPURL: "rtmp://127.0.0.1:1/live"}})
}

func (e *testEdge) dial(t *testing.T, srv *Server, hlsURL string) (*protocol.Client, error) {
	return e.dialAs(t, srv, e.id, hlsURL, nil)
}

func newJoinToken(t *testing.T, srv *Server, ttl time.Duration) string {
	t.Helper()
	tok, err := srv.NewJoinToken(context.Background(), "test", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

type joinTokenList struct {
	Items []struct {
		ID     string `json:"id"`
		State  string `json:"state"`
		UsedBy string `json:"used_by"`
	} `json:"items"`
}

// TestJoinTokenSingleUse: a join token joins one edge once; the second
// use, an expired token and a revoked one are refused with a clear error;
// the list shows each token's state and never a secret.
func TestJoinTokenSingleUse(t *testing.T) {
	srv, owner := startNode(t, 5*time.Second)
	tok := newJoinToken(t, srv, 0)
	if _, err := joinAs(srv, "edge1", tok); err != nil {
		t.Fatalf("first join: %v", err)
	}
	_, err := joinAs(srv, "edge2", tok)
	if protocol.ErrorCode(err) != protocol.CodeUnauthorized || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("second join with a used token: %v, want unauthorized: already used", err)
	}

	var created struct {
		Token string `json:"token"`
		ID    string `json:"id"`
	}
	call(t, srv, owner, http.MethodPost, "/v1/cluster/join-tokens", map[string]any{"ttl": "30m"}, http.StatusCreated, &created)
	call(t, srv, owner, http.MethodDelete, "/v1/cluster/join-tokens/"+created.ID, nil, http.StatusNoContent, nil)
	if _, err := joinAs(srv, "edge3", created.Token); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("join with a revoked token: %v, want refused as revoked", err)
	}
	call(t, srv, owner, http.MethodPost, "/v1/cluster/join-tokens", map[string]any{"ttl": "1s"}, http.StatusBadRequest, nil)

	expiring, err := srv.NewJoinToken(context.Background(), "short", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Until(t, 5*time.Second, "the short token is listed as expired", func() error {
		var list joinTokenList
		call(t, srv, owner, http.MethodGet, "/v1/cluster/join-tokens", nil, http.StatusOK, &list)
		for _, j := range list.Items {
			if j.ID == expiring.ID && j.State != "expired" {
				return fmt.Errorf("state %s", j.State)
			}
		}
		return nil
	})
	if _, err := joinAs(srv, "edge4", expiring.Token); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("join with an expired token: %v, want refused as expired", err)
	}

	var list joinTokenList
	call(t, srv, owner, http.MethodGet, "/v1/cluster/join-tokens", nil, http.StatusOK, &list)
	states := map[string]int{}
	for _, j := range list.Items {
		states[j.State]++
		if j.State == "used" && j.UsedBy != "edge1" {
			t.Errorf("used token: used_by %q, want edge1", j.UsedBy)
		}
	}
	if states["used"] != 1 || states["revoked"] != 1 || states["expired"] != 1 {
		t.Fatalf("token states %v, want one used, one revoked, one expired", states)
	}
}

// TestNodeIDOwnedByCertificate replays the probe of issue 12: another
// process claiming a live edge's node id, with a fresh join token or with
// another edge's certificate, is refused, and viewers are still sent to
// the real edge's registered URL.
func TestNodeIDOwnedByCertificate(t *testing.T) {
	srv, owner := startNode(t, 5*time.Second)
	var st struct {
		StreamKey  string `json:"stream_key"`
		PlaybackID string `json:"playback_id"`
	}
	call(t, srv, owner, http.MethodPost, "/v1/streams", map[string]any{"name": "s"}, http.StatusCreated, &st)

	real, err := joinAs(srv, "edge1", newJoinToken(t, srv, 0))
	if err != nil {
		t.Fatal(err)
	}
	const realURL = "http://127.0.0.1:18081"
	c, err := real.dial(t, srv, realURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Call(ctx, protocol.TypeAuthorizePublish, protocol.AuthorizePublishRequest{StreamKey: st.StreamKey, Protocol: "rtmp"}, nil); err != nil {
		t.Fatal(err)
	}

	// A new join token claiming the live edge's id.
	_, err = joinAs(srv, "edge1", newJoinToken(t, srv, 0))
	if protocol.ErrorCode(err) != protocol.CodeConflict {
		t.Fatalf("join claiming an owned node id: %v, want conflict", err)
	}
	// Another edge's certificate, claiming edge1 with an evil URL.
	other, err := joinAs(srv, "edge2", newJoinToken(t, srv, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c2, err := other.dialAs(t, srv, "edge1", "http://evil.example", nil); err == nil {
		c2.Close()
		t.Fatal("a certificate for edge2 was admitted as edge1")
	} else if code := protocol.ErrorCode(err); code != protocol.CodeForbidden {
		t.Fatalf("edge2's certificate claiming edge1: %v, want forbidden", err)
	}
	// A connection without any certificate (the old hello with a token).
	_, _, caFP, _ := pki.ParseJoinToken(newJoinToken(t, srv, 0))
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	if c3, err := protocol.Dial(dctx, protocol.ClientConfig{Addrs: []string{srv.QUICAddr()}, TLS: pki.ClientTLSConfig(caFP, pki.ControlServerName),
		Hello: protocol.Hello{NodeID: "edge1", HLSURL: "http://evil.example"}}); err == nil {
		c3.Close()
		t.Fatal("a hello without a certificate was admitted")
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/v1/play/"+st.PlaybackID+".m3u8", nil)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, realURL) {
		t.Fatalf("viewer redirect: %d %q, want to %s", resp.StatusCode, loc, realURL)
	}
}

// TestNodeRemoveCutsOff: `node remove` revokes the certificate: the
// connected edge is cut off at once and cannot come back with it, and its
// node id is free for a new join.
func TestNodeRemoveCutsOff(t *testing.T) {
	srv, owner := startNode(t, 5*time.Second)
	e, err := joinAs(srv, "edge1", newJoinToken(t, srv, 0))
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.dial(t, srv, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	call(t, srv, owner, http.MethodDelete, "/v1/nodes/edge1", nil, http.StatusNoContent, nil)
	took := testutil.Until(t, 5*time.Second, "the removed edge is refused", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := c.Heartbeat(ctx, protocol.Heartbeat{NodeID: "edge1"})
		if err == nil {
			return errors.New("heartbeat still accepted")
		}
		return nil
	})
	t.Logf("edge cut off %v after node remove", took.Round(time.Millisecond))
	if c2, err := e.dial(t, srv, "http://127.0.0.1:1"); err == nil {
		c2.Close()
		t.Fatal("the removed edge's certificate was admitted again")
	} else if protocol.ErrorCode(err) != protocol.CodeUnauthorized {
		t.Logf("reconnect refused: %v", err)
	}
	var nodes struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	call(t, srv, owner, http.MethodGet, "/v1/nodes", nil, http.StatusOK, &nodes)
	if len(nodes.Items) != 0 {
		t.Fatalf("nodes after remove: %+v", nodes.Items)
	}
	if _, err := joinAs(srv, "edge1", newJoinToken(t, srv, 0)); err != nil {
		t.Fatalf("rejoin with a new token after remove: %v", err)
	}
}

// TestSigningKeyRevocationPush: a revoked signing key reaches a watching
// edge within 2 s (the push of issue 12; it took 10-15 s before).
func TestSigningKeyRevocationPush(t *testing.T) {
	srv, owner := startNode(t, 5*time.Second)
	e, err := joinAs(srv, "edge1", newJoinToken(t, srv, 0))
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.dial(t, srv, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var key struct {
		ID string `json:"id"`
	}
	call(t, srv, owner, http.MethodPost, "/v1/signing-keys", map[string]any{}, http.StatusCreated, &key)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := c.WatchSigningKeys(ctx, protocol.WatchSigningKeysRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Active) != 1 || first.Active[0].ID != key.ID {
		t.Fatalf("signing keys: %+v, want the new key active", first)
	}
	type result struct {
		r   protocol.WatchSigningKeysReply
		err error
		at  time.Time
	}
	got := make(chan result, 1)
	go func() {
		r, err := c.WatchSigningKeys(ctx, protocol.WatchSigningKeysRequest{Revision: first.Revision, WaitMS: 20000})
		got <- result{r, err, time.Now()}
	}()
	revoked := time.Now()
	call(t, srv, owner, http.MethodDelete, "/v1/signing-keys/"+key.ID, nil, http.StatusNoContent, nil)
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(r.r.Revoked) != 1 || r.r.Revoked[0] != key.ID || len(r.r.Active) != 0 {
			t.Fatalf("after revoke: %+v", r.r)
		}
		t.Logf("revocation reached the edge %v after the API answered", r.at.Sub(revoked).Round(time.Millisecond))
	case <-time.After(2 * time.Second):
		t.Fatal("the revocation did not reach the edge within 2 s")
	}
}

// TestCARotation: rotate the cluster CA while an edge is connected; the
// edge learns the new bundle, renews from the new CA, reconnects and keeps
// working; finish is refused while an edge still holds an old certificate,
// and after it a certificate from the old CA is refused.
func TestCARotation(t *testing.T) {
	srv, owner := startNode(t, 5*time.Second)
	e, err := joinAs(srv, "edge1", newJoinToken(t, srv, 0))
	if err != nil {
		t.Fatal(err)
	}
	oldCert := e.cert
	var (
		mu      sync.Mutex
		replies []protocol.HelloReply
	)
	c, err := e.dialAs(t, srv, "edge1", "http://127.0.0.1:1", func(r protocol.HelloReply) {
		mu.Lock()
		replies = append(replies, r)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A second edge that stays away during the rotation.
	laggard, err := joinAs(srv, "edge2", newJoinToken(t, srv, 0))
	if err != nil {
		t.Fatal(err)
	}

	var st struct {
		CAs []struct {
			Fingerprint string `json:"fingerprint"`
			Role        string `json:"role"`
		} `json:"cas"`
		Rotating bool     `json:"rotating"`
		Pending  []string `json:"pending"`
	}
	call(t, srv, owner, http.MethodPost, "/v1/cluster/ca/rotate", nil, http.StatusOK, &st)
	if !st.Rotating || len(st.CAs) != 2 || len(st.Pending) != 2 {
		t.Fatalf("after rotate: %+v", st)
	}
	newCA := st.CAs[0].Fingerprint
	call(t, srv, owner, http.MethodPost, "/v1/cluster/ca/rotate", nil, http.StatusConflict, nil)

	// The edge reconnects (as after any blip) and is told to renew.
	c.Reconnect()
	testutil.Until(t, 10*time.Second, "the edge is told to renew", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(replies) < 2 {
			return errors.New("no new connection yet")
		}
		r := replies[len(replies)-1]
		if !r.RenewCertificate || len(pki.Bundle(r.CABundlePEM).Fingerprints()) != 2 {
			return fmt.Errorf("hello reply: renew %v, %d CAs", r.RenewCertificate, len(pki.Bundle(r.CABundlePEM).Fingerprints()))
		}
		return nil
	})
	mu.Lock()
	e.bundle = pki.Bundle(replies[len(replies)-1].CABundlePEM)
	mu.Unlock()
	csr, _ := pki.NewCSR(e.key, "edge1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	renewed, err := c.RenewCertificate(ctx, protocol.RenewCertificateRequest{CSRPEM: csr})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.set(renewed); err != nil {
		t.Fatal(err)
	}
	cas, _ := pki.Bundle(renewed.CABundlePEM).Certificates()
	if fp := pki.IssuerFingerprint(e.cert.Leaf, cas); fp != newCA {
		t.Fatalf("renewed certificate issued by %s, want the new CA %s", fp, newCA)
	}
	c.Reconnect()
	testutil.Until(t, 10*time.Second, "the edge works with its new certificate", func() error {
		hctx, hcancel := context.WithTimeout(ctx, time.Second)
		defer hcancel()
		_, err := c.Heartbeat(hctx, protocol.Heartbeat{NodeID: "edge1"})
		return err
	})

	// edge2 still holds an old certificate: finish waits for it.
	call(t, srv, owner, http.MethodPost, "/v1/cluster/ca/finish", nil, http.StatusConflict, nil)
	call(t, srv, owner, http.MethodPost, "/v1/cluster/ca/finish", map[string]any{"force": true}, http.StatusOK, &st)
	if st.Rotating || len(st.CAs) != 1 || st.CAs[0].Fingerprint != newCA {
		t.Fatalf("after finish: %+v", st)
	}

	// The renewed edge reconnects fine (the server certificate now comes
	// from the new CA, which it learnt); old certificates are refused.
	c.Reconnect()
	testutil.Until(t, 10*time.Second, "the renewed edge reconnects after finish", func() error {
		hctx, hcancel := context.WithTimeout(ctx, time.Second)
		defer hcancel()
		_, err := c.Heartbeat(hctx, protocol.Heartbeat{NodeID: "edge1"})
		return err
	})
	laggard.bundle = e.bundle // even trusting the new CA, its certificate is from the old one
	laggard.refusalExpected = true
	if c2, err := laggard.dial(t, srv, "http://127.0.0.1:1"); err == nil {
		c2.Close()
		t.Fatal("a certificate from the finished CA was admitted")
	}
	stale := &testEdge{id: "edge1", key: e.key, cert: oldCert, bundle: e.bundle, refusalExpected: true}
	if c3, err := stale.dial(t, srv, "http://127.0.0.1:1"); err == nil {
		c3.Close()
		t.Fatal("edge1's replaced certificate from the old CA was admitted")
	}
}
