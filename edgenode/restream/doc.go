// Package restream runs restream jobs on the edge: it relays a live
// session's source, as it is, to one restream target (YouTube, Twitch,
// Facebook, Kick or any RTMP/RTMPS server) for as long as the session
// lasts or until the control plane cancels the job.
//
// A relay taps the session's source in the live core (live.Core.Tap),
// pipes it through an ffmpeg that only remuxes it to FLV (-c copy: no
// decode, no encode; the command is built by Args), and publishes
// ffmpeg's output with our own RTMP client (rtmp.Publish). The target's
// URL and stream key come from the control plane when the job starts
// (restream_credentials), are held in memory only and never reach
// ffmpeg's arguments, a log line or an error, so neither ps nor the logs
// show them. When the target drops the relay reconnects with exponential
// backoff (bounded per wait, and in total by MaxFailures consecutive
// failures), resuming at the next keyframe after the metadata and
// sequence headers; each change of state (live, reconnecting, failed) is
// reported to the control plane (restream_status), which shows it on the
// target and emits its event.
//
// It deliberately does not transcode (a target that needs another
// bitrate needs a ladder rung, not a relay), nor decide which targets
// run: the control plane queues one pinned job per enabled target while
// the stream is live.
package restream
