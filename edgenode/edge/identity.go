package edge

// The edge's identity: the key it generates once and keeps in its data
// dir (0600), the client certificate the control plane issued for its
// node id when it joined with a single-use join token, and the CA bundle
// it trusts for the control plane. With a certificate on disk a restart
// needs no token; the edge renews the certificate when told (it is aging,
// or the cluster CA rotated) and reconnects with the new one.
//
// It also keeps the cluster's signing-key changes the control plane
// pushes (watch_signing_keys), so a revoked key stops verifying playback
// tokens here within a second or two, whatever the streams were told when
// they started.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/pki"
	"github.com/livestreams/livestreams/shared/token"
)

// Files of the identity directory, under the data dir.
const (
	identityDir  = "identity"
	nodeKeyFile  = "node.key"
	nodeCertFile = "node.crt"
	caBundleFile = "ca.pem"
)

// identity is the edge's key, certificate and trusted CAs.
type identity struct {
	dir    string
	nodeID string
	key    crypto.Signer

	mu     sync.Mutex
	cert   *tls.Certificate // nil until joined
	bundle pki.Bundle
	renew  chan struct{} // a renewal is due (capacity 1)
}

// loadIdentity reads the identity kept in dataDir, generating the key the
// first time. A certificate for another node id is an error: a data dir
// belongs to one edge.
func loadIdentity(dataDir, nodeID string) (*identity, error) {
	id := &identity{dir: filepath.Join(dataDir, identityDir), nodeID: nodeID, renew: make(chan struct{}, 1)}
	if err := os.MkdirAll(id.dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	keyPath := filepath.Join(id.dir, nodeKeyFile)
	raw, err := os.ReadFile(keyPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		_, keyPEM, err := pki.NewNodeKey()
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(keyPath, []byte(keyPEM), 0o600); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		raw = []byte(keyPEM)
	case err != nil:
		return nil, fmt.Errorf("identity: %w", err)
	}
	if id.key, err = pki.ParseNodeKey(string(raw)); err != nil {
		return nil, fmt.Errorf("identity: %s: %w", keyPath, err)
	}
	certPEM, cerr := os.ReadFile(filepath.Join(id.dir, nodeCertFile))
	bundlePEM, berr := os.ReadFile(filepath.Join(id.dir, caBundleFile))
	if cerr == nil && berr == nil {
		if err := id.set(string(certPEM), string(bundlePEM)); err != nil {
			return nil, fmt.Errorf("identity in %s: %w", id.dir, err)
		}
	}
	return id, nil
}

// joined reports whether the edge has a certificate.
func (id *identity) joined() bool {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.cert != nil
}

// set checks a certificate and bundle against the key and node id and
// makes them current (in memory only).
func (id *identity) set(certPEM, bundlePEM string) error {
	leaf, err := pki.ParseCertPEM(certPEM)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	nodeID, err := pki.NodeID(leaf)
	if err != nil {
		return err
	}
	if nodeID != id.nodeID {
		return fmt.Errorf("the certificate is for node %q, not --node-id %q (a data dir belongs to one edge)", nodeID, id.nodeID)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(id.key.Public()) {
		return errors.New("the certificate is not for this edge's key")
	}
	if _, err := pki.Bundle(bundlePEM).Certificates(); err != nil {
		return err
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	id.cert = &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: id.key, Leaf: leaf}
	id.bundle = pki.Bundle(bundlePEM)
	return nil
}

// store makes a new certificate and bundle current and writes them.
func (id *identity) store(certPEM, bundlePEM string) error {
	if err := id.set(certPEM, bundlePEM); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(id.dir, caBundleFile), []byte(bundlePEM), 0o600); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(id.dir, nodeCertFile), []byte(certPEM), 0o600); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return nil
}

// trustBundle replaces the trusted CAs with what the control plane, over
// a connection verified with the current ones, says to trust now.
func (id *identity) trustBundle(bundlePEM string) (changed bool, err error) {
	b := pki.Bundle(bundlePEM)
	if _, err := b.Certificates(); err != nil {
		return false, err
	}
	id.mu.Lock()
	changed = b != id.bundle
	id.bundle = b
	id.mu.Unlock()
	if !changed {
		return false, nil
	}
	return true, writeFileAtomic(filepath.Join(id.dir, caBundleFile), []byte(b), 0o600)
}

