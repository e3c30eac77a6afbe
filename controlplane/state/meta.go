package state

import "time"

// Meta is the cluster-wide configuration created once at bootstrap and
// replicated like everything else, so every control-plane node can verify
// session tokens, look up stream keys and sign certificates.
type Meta struct {
	ClusterID string    `json:"cluster_id"`
	CreatedAt time.Time `json:"created_at"`
	// CACertPEM/CAKeyPEM are the cluster CA that signs the QUIC listeners.
	// CAKeyPEM, StreamKeySecret and SessionSecret are stored sealed
	// (sealed.go).
	CACertPEM string `json:"ca_cert_pem"`
	CAKeyPEM  string `json:"ca_key_pem"`
	// StreamKeySecret keys the HMAC that indexes stream keys and seals them.
	StreamKeySecret []byte `json:"stream_key_secret"`
	// SessionSecret signs the short-lived user JWTs.
	SessionSecret []byte `json:"session_secret"`
	// SetupTokenHash is the hash of the one-time admin setup token; cleared
	// once the first owner exists.
	SetupTokenHash string `json:"setup_token_hash,omitempty"`
}

const metaKey = "cluster"

// Meta returns the cluster meta; ok is false before bootstrap has applied it.
//
// Its secrets are plaintext in a read transaction and as stored (sealed)
// in a write transaction: see sealed.go.
func (t *Tx) Meta() (Meta, bool, error) {
	var m Meta
	ok, err := t.get(bMeta, metaKey, &m)
	if ok && err == nil {
		err = t.openMeta(&m)
	}
	return m, ok, err
}

// PutMeta stores the cluster meta.
func (t *Tx) PutMeta(m Meta) error { return t.put(bMeta, metaKey, m) }

// Node is a control-plane member: its Raft and client-facing addresses.
type Node struct {
	ID       string    `json:"id"`
	RaftAddr string    `json:"raft_addr"`
	HTTPAddr string    `json:"http_addr"`
	QUICAddr string    `json:"quic_addr,omitempty"`
	JoinedAt time.Time `json:"joined_at"`
}

// Node returns one control-plane node by id.
func (t *Tx) Node(id string) (Node, bool, error) {
	var n Node
	ok, err := t.get(bNodes, id, &n)
	return n, ok, err
}

// Nodes lists the control-plane nodes.
func (t *Tx) Nodes() ([]Node, error) { return list[Node](t, bNodes, "") }

// PutNode stores a node.
func (t *Tx) PutNode(n Node) error { return t.put(bNodes, n.ID, n) }

// DeleteNode removes a node.
func (t *Tx) DeleteNode(id string) error { return t.del(bNodes, id) }
