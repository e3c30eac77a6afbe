// Package recordingupload is the edge's durable upload queue: it holds every
// finished recording (or any other local file that must reach object
// storage) until the store has it, across crashes, restarts and outages of
// any length.
//
// An item is written to a bbolt file, fsynced, before Enqueue returns. Run's
// workers upload it with objstore PutFile and its SHA-256, confirm the
// stored object with Stat (size and checksum), hand it to OnUploaded (the
// edge registers the asset with the control plane), and only then delete
// the local file and record the item as done. Every failure — the store
// down, a checksum mismatch, OnUploaded refusing — is retried with
// exponential backoff and full jitter, forever; the attempt count and the
// last error stay on the item for Items and Stats. The one case that is not
// retried is a local file that vanished before the store had it: the item
// is marked lost and logged at error level, since no retry can bring it
// back.
//
// The order of the last steps makes a crash at any point safe. A crash
// mid-upload leaves the item pending (an interrupted multipart upload is
// simply redone); a crash after the upload but before OnUploaded finds the
// object already confirmed on the next attempt, which skips the upload; a
// crash after the local file was deleted but before the item was marked
// done finds the file gone but the object confirmed, and finishes. The
// price is that OnUploaded may see the same item more than once, so it
// must be idempotent. Recover, called when the edge starts, enqueues
// recordings the queue never heard of (a session the edge was killed
// during).
//
// An item may carry companion files (Item.Files: a recording's live
// renditions) that go up with it, under the same durable item, before
// OnUploaded; see files.go.
//
// Run also watches the free space of the filesystem holding the recordings
// and warns, in the log and in Stats, when it is nearly full.
//
// What it deliberately does not do: decide whether a recording is worth
// keeping (the transcode package finalizes recordings), compute object keys
// (the caller does, with objstore.AssetKey), limit upload bandwidth, or
// share one queue file between processes (bbolt locks it).
package recordingupload
