package recordingupload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/livestreams/livestreams/shared/objstore"
)

// Run uploads items with Config.Workers workers, and watches the disk,
// until ctx ends. An upload that ctx cuts short is left as a crash would
// leave it: the item is taken up again by the next Run or Open.
func (q *Queue) Run(ctx context.Context) error {
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return ErrClosed
	case q.running:
		q.mu.Unlock()
		return errors.New("upload queue: Run is already running")
	}
	q.running = true
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.running = false
		q.mu.Unlock()
	}()

	var wg sync.WaitGroup
	for range q.cfg.Workers {
		wg.Go(func() { q.work(ctx) })
	}
	wg.Go(func() { q.watchDisk(ctx) })
	wg.Wait()
	return nil
}

// work takes due items one at a time until ctx ends.
func (q *Queue) work(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		it, wait, changed := q.claim()
		if it != nil {
			q.process(ctx, *it)
			continue
		}
		var due <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-due:
		}
		timer.Stop()
	}
}

// claim marks the oldest due pending item as uploading and returns a copy.
// With none due it returns how long until the next one is (zero: none is
// waiting) and a channel closed when that may change.
func (q *Queue) claim() (*Item, time.Duration, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	var best *Item
	var next time.Time
	for _, it := range q.items {
		if it.State != StatePending {
			continue
		}
		if it.NextAttemptAt.After(now) {
			if next.IsZero() || it.NextAttemptAt.Before(next) {
				next = it.NextAttemptAt
			}
			continue
		}
		if best == nil || it.EnqueuedAt.Before(best.EnqueuedAt) ||
			(it.EnqueuedAt.Equal(best.EnqueuedAt) && it.ID < best.ID) {
			best = it
		}
	}
	if best == nil {
		var wait time.Duration
		if !next.IsZero() {
			wait = max(next.Sub(now), time.Millisecond)
		}
		return nil, wait, q.changed
	}
	upd := *best
	upd.State = StateUploading
	upd.Attempts++
	upd.LastAttemptAt = now
	upd.NextAttemptAt = time.Time{}
	// Counting the attempt on disk first makes a crash mid-upload visible
	// in Attempts. If the file cannot be written the upload goes ahead:
	// the item is on disk already, only its counters would be stale.
	if err := saveItem(q.db, &upd); err != nil {
		q.log.Error("record upload attempt", "item_id", upd.ID, "err", err)
	}
	*best = upd
	it := upd.clone()
	return &it, 0, nil
}

// errLocalGone means the local file vanished and the store does not have
// the object: nothing can upload it any more.
var errLocalGone = errors.New("local file vanished before the store had it")

// process makes one attempt at it and records the outcome.
func (q *Queue) process(ctx context.Context, it Item) {
	info, err := q.deliver(ctx, it)
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down: leave the file as a crash would, with the item
		// "uploading", and let the next Run in this process have it too.
		q.mu.Lock()
		if cur, ok := q.items[it.ID]; ok {
			cur.State = StatePending
		}
		q.mu.Unlock()
	case errors.Is(err, errLocalGone):
		q.markLost(it, err)
	case err != nil:
		q.markFailed(it, err)
	default:
		// The store has it and OnUploaded took it: now, and only now, the
		// local copy may go. A crash after the remove but before markDone
		// is finished by the next attempt (file gone, object confirmed).
		removeFiles(q, it.ID, it.Files)
		if err := os.Remove(it.LocalPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			q.log.Error("remove uploaded file", "item_id", it.ID, "path", it.LocalPath, "err", err)
		} else if err := syncDir(filepath.Dir(it.LocalPath)); err != nil {
			q.log.Warn("sync directory after removing uploaded file", "item_id", it.ID, "path", it.LocalPath, "err", err)
		}
		q.markDone(it, info)
	}
}

