package state

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	bolt "go.etcd.io/bbolt"
)

// Digest is a SHA-256 over every bucket's name, keys and values in key
// order. Two stores with equal digests hold the same state whatever their
// files' page layout, which bbolt does not keep stable: it writes the
// dirty buckets of a commit in Go map order, so two replays of one log
// give the same data in differently ordered pages. Determinism tests
// compare this, not the bytes of a snapshot.
func (s *Store) Digest() ([]byte, error) {
	h := sha256.New()
	err := s.View(func(t *Tx) error {
		return t.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			field(h, name)
			return b.ForEach(func(k, v []byte) error {
				field(h, k)
				field(h, v)
				return nil
			})
		})
	})
	return h.Sum(nil), err
}

func field(h hash.Hash, p []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(p)))
	h.Write(n[:])
	h.Write(p)
}
