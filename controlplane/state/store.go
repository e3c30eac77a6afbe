// Package state is the control plane's data: the bbolt file behind the Raft
// finite-state machine, one file per table. Reads go through View; writes go
// through Update and are made only by the FSM while it applies a committed
// command, so every node holds the same bytes. The package knows nothing of
// Raft, HTTP or time: callers pass every id and timestamp in.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/livestreams/livestreams/controlplane/keyring"
)

// Store is the bbolt-backed state of one control-plane node.
type Store struct {
	mu   sync.RWMutex // guards db against a concurrent Restore swap
	db   *bolt.DB
	path string
	// kr opens the sealed secrets for readers (sealed.go); nil opens
	// plaintext values only.
	kr *keyring.Keyring
}

// Open opens (creating if needed) the state file at path.
func Open(path string) (*Store, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, path: path}, nil
}

func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create buckets in %s: %w", path, err)
	}
	return db, nil
}

// Close closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, kr: s.kr}) })
}

// Update runs fn in a read-write transaction. Only the FSM calls it.
func (s *Store) Update(fn func(*Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// WriteTo writes a consistent copy of the whole state to w (a snapshot).
// The copy is compacted: it holds the live data only, not the free pages
// of the file, where overwritten values (a secret from before sealing)
// can linger.
func (s *Store) WriteTo(w io.Writer) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	dir, err := os.MkdirTemp(filepath.Dir(s.path), "snapshot-")
	if err != nil {
		return 0, fmt.Errorf("snapshot state: %w", err)
	}
	defer os.RemoveAll(dir)
	dst, err := bolt.Open(filepath.Join(dir, "state.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true})
	if err != nil {
		return 0, fmt.Errorf("snapshot state: %w", err)
	}
	defer dst.Close()
	if err := bolt.Compact(dst, s.db, 64<<20); err != nil {
		return 0, fmt.Errorf("snapshot state: compact: %w", err)
	}
	var n int64
	err = dst.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Restore replaces the whole state with the bbolt file read from r.
func (s *Store) Restore(r io.Reader) error {
	tmp := s.path + ".restore"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore state: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("restore state: copy: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("restore state: sync: %w", err)
	}
	f.Close()
	// Validate before swapping: a corrupt snapshot must not replace good data.
	probe, err := openDB(tmp)
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore state: snapshot is not a valid state file: %w", err)
	}
	probe.Close()

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("restore state: close old: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("restore state: swap: %w", err)
	}
	db, err := openDB(s.path)
	if err != nil {
		return err
	}
	s.db = db
	return nil
}

// Tx is one transaction over the tables.
type Tx struct {
	tx *bolt.Tx
	kr *keyring.Keyring // read transactions only: see sealed.go
}

// Writable reports whether the transaction may write.
func (t *Tx) Writable() bool { return t.tx.Writable() }

var (
	bMeta        = []byte("meta")
	bNodes       = []byte("nodes")
	bOrgs        = []byte("orgs")
	bUsers       = []byte("users")
	bUserEmails  = []byte("user_emails")
	bMembers     = []byte("members")      // orgID/userID
	bUserOrgs    = []byte("user_orgs")    // userID/orgID
	bAPIKeys     = []byte("api_keys")     // id
	bAPIKeyHash  = []byte("api_key_hash") // hash -> id
	bStreams     = []byte("streams")
	bStreamKeys  = []byte("stream_keys") // keyed hash -> stream id
	bPlaybackIDs = []byte("playback_ids")
	bSessions    = []byte("sessions")
	bSigningKeys = []byte("signing_keys")
	bEdges       = []byte("edges")
	bJoinTokens  = []byte("join_tokens")
	bNodeCerts   = []byte("node_certs")  // edge node id -> its certificate record
	bClusterCAs  = []byte("cluster_cas") // fingerprint -> a CA still trusted during a rotation
	bInvitations = []byte("invitations") // id -> an invitation to join an org

	bJobs             = []byte("jobs")
	bJobsByState      = []byte("jobs_by_state")      // state/created/id
	bJobsByOrg        = []byte("jobs_by_org")        // orgID/created/id
	bJobsByAsset      = []byte("jobs_by_asset")      // assetID/id
	bAssets           = []byte("assets")             // id
	bAssetsByOrg      = []byte("assets_by_org")      // orgID/created/id
	bAssetPlaybackIDs = []byte("asset_playback_ids") // playback id -> asset id

	bLinkedAccounts = []byte("linked_accounts") // orgID/id -> an OAuth-linked provider account
	bOAuthStates    = []byte("oauth_states")    // hash of a state parameter -> an authorization in flight
)

var allBuckets = [][]byte{bMeta, bNodes, bOrgs, bUsers, bUserEmails, bMembers, bUserOrgs,
	bAPIKeys, bAPIKeyHash, bStreams, bStreamKeys, bPlaybackIDs, bSessions, bSigningKeys,
	bEdges, bJoinTokens, bNodeCerts, bClusterCAs, bInvitations,
	bJobs, bJobsByState, bJobsByOrg, bJobsByAsset, bAssets, bAssetsByOrg, bAssetPlaybackIDs,
	bLinkedAccounts, bOAuthStates}

// Error is a state-level failure with a stable code the API maps to HTTP.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Error codes.
const (
	CodeNotFound = "not_found"
	CodeConflict = "conflict"
	CodeInvalid  = "invalid"
)

// NotFound returns a not_found error for the named object.
func NotFound(format string, a ...any) error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf(format, a...) + " not found"}
}

// Conflict returns a conflict error.
func Conflict(format string, a ...any) error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, a...)}
}

// Invalid returns an invalid-argument error.
func Invalid(format string, a ...any) error {
	return &Error{Code: CodeInvalid, Message: fmt.Sprintf(format, a...)}
}

// IsNotFound reports whether err is a not_found state error.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeNotFound
}

// IsConflict reports whether err is a conflict state error.
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeConflict
}

func (t *Tx) get(bucket []byte, key string, v any) (bool, error) {
	raw := t.tx.Bucket(bucket).Get([]byte(key))
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", bucket, key, err)
	}
	return true, nil
}

func (t *Tx) put(bucket []byte, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", bucket, key, err)
	}
	return t.tx.Bucket(bucket).Put([]byte(key), raw)
}

func (t *Tx) del(bucket []byte, key string) error {
	return t.tx.Bucket(bucket).Delete([]byte(key))
}

func (t *Tx) getString(bucket []byte, key string) string {
	return string(t.tx.Bucket(bucket).Get([]byte(key)))
}

func (t *Tx) putString(bucket []byte, key, val string) error {
	return t.tx.Bucket(bucket).Put([]byte(key), []byte(val))
}

// scan decodes every value whose key starts with prefix, in key order, and
// stops early when fn returns false.
func scan[T any](t *Tx, bucket []byte, prefix string, fn func(T) bool) error {
	c := t.tx.Bucket(bucket).Cursor()
	p := []byte(prefix)
	for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
		var item T
		if err := json.Unmarshal(v, &item); err != nil {
			return fmt.Errorf("decode %s/%s: %w", bucket, k, err)
		}
		if !fn(item) {
			return nil
		}
	}
	return nil
}

func hasPrefix(k, p []byte) bool {
	return len(k) >= len(p) && string(k[:len(p)]) == string(p)
}

func list[T any](t *Tx, bucket []byte, prefix string) ([]T, error) {
	var out []T
	err := scan(t, bucket, prefix, func(v T) bool { out = append(out, v); return true })
	return out, err
}
