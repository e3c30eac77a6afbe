package edge

// Recordings reach object storage through the durable upload queue
// (package recordingupload): a finished recording is queued (fsynced) when its
// session ends, uploaded and confirmed by size and checksum, registered
// with the control plane (which creates the asset and queues its VOD job),
// and only then deleted here. Recordings are named SESSION.ORG.mp4 so that
// one left by a killed edge can be queued again on the next start without
// asking anyone whose it is. A session that ended cleanly with its whole
// live ladder on disk sends that ladder with its recording, as the VOD
// renditions (no second transcode); see liveRenditions.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/livevod"
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
	n.clearStaging()
	if count > 0 {
		n.log.Warn("queued recordings left by an earlier run", "count", count)
	}
}

// queueRecording hands a finished recording to the upload queue, with the
// session's live renditions when they are whole (see liveRenditions).
// Without an object store it stays on disk.
func (n *Node) queueRecording(g live.Grant, end live.End) {
	sessionID, path := g.SessionID, end.RecordingPath
	if n.uploads == nil || path == "" {
		return
	}
	it, ok := recordingItem(filepath.Base(path))
	if !ok {
		n.log.Error("recording has an unexpected name; left on disk", "path", path)
		return
	}
	it.LocalPath = path
	n.liveRenditions(&it, g, end)
	if err := n.uploads.Enqueue(it); err != nil {
		// The file stays; the next start's recovery queues it (without
		// the renditions: it is transcoded).
		n.log.Error("queue recording for upload", "session_id", sessionID, "err", err)
		if len(it.Files) > 0 {
			os.RemoveAll(n.stageDir(sessionID))
		}
		return
	}
	n.log.Info("recording queued for upload", "session_id", sessionID, "key", it.Key, "live_renditions", len(it.Files) > 0)
}

// immutable is the Cache-Control of segments and init segments, whose
// bytes never change under their key (as mediajobs stores them).
const immutable = "public, max-age=31536000, immutable"

func (n *Node) stagingDir() string               { return filepath.Join(n.cfg.DataDir, "vodlive") }
func (n *Node) stageDir(sessionID string) string { return filepath.Join(n.stagingDir(), sessionID) }

// cleanEnd reports whether a session ended in a way that lets ffmpeg
// finish every rung (its input closed or went silent, or the session was
// cancelled); a crashed ffmpeg or an edge error leaves the ladder short.
func cleanEnd(reason string) bool {
	switch reason {
	case "unpublished", "stalled", "cancelled":
		return true
	}
	return false
}

// liveRenditions adds to a recording's item the live ladder of its
// session, staged as VOD renditions (package livevod: linked, not copied,
// so the live directory viewers still read is untouched), when the
// session ended cleanly and every rung is whole; the recording-vod job
// then keeps them instead of transcoding. Otherwise the item goes alone
// and the recording is transcoded as before.
func (n *Node) liveRenditions(it *recordingupload.Item, g live.Grant, end live.End) {
	log := n.log.With("session_id", g.SessionID)
	if !cleanEnd(end.Reason) {
		log.Info("session did not end cleanly; its recording will be transcoded for VOD", "reason", end.Reason)
		return
	}
	l, err := livevod.Check(g.HLSDir, end.RecordingPath)
	if err != nil {
		log.Warn("live renditions incomplete; the recording will be transcoded for VOD", "err", err)
		return
	}
	prefix, err := objstore.AssetPrefix(it.Meta["org_id"], protocol.RecordingAssetID(g.SessionID))
	if err != nil {
		log.Error("live renditions: asset prefix", "err", err)
		return
	}
	stage := n.stageDir(g.SessionID)
	if err := os.RemoveAll(stage); err != nil {
		log.Error("live renditions: clear staging directory", "err", err)
		return
	}
	files, err := l.Stage(stage)
	if err != nil {
		log.Error("live renditions: stage; the recording will be transcoded for VOD", "err", err)
		os.RemoveAll(stage)
		return
	}
	hls := prefix + objstore.HLSDir + "/"
	lr := protocol.LiveRenditions{Playlist: hls + "master.m3u8", Duration: math.Round(l.Duration*1000) / 1000, Segments: l.Segments()}
	for _, r := range l.Rungs {
		lr.Renditions = append(lr.Renditions, protocol.Rendition{Name: r.Name, Width: r.Width, Height: r.Height, Bandwidth: r.Bandwidth})
	}
	meta, err := json.Marshal(lr)
	if err != nil {
		log.Error("live renditions", "err", err)
		os.RemoveAll(stage)
		return
	}
	for _, f := range files {
		rf := recordingupload.File{Path: f.Path, Key: hls + f.Rel}
		if f.Immutable {
			rf.CacheControl = immutable
		}
		it.Files = append(it.Files, rf)
	}
	it.Meta[metaLive] = string(meta)
	log.Info("live renditions kept for VOD", "rungs", len(l.Rungs), "segments", l.Segments(),
		"duration", lr.Duration, "recording_duration", math.Round(l.Recording*1000)/1000)
}

// metaLive is the item's Meta key of its protocol.LiveRenditions (JSON).
const metaLive = "live_renditions"

// clearStaging removes staged renditions no queued item holds: an edge
// killed between staging and queuing leaves them (its recording is
// recovered alone and transcoded).
func (n *Node) clearStaging() {
	entries, err := os.ReadDir(n.stagingDir())
	if err != nil {
		return
	}
	held := map[string]bool{}
	for _, it := range n.uploads.Items() {
		if (it.State == recordingupload.StatePending || it.State == recordingupload.StateUploading) && len(it.Files) > 0 {
			held[it.ID] = true
		}
	}
	for _, e := range entries {
		if !held[e.Name()] {
			n.log.Info("removing staged live renditions no upload holds", "session_id", e.Name())
			os.RemoveAll(filepath.Join(n.stagingDir(), e.Name()))
		}
	}
}

// registerRecording is the queue's OnUploaded: the control plane creates
// the asset. A session it does not know (its org was deleted) is logged
// and let go: the object stays in the store, and nothing is retried.
func (n *Node) registerRecording(ctx context.Context, it recordingupload.Item, info objstore.ObjectInfo) error {
	req := protocol.RecordingUploaded{SessionID: it.Meta["session_id"], OrgID: it.Meta["org_id"], Key: it.Key,
		Size: info.Size, SHA256: info.SHA256}
	if raw := it.Meta[metaLive]; raw != "" && len(it.Files) > 0 {
		// Every file is confirmed in the store by now (the queue stores
		// an item's Files before calling here).
		var lr protocol.LiveRenditions
		if err := json.Unmarshal([]byte(raw), &lr); err != nil {
			n.log.Error("live renditions of a queued recording unreadable; it will be transcoded", "session_id", req.SessionID, "err", err)
		} else {
			req.Renditions = &lr
		}
	}
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
	n.log.Info("recording registered", "session_id", req.SessionID, "asset_id", reply.AssetID, "job_id", reply.JobID,
		"live_renditions", req.Renditions != nil)
	if n.jobs != nil {
		// Its VOD job was just queued, most likely for this edge's region:
		// ask for work now rather than at the next poll, which a live
		// session stretches to several seconds.
		select {
		case n.jobs.changed <- struct{}{}:
		default:
		}
	}
	return nil
}

// UploadStats reports the upload queue (zero without an object store).
func (n *Node) UploadStats() recordingupload.Stats {
	if n.uploads == nil {
		return recordingupload.Stats{}
	}
	return n.uploads.Stats()
}
