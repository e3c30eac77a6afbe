package protocol

import (
	"encoding/json"
	"time"
)

// Media job messages. An edge with free capacity leases jobs, renews the
// leases while they run (reporting progress), watches them for
// cancellation, and finishes each with a result or an error. See package
// controlplane/jobs for the lease contract.
const (
	TypeLeaseJobs = "lease_jobs"
	TypeRenewJobs = "renew_jobs"
	TypeWatchJobs = "watch_jobs"
	TypeFinishJob = "finish_job"
	// TypeRecordingUploaded registers a session's recording once the
	// object store has confirmed it: the control plane creates the
	// recording asset and queues its VOD job. It may repeat.
	TypeRecordingUploaded = "recording_uploaded"
)

// Job types an edge may ask for.
const (
	JobVOD          = "vod"
	JobRecordingVOD = "recording-vod"
	JobClip         = "clip"
	// JobCaptions transcribes a ready asset's speech (CaptionsJob).
	JobCaptions = "captions"
)

// LeaseJobsRequest asks for up to Max jobs of the listed types.
type LeaseJobsRequest struct {
	Types []string `json:"types"`
	Max   int      `json:"max"`
}

// LeaseJobsReply hands jobs to the edge; each is its until it stops
// renewing for LeaseTTLMS.
type LeaseJobsReply struct {
	Jobs       []Job `json:"jobs"`
	LeaseTTLMS int64 `json:"lease_ttl_ms"`
}

// LeaseTTL is LeaseTTLMS as a duration.
func (r LeaseJobsReply) LeaseTTL() time.Duration {
	return time.Duration(r.LeaseTTLMS) * time.Millisecond
}

// Job is one leased unit of media work. Payload is VODJob for vod and
// recording-vod jobs and ClipJob for clip jobs.
type Job struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	OrgID   string          `json:"org_id"`
	AssetID string          `json:"asset_id,omitempty"`
	Attempt int             `json:"attempt"`
	Payload json.RawMessage `json:"payload"`
	// TimeoutMS bounds this attempt (0: none); the control plane takes the
	// job back after it.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// VODJob turns a source file in object storage into an on-demand asset:
// the ABR HLS ladder under Prefix+"hls/", a thumbnail and a storyboard.
type VODJob struct {
	// SourceKey is the object key of the source media file.
	SourceKey string `json:"source_key"`
	// Prefix is the asset's object prefix (objstore.AssetPrefix), where
	// every output goes.
	Prefix string `json:"prefix"`
	// MaxSourceBytes, when positive, refuses larger sources (uploads).
	MaxSourceBytes int64 `json:"max_source_bytes,omitempty"`
	// DeleteRejected deletes the asset's objects, source included, when the
	// source is refused as not media or too large (uploads: nothing of a
	// bad upload is kept). Recordings are never deleted.
	DeleteRejected bool `json:"delete_rejected,omitempty"`
	// StoryboardInterval is the seconds between storyboard tiles; 0 picks
	// one from the duration.
	StoryboardInterval float64 `json:"storyboard_interval,omitempty"`
	// Live, on a recording-vod job, says the live session's ladder is in
	// the store already as the asset's renditions: the job makes only the
	// thumbnail and storyboard (from the source) unless Live.Playlist is
	// missing, when it transcodes as without Live.
	Live *LiveRenditions `json:"live,omitempty"`
}

// LiveRenditions are the renditions a live session encoded, uploaded by
// the edge as an asset's VOD ladder under Prefix+"hls/" (the layout a VOD
// transcode writes): Playlist is the multivariant playlist's key.
type LiveRenditions struct {
	Playlist   string      `json:"playlist"`
	Renditions []Rendition `json:"renditions"`
	// Duration is the seconds the renditions cover; Segments how many
	// media segments each rung has.
	Duration float64 `json:"duration"`
	Segments int     `json:"segments,omitempty"`
}

// ClipJob cuts [Start, End) seconds of a source into a new asset's
// source.mp4 under Prefix, then prepares it as a VODJob would.
type ClipJob struct {
	SourceKey string  `json:"source_key"`
	Prefix    string  `json:"prefix"`
	Start     float64 `json:"start"`
	End       float64 `json:"end"`
	// Reencode cuts frame-accurately by re-encoding; otherwise the cut is
	// a stream copy starting at the keyframe at or before Start.
	Reencode bool `json:"reencode,omitempty"`
}

// CaptionsJob transcribes the speech of a ready asset in Language (an
// ISO 639-1 code such as "en", or a tag such as "pt-BR"): the WebVTT file
// goes to objstore.CaptionsFile under Prefix, a segmented subtitles
// rendition beside the asset's video renditions under Prefix+"hls/", and
// the asset's master playlist gains its EXT-X-MEDIA line.
type CaptionsJob struct {
	SourceKey string `json:"source_key"`
	Prefix    string `json:"prefix"`
	Language  string `json:"language"`
}

// CaptionsResult is what a captions job made (keys are object keys).
type CaptionsResult struct {
	Language string `json:"language"`
	VTT      string `json:"vtt"`
	Playlist string `json:"playlist"`
	Cues     int    `json:"cues"`
}

