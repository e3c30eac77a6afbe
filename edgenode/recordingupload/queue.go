package recordingupload

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/livestreams/livestreams/shared/objstore"
)

// Config configures a Queue.
type Config struct {
	// Path is the bbolt file that holds the queue; it is created if
	// missing.
	Path string
	// Store is where items go.
	Store objstore.Store
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Now defaults to time.Now. It stamps items and judges ages; waits are
	// measured on the real clock.
	Now func() time.Time
	// Workers is how many items upload at once (default 2, at most 64).
	Workers int
	// BackoffBase and BackoffMax shape the wait after a failed attempt: a
	// uniformly random duration up to BackoffBase×2^(attempt-1), capped at
	// BackoffMax (defaults 1s and 5m).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// OnUploaded is called once the store has confirmed an item (size and
	// SHA-256), before the local file is deleted; only after it returns nil
	// is the item done, and an error is retried like a failed upload. It
	// may be called again for the same item after a crash, so it must be
	// idempotent. Nil means there is nothing to do.
	OnUploaded func(ctx context.Context, it Item, info objstore.ObjectInfo) error
	// DiskPath is a path on the filesystem that holds the recordings,
	// watched for free space (default: the directory of Path).
	DiskPath string
	// WarnFreeBytes and MinFreeBytes are the free-space levels under which
	// Run warns (Stats.DiskLow) and cries out (Stats.DiskCritical)
	// (defaults 4 GiB and 1 GiB).
	WarnFreeBytes int64
	MinFreeBytes  int64
	// DiskCheckInterval is how often Run looks at the free space (default
	// one minute).
	DiskCheckInterval time.Duration
	// DoneHistory is how many done items are kept for Items (default 100).
	DoneHistory int
}

const (
	defaultWorkers       = 2
	maxWorkers           = 64
	defaultBackoffBase   = time.Second
	defaultBackoffMax    = 5 * time.Minute
	defaultWarnFreeBytes = 4 << 30
	defaultMinFreeBytes  = 1 << 30
	defaultDiskInterval  = time.Minute
	defaultDoneHistory   = 100
)

// fill checks the configuration and sets defaults. Messages name the field.
func (c *Config) fill() error {
	if c.Path == "" {
		return errors.New("missing Path: want the queue's bbolt file")
	}
	if c.Store == nil {
		return errors.New("missing Store")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.Workers == 0:
		c.Workers = defaultWorkers
	case c.Workers < 0 || c.Workers > maxWorkers:
		return fmt.Errorf("invalid Workers %d: want 1 to %d, or 0 for %d", c.Workers, maxWorkers, defaultWorkers)
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = defaultBackoffBase
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(defaultBackoffMax, c.BackoffBase)
	}
	if c.BackoffBase < 0 || c.BackoffMax < c.BackoffBase {
		return fmt.Errorf("invalid BackoffBase %s, BackoffMax %s: want 0 < BackoffBase <= BackoffMax", c.BackoffBase, c.BackoffMax)
	}
	if c.DiskPath == "" {
		c.DiskPath = filepath.Dir(c.Path)
	}
	if c.WarnFreeBytes == 0 {
		c.WarnFreeBytes = max(defaultWarnFreeBytes, c.MinFreeBytes)
	}
	if c.MinFreeBytes == 0 {
		c.MinFreeBytes = min(defaultMinFreeBytes, c.WarnFreeBytes)
	}
	if c.MinFreeBytes < 0 || c.WarnFreeBytes < c.MinFreeBytes {
		return fmt.Errorf("invalid MinFreeBytes %d, WarnFreeBytes %d: want 0 < MinFreeBytes <= WarnFreeBytes", c.MinFreeBytes, c.WarnFreeBytes)
	}
	switch {
	case c.DiskCheckInterval == 0:
		c.DiskCheckInterval = defaultDiskInterval
	case c.DiskCheckInterval < 0:
		return fmt.Errorf("invalid DiskCheckInterval %s: want > 0", c.DiskCheckInterval)
	}
	switch {
	case c.DoneHistory == 0:
		c.DoneHistory = defaultDoneHistory
	case c.DoneHistory < 0:
		return fmt.Errorf("invalid DoneHistory %d: want > 0", c.DoneHistory)
	}
	return nil
}

