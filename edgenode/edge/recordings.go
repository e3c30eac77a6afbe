package edge

// Recordings reach object storage through the durable upload queue
// (package recordingupload): a finished recording is queued (fsynced) when its
// session ends, uploaded and confirmed by size and checksum, registered
// with the control plane (which creates the asset and queues its VOD job),
// and only then deleted here. Recordings are named SESSION.ORG.mp4 so that
// one left by a killed edge can be queued again on the next start without
// asking anyone whose it is.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/livestreams/livestreams/edgenode/recordingupload"
	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

func (n *Node) recordingsDir() string { return filepath.Join(n.cfg.DataDir, "recordings") }

func (n *Node) recordingPath(sessionID, orgID string) string {
	return filepath.Join(n.recordingsDir(), sessionID+"."+orgID+".mp4")
}

// recordingItem is the queue item of a recording file name.
func recordingItem(name string) (recordingupload.Item, bool) {
	base, ok := strings.CutSuffix(name, ".mp4")
	if !ok {
		return recordingupload.Item{}, false
	}
	session, org, ok := strings.Cut(base, ".")
	if !ok || session == "" || org == "" || strings.Contains(org, ".") {
		return recordingupload.Item{}, false
	}
	key, err := objstore.AssetKey(org, protocol.RecordingAssetID(session), objstore.SourceFile)
	if err != nil {
		return recordingupload.Item{}, false
	}
	return recordingupload.Item{ID: session, Key: key, Meta: map[string]string{"session_id": session, "org_id": org}}, true
}

func (n *Node) openUploads() error {
	if n.cfg.ObjectStore == nil {
		return nil
	}
	q, err := recordingupload.Open(recordingupload.Config{Path: filepath.Join(n.cfg.DataDir, "uploads.db"), Store: n.cfg.ObjectStore,
		Logger: n.log.With("component", "uploadq"), OnUploaded: n.registerRecording,
		BackoffBase: min(time.Second, max(n.cfg.UploadBackoffMax, 0)), BackoffMax: n.cfg.UploadBackoffMax, DiskPath: n.cfg.DataDir})
	if err != nil {
		return fmt.Errorf("open the upload queue: %w", err)
	}
	n.uploads = q
	return nil
}

// recoverRecordings queues the recordings of sessions this edge was killed
// during: their files are complete up to the last fragment ffmpeg wrote.
func (n *Node) recoverRecordings() {
	if n.uploads == nil {
		return
	}
	count, err := n.uploads.Recover(n.recordingsDir(), func(name string) (recordingupload.Item, bool) {
		it, ok := recordingItem(name)
		if !ok {
			return it, false
		}
		kept, err := transcode.FinalizeRecording(filepath.Join(n.recordingsDir(), name))
		if err != nil {
			n.log.Error("recover recording", "file", name, "err", err)
		}
		return it, kept
	})
	if err != nil {
		n.log.Error("recover recordings", "err", err)
	}
	if count > 0 {
		n.log.Warn("queued recordings left by an earlier run", "count", count)
	}
}

// queueRecording hands a finished recording to the upload queue. Without
// an object store it stays on disk.
func (n *Node) queueRecording(sessionID, path string) {
	if n.uploads == nil || path == "" {
		return
	}
	it, ok := recordingItem(filepath.Base(path))
	if !ok {
		n.log.Error("recording has an unexpected name; left on disk", "path", path)
		return
	}
	it.LocalPath = path
	if err := n.uploads.Enqueue(it); err != nil {
		// The file stays; the next start's recovery queues it.
		n.log.Error("queue recording for upload", "session_id", sessionID, "err", err)
		return
	}
	n.log.Info("recording queued for upload", "session_id", sessionID, "key", it.Key)
}

// registerRecording is the queue's OnUploaded: the control plane creates
// the asset. A session it does not know (its org was deleted) is logged
// and let go: the object stays in the store, and nothing is retried.
func (n *Node) registerRecording(ctx context.Context, it recordingupload.Item, info objstore.ObjectInfo) error {
	req := protocol.RecordingUploaded{SessionID: it.Meta["session_id"], OrgID: it.Meta["org_id"], Key: it.Key,
		Size: info.Size, SHA256: info.SHA256}
	var reply protocol.RecordingUploadedReply
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := n.client.Call(cctx, protocol.TypeRecordingUploaded, req, &reply)
	var pe *protocol.Error
	if errors.As(err, &pe) && (pe.Code == protocol.CodeNotFound || pe.Code == protocol.CodeInvalid) {
		n.log.Error("control plane refused a recording; it stays in the object store unregistered", "session_id", req.SessionID, "key", it.Key, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("register recording: %w", err)
	}
	n.log.Info("recording registered", "session_id", req.SessionID, "asset_id", reply.AssetID, "job_id", reply.JobID)
	return nil
}

// UploadStats reports the upload queue (zero without an object store).
func (n *Node) UploadStats() recordingupload.Stats {
	if n.uploads == nil {
		return recordingupload.Stats{}
	}
	return n.uploads.Stats()
}
