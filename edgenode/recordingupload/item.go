package recordingupload

import (
	"maps"
	"slices"
	"time"
)

// State is where an item is in its life.
type State string

const (
	// StatePending items wait for a worker, possibly for their backoff to
	// end.
	StatePending State = "pending"
	// StateUploading items are being uploaded, confirmed or handed to
	// OnUploaded.
	StateUploading State = "uploading"
	// StateDone items are in the store and accepted by OnUploaded; their
	// local file is gone.
	StateDone State = "done"
	// StateLost items lost their local file before the store had it. They
	// are kept, and never retried, so that an operator sees them.
	StateLost State = "lost"
)

// Item is one file on its way to the object store. The caller fills the
// fields up to EnqueuedAt; the queue keeps the rest.
type Item struct {
	// ID names the item, such as the id of the session a recording is of;
	// Enqueue is idempotent by ID.
	ID string `json:"id"`
	// LocalPath is the file to upload; the queue deletes it once the item
	// is done.
	LocalPath string `json:"local_path"`
	// Key is the object key, checked by objstore.ValidateKey.
	Key string `json:"key"`
	// Size is the file's length; Enqueue reads it from the file when zero
	// and refuses an item whose file has another length.
	Size int64 `json:"size"`
	// SHA256 is the lower-case hex SHA-256 of the file; Enqueue computes it
	// when empty.
	SHA256 string `json:"sha256"`
	// Files are companion files stored before the main one is handed to
	// OnUploaded, and deleted with it (see File); Enqueue fills their
	// sizes and checksums.
	Files []File `json:"files,omitempty"`
	// Meta is carried to OnUploaded untouched (for example the org, stream
	// and session the recording belongs to).
	Meta map[string]string `json:"meta,omitempty"`
	// EnqueuedAt defaults to the time of Enqueue.
	EnqueuedAt time.Time `json:"enqueued_at"`

	State State `json:"state"`
	// Attempts counts the attempts started, including one a crash cut
	// short.
	Attempts      int       `json:"attempts"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
	// NextAttemptAt is when a pending item's backoff ends.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	DoneAt        time.Time `json:"done_at,omitzero"`
}

// clone returns a copy that shares no map with it.
func (it Item) clone() Item {
	it.Meta = maps.Clone(it.Meta)
	it.Files = slices.Clone(it.Files)
	return it
}

// active reports whether the item still waits for, or is in, an upload.
func (it *Item) active() bool { return it.State == StatePending || it.State == StateUploading }

// bytes is the size of the item's main file and its companion files.
func (it *Item) bytes() int64 {
	n := it.Size
	for _, f := range it.Files {
		n += f.Size
	}
	return n
}