// Queue is the durable upload queue. Its methods are safe for concurrent
// use.
type Queue struct {
	cfg   Config
	db    *bolt.DB
	store objstore.Store
	log   *slog.Logger
	now   func() time.Time

	// mu guards what follows. It is held across the bbolt commit of every
	// change, so that the file and memory change in the same order.
	mu        sync.Mutex
	items     map[string]*Item // not done: pending, uploading, lost
	done      []Item           // newest last, at most cfg.DoneHistory
	doneTotal uint64
	lastErr   lastError
	disk      diskStatus
	changed   chan struct{} // closed and replaced when an item becomes due
	running   bool
	closed    bool
}

type lastError struct {
	msg string
	at  time.Time
	id  string
}

// ErrClosed is returned by the methods of a closed Queue.
var ErrClosed = errors.New("upload queue closed")

// Open opens the queue file, creating it if needed. Items an earlier
// process was uploading when it stopped are pending again, due at once.
func Open(cfg Config) (*Queue, error) {
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("upload queue: %w", err)
	}
	db, err := openDB(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("upload queue: %w", err)
	}
	items, done, total, err := load(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("upload queue %s: %w", cfg.Path, err)
	}
	q := &Queue{
		cfg:       cfg,
		db:        db,
		store:     cfg.Store,
		log:       cfg.Logger,
		now:       cfg.Now,
		items:     make(map[string]*Item, len(items)),
		done:      done[max(0, len(done)-cfg.DoneHistory):],
		doneTotal: total,
		changed:   make(chan struct{}),
	}
	var pending, lost int
	for i := range items {
		it := &items[i]
		switch it.State {
		case StateUploading:
			q.log.Info("resuming an upload a restart interrupted", "item_id", it.ID, "key", it.Key, "attempts", it.Attempts)
			it.State = StatePending
			pending++
		case StatePending:
			pending++
		case StateLost:
			lost++
		default:
			db.Close()
			return nil, fmt.Errorf("upload queue %s: item %q in state %q", cfg.Path, it.ID, it.State)
		}
		// A restart is a fair moment to try again: the outage that caused
		// the backoff may be over.
		it.NextAttemptAt = time.Time{}
		q.items[it.ID] = it
	}
	q.log.Info("upload queue opened", "path", cfg.Path, "pending", pending, "lost", lost, "done_total", total)
	if lost > 0 {
		q.log.Error("upload queue holds lost items: their local files vanished before upload", "lost", lost)
	}
	return q, nil
}

// Close closes the queue file. Run must have returned.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	if q.running {
		return errors.New("close upload queue: Run has not returned")
	}
	q.closed = true
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("close upload queue: %w", err)
	}
	return nil
}

// Enqueue adds an item and returns once it is on disk. It fills Size and
// SHA256 from the file when they are empty, which reads the whole file.
// Enqueuing an ID the queue already holds (or recently finished) with the
// same key and path does nothing; with another key or path it is an error.
func (q *Queue) Enqueue(it Item) error {
	if it.ID == "" {
		return errors.New("enqueue: item without an ID")
	}
	if err := objstore.ValidateKey(it.Key); err != nil {
		return fmt.Errorf("enqueue %s: %w", it.ID, err)
	}
	if it.LocalPath == "" {
		return fmt.Errorf("enqueue %s: item without a LocalPath", it.ID)
	}
	path, err := filepath.Abs(it.LocalPath)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", it.ID, err)
	}
	it.LocalPath = path
	if known, err := q.known(it); known || err != nil {
		return err
	}
	if err := describe(&it); err != nil {
		return fmt.Errorf("enqueue %s: %w", it.ID, err)
	}
	it.Files = slices.Clone(it.Files)
	if err := describeFiles(it.Files); err != nil {
		return fmt.Errorf("enqueue %s: %w", it.ID, err)
	}
	if it.EnqueuedAt.IsZero() {
		it.EnqueuedAt = q.now()
	}
	it = it.clone()
	it.State, it.Attempts, it.LastError = StatePending, 0, ""
	it.LastErrorAt, it.LastAttemptAt, it.NextAttemptAt, it.DoneAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}

	q.mu.Lock()
	defer q.mu.Unlock()
	if known, err := q.knownLocked(it); known || err != nil { // while the file was hashed
		return err
	}
	if q.closed {
		return ErrClosed
	}
	if err := saveItem(q.db, &it); err != nil {
		return fmt.Errorf("enqueue %s: %w", it.ID, err)
	}
	q.items[it.ID] = &it
	q.notifyLocked()
	q.log.Info("queued for upload", "item_id", it.ID, "key", it.Key, "path", it.LocalPath, "size", it.Size, "files", len(it.Files))
	return nil
}

