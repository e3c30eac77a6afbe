package recordingupload

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Recover enqueues the recordings (.mp4 files) in dir that the queue does
// not hold: those of sessions the edge was killed during, or whose Enqueue
// never happened. keyFor turns a file name (such as "SESSION.mp4") into the
// item to enqueue, or says false to leave the file alone (for example a
// recording too short to keep, or one of a session still live). A
// LocalPath left empty is the file's. Call it when the edge starts, before
// sessions begin writing into dir. It returns how many it enqueued; one
// file's failure does not stop the others.
func (q *Queue) Recover(dir string, keyFor func(name string) (Item, bool)) (int, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return 0, fmt.Errorf("recover recordings: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("recover recordings: %w", err)
	}
	var (
		n    int
		errs []error
	)
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || !strings.EqualFold(filepath.Ext(name), ".mp4") {
			continue
		}
		path := filepath.Join(dir, name)
		if q.holdsPath(path) {
			continue
		}
		it, ok := keyFor(name)
		if !ok {
			q.log.Info("recording left alone by recovery", "path", path)
			continue
		}
		if it.LocalPath == "" {
			it.LocalPath = path
		}
		if state, ok := q.stateOf(it.ID); ok {
			// Most likely done, its file left behind by a crash between
			// the removal and its sync; either way the queue has the ID.
			q.log.Warn("recording's item is already in the queue; leaving the file", "item_id", it.ID, "path", path, "state", state)
			continue
		}
		if err := q.Enqueue(it); err != nil {
			errs = append(errs, fmt.Errorf("recover %s: %w", path, err))
			continue
		}
		n++
		q.log.Warn("recovered a recording the queue did not hold", "item_id", it.ID, "key", it.Key, "path", it.LocalPath)
	}
	return n, errors.Join(errs...)
}

// holdsPath reports whether an item that is not done has path.
func (q *Queue) holdsPath(path string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, it := range q.items {
		if it.LocalPath == path {
			return true
		}
	}
	return false
}

// stateOf returns the state of the item with id, done or not.
func (q *Queue) stateOf(id string) (State, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.findLocked(id)
	return it.State, ok
}