// MediaResult is what a finished vod, recording-vod or clip job made; the
// control plane copies it onto the asset and makes it ready. Keys are
// object keys.
type MediaResult struct {
	Duration   float64     `json:"duration"`
	Size       int64       `json:"size,omitempty"`
	SHA256     string      `json:"sha256,omitempty"`
	SourceKey  string      `json:"source_key,omitempty"`
	Tracks     []Track     `json:"tracks,omitempty"`
	Renditions []Rendition `json:"renditions,omitempty"`
	// Playlist is the key of the multivariant playlist.
	Playlist   string      `json:"playlist,omitempty"`
	Thumbnail  string      `json:"thumbnail,omitempty"`
	Storyboard *Storyboard `json:"storyboard,omitempty"`
	// Captions is set by a captions job, which sets nothing else.
	Captions *CaptionsResult `json:"captions,omitempty"`
	// FromLive is set when a recording-vod job kept the live session's
	// renditions instead of transcoding the recording again.
	FromLive bool `json:"from_live,omitempty"`
}

// Track is one elementary stream of a source.
type Track struct {
	Type       string  `json:"type"` // "video" or "audio"
	Codec      string  `json:"codec,omitempty"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FPS        float64 `json:"fps,omitempty"`
	Channels   int     `json:"channels,omitempty"`
	SampleRate int     `json:"sample_rate,omitempty"`
}

// Rendition is one rung of the HLS ladder.
type Rendition struct {
	Name      string `json:"name"`
	Width     int    `json:"width,omitempty"`
	Height    int    `json:"height,omitempty"`
	Bandwidth int    `json:"bandwidth"`
}

// Storyboard is a sprite sheet and the WebVTT file of #xywh cues into it.
type Storyboard struct {
	Image string `json:"image"`
	VTT   string `json:"vtt"`
	// Tile size in pixels, columns and rows of the sheet, seconds per tile.
	TileWidth  int     `json:"tile_width,omitempty"`
	TileHeight int     `json:"tile_height,omitempty"`
	Columns    int     `json:"columns,omitempty"`
	Rows       int     `json:"rows,omitempty"`
	Interval   float64 `json:"interval,omitempty"`
}

// JobProgress is what ffmpeg's -progress output says of a running job.
type JobProgress struct {
	Percent float64 `json:"percent"`
	FPS     float64 `json:"fps,omitempty"`
	Speed   float64 `json:"speed,omitempty"`
	// Frame and BitrateKbps are ffmpeg's frame count and output bitrate
	// (the event stream shows them; the lease renewal ignores them).
	Frame       int64   `json:"frame,omitempty"`
	BitrateKbps float64 `json:"bitrate_kbps,omitempty"`
}

// JobReport is one running job in a renewal.
type JobReport struct {
	ID       string       `json:"id"`
	Progress *JobProgress `json:"progress,omitempty"`
}

// RenewJobsRequest renews the leases of every job the edge runs.
type RenewJobsRequest struct {
	Jobs []JobReport `json:"jobs"`
}

// RenewJobsReply sorts the reported jobs: Renewed go on; Cancelled and Lost
// must stop at once and are not reported again.
type RenewJobsReply struct {
	Renewed    []string `json:"renewed"`
	Cancelled  []string `json:"cancelled"`
	Lost       []string `json:"lost"`
	LeaseTTLMS int64    `json:"lease_ttl_ms"`
}

// WatchJobsRequest waits, up to WaitMS (at most 20 s), until one of the
// listed jobs must stop: a user cancelled it, or it is no longer the
// edge's. It is how a cancel reaches ffmpeg within a second.
type WatchJobsRequest struct {
	IDs    []string `json:"ids"`
	WaitMS int64    `json:"wait_ms"`
}

// WatchJobsReply lists the jobs to stop now (empty when the wait ended).
type WatchJobsReply struct {
	Stop []string `json:"stop"`
}

// FinishJobRequest ends the edge's attempt at a job. A not-found or
// conflict answer means the job is no longer the edge's; drop it. Repeating
// a finish after an error of unknown outcome is safe.
type FinishJobRequest struct {
	ID        string       `json:"id"`
	Succeeded bool         `json:"succeeded"`
	Result    *MediaResult `json:"result,omitempty"`
	// Error says what failed, for the job's owner: no secrets (presigned
	// URLs, keys) in it. Permanent errors are not retried.
	Error     string `json:"error,omitempty"`
	Permanent bool   `json:"permanent,omitempty"`
}

// RecordingUploaded reports a session's recording confirmed in object
// storage under Key (objstore.AssetKey(org, AssetID, "source.mp4")).
// AssetID is RecordingAssetID(SessionID).
type RecordingUploaded struct {
	SessionID string `json:"session_id"`
	OrgID     string `json:"org_id"`
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	// Renditions, when set, are the live session's renditions, confirmed
	// in the store before this registration under the asset's "hls/"
	// prefix; an edge that sends none (an incomplete ladder, a crash
	// mid-session, an older edge) has the recording transcoded again.
	Renditions *LiveRenditions `json:"renditions,omitempty"`
}

// RecordingUploadedReply names the recording's asset and its VOD job.
type RecordingUploadedReply struct {
	AssetID string `json:"asset_id"`
	JobID   string `json:"job_id"`
}

// RecordingAssetID is the id of the asset a session's recording becomes,
// derived from the session id so that the edge can name the object before
// the asset exists and a repeated registration finds the same asset:
// "ses_x" becomes "ast_x".
func RecordingAssetID(sessionID string) string {
	if len(sessionID) > 4 && sessionID[:4] == "ses_" {
		return "ast_" + sessionID[4:]
	}
	return "ast_" + sessionID
}

// AssetPlayback is what an edge needs to serve an on-demand asset: where
// its objects are. It is set in PlaybackInfoReply for an asset's playback
// id.
type AssetPlayback struct {
	ID     string `json:"id"`
	Prefix string `json:"prefix"`
	Ready  bool   `json:"ready"`
	// SourceKey is the source file, for thumbnails at a given time.
	SourceKey string  `json:"source_key,omitempty"`
	Duration  float64 `json:"duration,omitempty"`
}