func (id *identity) certificate() (*tls.Certificate, error) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.cert == nil {
		return nil, errors.New("this edge has not joined yet")
	}
	return id.cert, nil
}

func (id *identity) trust() pki.Bundle {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.bundle
}

// serial is the current certificate's serial ("" before joining).
func (id *identity) serial() string {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.cert == nil {
		return ""
	}
	return pki.Serial(id.cert.Leaf)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// joinToken is the token from --join-token-file, or else from
// --join-token / LIVESTREAMS_JOIN_TOKEN; "" when none is given.
func (c Config) joinToken() (string, error) {
	if c.JoinTokenFile != "" {
		raw, err := os.ReadFile(c.JoinTokenFile)
		if err != nil {
			return "", fmt.Errorf("--join-token-file (LIVESTREAMS_JOIN_TOKEN_FILE): %w", err)
		}
		return strings.TrimSpace(string(raw)), nil
	}
	return strings.TrimSpace(c.JoinToken), nil
}

// checkIdentity is New's check: an edge that has not joined needs a
// well-formed join token.
func checkIdentity(cfg Config) error {
	id, err := loadIdentity(cfg.DataDir, cfg.NodeID)
	if err != nil {
		return err
	}
	if id.joined() {
		return nil
	}
	tok, err := cfg.joinToken()
	if err != nil {
		return err
	}
	if tok == "" {
		return errors.New("--join-token-file (LIVESTREAMS_JOIN_TOKEN_FILE) or LIVESTREAMS_JOIN_TOKEN: required the first time an edge starts; create a single-use token with `livestreams cluster join-token`")
	}
	if _, _, _, err := pki.ParseJoinToken(tok); err != nil {
		return fmt.Errorf("join token: %w", err)
	}
	return nil
}

// controlTLS returns the TLS configuration for the control plane: with
// the certificate on disk, or after joining with the join token first.
func (n *Node) controlTLS(ctx context.Context) (*tls.Config, error) {
	id, err := loadIdentity(n.cfg.DataDir, n.cfg.NodeID)
	if err != nil {
		return nil, err
	}
	n.id = id
	if !id.joined() {
		tok, err := n.cfg.joinToken()
		if err != nil {
			return nil, err
		}
		_, _, caFP, err := pki.ParseJoinToken(tok)
		if err != nil {
			return nil, fmt.Errorf("join token: %w", err)
		}
		csr, err := pki.NewCSR(id.key, n.cfg.NodeID)
		if err != nil {
			return nil, err
		}
		reply, err := protocol.Join(ctx, n.cfg.Control, pki.ClientTLSConfig(caFP, pki.ControlServerName),
			protocol.JoinRequest{JoinToken: tok, NodeID: n.cfg.NodeID, CSRPEM: csr})
		if err != nil {
			return nil, fmt.Errorf("join the cluster: %w", err)
		}
		if err := id.store(reply.CertificatePEM, reply.CABundlePEM); err != nil {
			return nil, fmt.Errorf("join the cluster: %w", err)
		}
		n.log.Info("joined the cluster; the certificate in the data dir authenticates this edge from now on",
			"dir", id.dir, "serial", id.serial())
	}
	return pki.EdgeTLSConfig(id.certificate, id.trust), nil
}

// onConnect learns the CA bundle and renewal orders from each hello reply
// (and from heartbeat replies while a CA rotation runs).
func (n *Node) onConnect(r protocol.HelloReply) {
	if n.id == nil {
		return
	}
	if r.CABundlePEM != "" {
		if changed, err := n.id.trustBundle(r.CABundlePEM); err != nil {
			n.log.Warn("ca bundle from the control plane not kept", "err", err)
		} else if changed {
			n.log.Info("ca bundle updated", "cas", len(pki.Bundle(r.CABundlePEM).Fingerprints()))
		}
	}
	if r.RenewCertificate {
		select {
		case n.id.renew <- struct{}{}:
		default:
		}
	}
}

// runIdentity starts the certificate renewal and signing-key watch loops
// under n.wg; they end with ctx.
func (n *Node) runIdentity(ctx context.Context) {
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.renewLoop(ctx) }()
	go func() { defer n.wg.Done(); n.watchSigningKeys(ctx) }()
}

