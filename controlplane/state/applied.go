package state

import (
	"encoding/binary"
	"os"
)

var appliedKey = []byte("applied_index")

// AppliedIndex is the Raft index of the last command this state includes.
// It lets the FSM skip entries it already holds when Raft replays its log
// after a restart, and tells readers how far the state has got.
func (t *Tx) AppliedIndex() uint64 {
	v := t.tx.Bucket(bMeta).Get(appliedKey)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// SetAppliedIndex records the index of the command just applied.
func (t *Tx) SetAppliedIndex(i uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return t.tx.Bucket(bMeta).Put(appliedKey, b[:])
}

// PrepareRestore validates a state file made by a snapshot save and zeroes
// its applied index, so that once it is installed as the cluster's state at
// a new Raft index, every later entry applies (even when the file came from
// a cluster whose log had run further than this one's).
func PrepareRestore(data []byte) ([]byte, error) {
	f, err := os.CreateTemp("", "livestreams-restore-*.db")
	if err != nil {
		return nil, err
	}
	name := f.Name()
	defer os.Remove(name)
	_, err = f.Write(data)
	f.Close()
	if err != nil {
		return nil, err
	}
	st, err := Open(name)
	if err != nil {
		return nil, Invalid("not a livestreams snapshot: %v", err)
	}
	if err := st.Update(func(tx *Tx) error { return tx.SetAppliedIndex(0) }); err != nil {
		st.Close()
		return nil, err
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(name)
}