// known reports whether the queue holds it.ID already, and fails if it
// does with another key or path.
func (q *Queue) known(it Item) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false, ErrClosed
	}
	return q.knownLocked(it)
}

func (q *Queue) knownLocked(it Item) (bool, error) {
	old, ok := q.findLocked(it.ID)
	if !ok {
		return false, nil
	}
	if old.Key != it.Key || old.LocalPath != it.LocalPath {
		return true, fmt.Errorf("enqueue %s: already queued (%s) with key %s and path %s", it.ID, old.State, old.Key, old.LocalPath)
	}
	return true, nil
}

// findLocked returns the item with id, done or not.
func (q *Queue) findLocked(id string) (Item, bool) {
	if it, ok := q.items[id]; ok {
		return *it, true
	}
	for i := len(q.done) - 1; i >= 0; i-- {
		if q.done[i].ID == id {
			return q.done[i], true
		}
	}
	return Item{}, false
}

// describe checks the item's file and fills in its size and checksum.
func describe(it *Item) error {
	f, err := os.Open(it.LocalPath)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", it.LocalPath)
	}
	switch {
	case it.Size == 0:
		it.Size = fi.Size()
	case it.Size != fi.Size():
		return fmt.Errorf("%s is %d bytes, the item says %d", it.LocalPath, fi.Size(), it.Size)
	}
	if it.SHA256 != "" {
		sum := strings.ToLower(it.SHA256)
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("invalid SHA256 %q: want %d hex digits", it.SHA256, 2*sha256.Size)
		}
		it.SHA256 = sum
		return nil
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	if err != nil {
		return fmt.Errorf("hash %s: %w", it.LocalPath, err)
	}
	if n != it.Size {
		return fmt.Errorf("%s changed while it was hashed: %d bytes, then %d", it.LocalPath, it.Size, n)
	}
	it.SHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

// notifyLocked wakes the workers waiting for an item to become due.
func (q *Queue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Items returns every item the queue holds — pending, uploading and lost,
// oldest first — followed by the done history, oldest first.
func (q *Queue) Items() []Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Item, 0, len(q.items)+len(q.done))
	for _, it := range q.items {
		out = append(out, it.clone())
	}
	slices.SortFunc(out, func(a, b Item) int {
		return cmp.Or(a.EnqueuedAt.Compare(b.EnqueuedAt), strings.Compare(a.ID, b.ID))
	})
	for _, it := range q.done {
		out = append(out, it.clone())
	}
	return out
}

// Stats is a summary of the queue for metrics and health checks.
type Stats struct {
	Pending   int
	Uploading int
	Lost      int
	// Done counts the items ever done in this queue file.
	Done uint64
	// BytesPending is the size of the pending and uploading items, with
	// their companion files.
	BytesPending int64
	// OldestPendingAge is how long the oldest pending or uploading item has
	// waited; zero when there is none.
	OldestPendingAge time.Duration
	// LastError is the most recent failure of any item since Open, with
	// when and which.
	LastError   string
	LastErrorAt time.Time
	LastErrorID string
	// DiskFreeBytes is the free space at Config.DiskPath at DiskCheckedAt
	// (zero before Run first looks).
	DiskFreeBytes int64
	DiskCheckedAt time.Time
	// DiskLow is set under Config.WarnFreeBytes, DiskCritical under
	// Config.MinFreeBytes.
	DiskLow      bool
	DiskCritical bool
}

// Stats returns the queue's counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := Stats{
		Done:          q.doneTotal,
		LastError:     q.lastErr.msg,
		LastErrorAt:   q.lastErr.at,
		LastErrorID:   q.lastErr.id,
		DiskFreeBytes: q.disk.free,
		DiskCheckedAt: q.disk.at,
		DiskLow:       q.disk.low,
		DiskCritical:  q.disk.critical,
	}
	var oldest time.Time
	for _, it := range q.items {
		switch it.State {
		case StatePending:
			s.Pending++
		case StateUploading:
			s.Uploading++
		case StateLost:
			s.Lost++
		}
		if it.active() {
			s.BytesPending += it.bytes()
			if oldest.IsZero() || it.EnqueuedAt.Before(oldest) {
				oldest = it.EnqueuedAt
			}
		}
	}
	if !oldest.IsZero() {
		s.OldestPendingAge = max(0, q.now().Sub(oldest))
	}
	return s
}
