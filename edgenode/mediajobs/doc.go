// Package mediajobs runs the media jobs an edge leases from the control plane:
// vod and recording-vod (a source file in object storage becomes an
// on-demand asset: an ABR HLS ladder, a thumbnail and a seek-preview
// storyboard) and clip (a range of a source becomes a new asset's
// source.mp4, then is prepared the same way), and captions (a ready
// asset's speech becomes WebVTT and a subtitles rendition of its HLS
// playlist, through package captions and the engine CaptionsConfig picks).
//
// A Runner reads sources straight from object storage through presigned
// URLs, which ffmpeg and ffprobe reach through a loopback proxy so that no
// signature shows in a process listing (inputproxy.go), probes them with
// ffprobe, transcodes with package transcode (whose
// Build decides the ladder and whose Process supervises ffmpeg), and
// uploads every output under the asset's prefix with deterministic keys,
// so a job that runs twice (a lapsed lease) overwrites rather than
// duplicates. Errors a retry cannot fix are marked (IsPermanent), and no
// error or log line carries a presigned URL.
//
// It deliberately does not lease, renew, watch or finish jobs (the edge
// does, and cancels Run's context when the control plane says stop), pick
// the ladder or encoder settings (transcode.Build), or serve the outputs.
// Audio-only sources are refused as a permanent error: the ladder is a
// video ladder.
package mediajobs