// renewLoop renews the certificate when a hello reply asks, then
// reconnects with it.
func (n *Node) renewLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.id.renew:
		}
		for !n.renewCertificate(ctx) {
			if !sleepCtx(ctx, 5*time.Second) {
				return
			}
		}
	}
}

func (n *Node) renewCertificate(ctx context.Context) bool {
	csr, err := pki.NewCSR(n.id.key, n.cfg.NodeID)
	if err != nil {
		n.log.Error("renew certificate", "err", err)
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	reply, err := n.client.RenewCertificate(rctx, protocol.RenewCertificateRequest{CSRPEM: csr})
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("renew certificate", "err", err)
		}
		return ctx.Err() != nil
	}
	if err := n.id.store(reply.CertificatePEM, reply.CABundlePEM); err != nil {
		n.log.Error("renewed certificate not kept", "err", err)
		return false
	}
	n.log.Info("certificate renewed; reconnecting with it", "serial", n.id.serial())
	n.client.Reconnect()
	return true
}

// signingKeyWait is how long one watch waits for a change.
const signingKeyWait = 20 * time.Second

// watchSigningKeys keeps the signing keys current with the control
// plane's pushes.
func (n *Node) watchSigningKeys(ctx context.Context) {
	rev := ""
	for {
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, signingKeyWait+10*time.Second)
		reply, err := n.client.WatchSigningKeys(wctx, protocol.WatchSigningKeysRequest{Revision: rev, WaitMS: signingKeyWait.Milliseconds()})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if protocol.ErrorCode(err) == protocol.CodeUnknownType {
				n.log.Info("the control plane pushes no signing-key changes (older release)")
				return
			}
			n.log.Debug("watch signing keys", "err", err)
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		if reply.Revision != rev {
			n.keys.update(reply, n.log)
			rev = reply.Revision
		} else if time.Since(start) < signingKeyWait/20 && !sleepCtx(ctx, time.Second) {
			return // a control plane that does not wait must not make this spin
		}
	}
}

// pushedKeys is the cluster's signing keys as last pushed.
type pushedKeys struct {
	mu      sync.Mutex
	known   bool
	revoked map[string]bool
	orgOf   map[string]string
	byOrg   map[string]token.Keys
}

func (k *pushedKeys) update(r protocol.WatchSigningKeysReply, log *slog.Logger) {
	revoked := make(map[string]bool, len(r.Revoked))
	for _, id := range r.Revoked {
		revoked[id] = true
	}
	orgOf := map[string]string{}
	byOrg := map[string]token.Keys{}
	for _, sk := range r.Active {
		pub, err := token.ParsePublicPEM(sk.PublicPEM)
		if err != nil {
			log.Warn("unusable signing key", "key_id", sk.ID, "err", err)
			continue
		}
		orgOf[sk.ID] = sk.OrgID
		if byOrg[sk.OrgID] == nil {
			byOrg[sk.OrgID] = token.Keys{}
		}
		byOrg[sk.OrgID][sk.ID] = pub
	}
	k.mu.Lock()
	k.known, k.revoked, k.orgOf, k.byOrg = true, revoked, orgOf, byOrg
	k.mu.Unlock()
	log.Debug("signing keys updated", "revision", r.Revision, "active", len(r.Active), "revoked", len(r.Revoked))
}

// apply brings the keys a stream was served with up to date: revoked keys
// go, keys created since for the same org come in.
func (k *pushedKeys) apply(keys token.Keys) token.Keys {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.known || len(keys) == 0 {
		return keys
	}
	out := make(token.Keys, len(keys))
	orgs := map[string]bool{}
	for id, pub := range keys {
		if k.revoked[id] {
			continue
		}
		out[id] = pub
		if o, ok := k.orgOf[id]; ok {
			orgs[o] = true
		}
	}
	for o := range orgs {
		for id, pub := range k.byOrg[o] {
			out[id] = pub
		}
	}
	return out
}