// deliver uploads it unless the store has it already, confirms it, and
// hands it to OnUploaded.
func (q *Queue) deliver(ctx context.Context, it Item) (objstore.ObjectInfo, error) {
	fi, err := os.Stat(it.LocalPath)
	gone := errors.Is(err, fs.ErrNotExist)
	if err != nil && !gone {
		return objstore.ObjectInfo{}, fmt.Errorf("stat local file: %w", err)
	}
	// Look first: after a crash or an OnUploaded failure the object is
	// often there already, and a recording is not worth uploading twice.
	info, err := q.store.Stat(ctx, it.Key)
	switch {
	case err == nil && confirms(info, it):
	case err != nil && !errors.Is(err, objstore.ErrNotFound):
		return objstore.ObjectInfo{}, fmt.Errorf("stat object: %w", err)
	case gone:
		return objstore.ObjectInfo{}, fmt.Errorf("%s: %w", it.LocalPath, errLocalGone)
	default:
		if fi.Size() != it.Size {
			// Never confirmable; retried (not dropped) so that an operator
			// can look, and the file is kept.
			return objstore.ObjectInfo{}, fmt.Errorf("local file is %d bytes, %d when queued: changed after Enqueue", fi.Size(), it.Size)
		}
		if _, err := q.store.PutFile(ctx, it.Key, it.LocalPath, objstore.PutOptions{SHA256: it.SHA256}); err != nil {
			return objstore.ObjectInfo{}, fmt.Errorf("upload: %w", err)
		}
		if info, err = q.store.Stat(ctx, it.Key); err != nil {
			return objstore.ObjectInfo{}, fmt.Errorf("confirm upload: %w", err)
		}
		if !confirms(info, it) {
			return objstore.ObjectInfo{}, fmt.Errorf("confirm upload: store has %d bytes with sha256 %q, want %d bytes with %s: %w",
				info.Size, info.SHA256, it.Size, it.SHA256, objstore.ErrChecksumMismatch)
		}
	}
	// The companions go up after the main file (which is what must not
	// be lost) and before OnUploaded, which may tell others they are there.
	if err := q.deliverFiles(ctx, it.Files); errors.Is(err, errLocalGone) {
		q.dropFiles(&it, err)
	} else if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if q.cfg.OnUploaded != nil {
		if err := q.cfg.OnUploaded(ctx, it.clone(), info); err != nil {
			return objstore.ObjectInfo{}, fmt.Errorf("after upload: %w", err)
		}
	}
	return info, nil
}

// confirms reports whether the stored object is the item's file.
func confirms(info objstore.ObjectInfo, it Item) bool {
	return info.Size == it.Size && info.SHA256 == it.SHA256
}

// markFailed puts it back to wait for its backoff.
func (q *Queue) markFailed(it Item, cause error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	cur, ok := q.items[it.ID]
	if !ok {
		return
	}
	now := q.now()
	delay := backoff(cur.Attempts, q.cfg.BackoffBase, q.cfg.BackoffMax)
	upd := *cur
	upd.State = StatePending
	upd.LastError, upd.LastErrorAt = cause.Error(), now
	upd.NextAttemptAt = now.Add(delay)
	q.lastErr = lastError{msg: upd.LastError, at: now, id: upd.ID}
	if err := saveItem(q.db, &upd); err != nil {
		q.log.Error("record failed upload", "item_id", upd.ID, "err", err)
	}
	*cur = upd
	q.notifyLocked()
	q.log.Warn("upload failed; will retry", "item_id", upd.ID, "key", upd.Key,
		"attempt", upd.Attempts, "retry_in", delay.Round(time.Millisecond), "err", cause)
}

// markLost records that it can never be uploaded, loudly.
func (q *Queue) markLost(it Item, cause error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	cur, ok := q.items[it.ID]
	if !ok {
		return
	}
	upd := *cur
	upd.State = StateLost
	upd.LastError, upd.LastErrorAt = cause.Error(), q.now()
	q.lastErr = lastError{msg: upd.LastError, at: upd.LastErrorAt, id: upd.ID}
	if err := saveItem(q.db, &upd); err != nil {
		q.log.Error("record lost item", "item_id", upd.ID, "err", err)
	}
	*cur = upd
	q.log.Error("upload lost: the local file vanished before the store had it; not retrying",
		"item_id", upd.ID, "key", upd.Key, "path", upd.LocalPath, "size", upd.Size, "attempts", upd.Attempts)
}

// markDone moves it to the done history.
func (q *Queue) markDone(it Item, info objstore.ObjectInfo) {
	q.mu.Lock()
	defer q.mu.Unlock()
	cur, ok := q.items[it.ID]
	if !ok {
		return
	}
	upd := cur.clone()
	upd.State = StateDone
	upd.DoneAt = q.now()
	upd.NextAttemptAt = time.Time{}
	total, err := saveDone(q.db, &upd, q.cfg.DoneHistory)
	if err != nil {
		// The object is safe; the next attempt finds it confirmed (and the
		// local file gone) and finishes.
		q.log.Error("record finished upload; will retry", "item_id", upd.ID, "err", err)
		cur.State = StatePending
		cur.NextAttemptAt = upd.DoneAt.Add(backoff(cur.Attempts, q.cfg.BackoffBase, q.cfg.BackoffMax))
		q.notifyLocked()
		return
	}
	delete(q.items, upd.ID)
	q.done = append(q.done, upd)
	if n := len(q.done) - q.cfg.DoneHistory; n > 0 {
		q.done = append(q.done[:0:0], q.done[n:]...)
	}
	q.doneTotal = total
	q.log.Info("uploaded", "item_id", upd.ID, "key", upd.Key, "size", info.Size, "etag", info.ETag,
		"attempts", upd.Attempts, "waited", upd.DoneAt.Sub(upd.EnqueuedAt).Round(time.Millisecond))
}

// backoff is the wait after the attempt-th failed attempt: exponential,
// with full jitter so that an edge's workers (and a fleet of edges coming
// back from one outage) do not retry in step.
func backoff(attempt int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// syncDir makes a removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
