package recordingupload

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The queue file holds three buckets:
//
//	items  ID -> JSON Item, every item that is not done (pending, uploading, lost)
//	done   big-endian sequence -> JSON Item, the newest Config.DoneHistory done items
//	meta   "version" -> schema version; "done_total" -> items ever done, decimal
var (
	bItems = []byte("items")
	bDone  = []byte("done")
	bMeta  = []byte("meta")

	kVersion   = []byte("version")
	kDoneTotal = []byte("done_total")
)

const schemaVersion = 1

// openDB opens (creating if needed) the queue file. A second process
// opening the same file waits for its lock a bounded time and fails.
func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bItems, bDone, bMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		v := meta.Get(kVersion)
		if v == nil {
			return meta.Put(kVersion, []byte(strconv.Itoa(schemaVersion)))
		}
		if n, err := strconv.Atoi(string(v)); err != nil || n != schemaVersion {
			return fmt.Errorf("queue file version %q: this build reads version %d", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// load reads every item of the file: the ones not done, the done history
// (oldest first) and the count of items ever done.
func load(db *bolt.DB) (items []Item, done []Item, doneTotal uint64, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bItems).ForEach(func(k, v []byte) error {
			var it Item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("item %q: %w", k, err)
			}
			items = append(items, it)
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bDone).ForEach(func(k, v []byte) error {
			var it Item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("done item %x: %w", k, err)
			}
			done = append(done, it)
			return nil
		})
		if err != nil {
			return err
		}
		if v := tx.Bucket(bMeta).Get(kDoneTotal); v != nil {
			if doneTotal, err = strconv.ParseUint(string(v), 10, 64); err != nil {
				return fmt.Errorf("done total %q: %w", v, err)
			}
		}
		return nil
	})
	return items, done, doneTotal, err
}

// saveItem writes an item that is not done. The commit is fsynced.
func saveItem(db *bolt.DB, it *Item) error {
	v, err := json.Marshal(it)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bItems).Put([]byte(it.ID), v)
	})
}

// saveDone moves an item to the done history in one transaction, trims
// the history to keep entries, and counts it in done_total.
func saveDone(db *bolt.DB, it *Item, keep int) (total uint64, err error) {
	v, err := json.Marshal(it)
	if err != nil {
		return 0, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bItems).Delete([]byte(it.ID)); err != nil {
			return err
		}
		done := tx.Bucket(bDone)
		seq, err := done.NextSequence()
		if err != nil {
			return err
		}
		if err := done.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
			return err
		}
		if err := trim(done, keep); err != nil {
			return err
		}
		meta := tx.Bucket(bMeta)
		if v := meta.Get(kDoneTotal); v != nil {
			if total, err = strconv.ParseUint(string(v), 10, 64); err != nil {
				return fmt.Errorf("done total %q: %w", v, err)
			}
		}
		total++
		return meta.Put(kDoneTotal, []byte(strconv.FormatUint(total, 10)))
	})
	return total, err
}

// trim deletes the oldest entries of b until at most keep are left.
func trim(b *bolt.Bucket, keep int) error {
	// Count with a cursor: Bucket.Stats does not see this transaction's
	// writes. Collect before deleting: deleting under a cursor skips
	// entries.
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	if len(keys) <= keep {
		return nil
	}
	for _, k := range keys[:len(keys)-keep] {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
