// Package transcode turns one incoming video into an HLS ladder (and
// optionally a crash-safe recording) with a single ffmpeg run, and
// supervises that run.
//
// It has two halves that do not know about each other. Build is a pure
// function from Params to ffmpeg's argument vector: which rungs of the
// ladder a source gets (never an upscale), aligned keyframes so every rung
// cuts segments at the same instants, fMP4 HLS with a master playlist, and
// a fragmented MP4 recording that stays readable if ffmpeg is killed.
// Start runs such a command as a Process: its own process group, progress
// parsed from -progress output, a bounded tail of stderr, a graceful Stop
// that escalates to SIGKILL, and exactly one reaper.
//
// It deliberately does not decide where files live, serve HLS, learn what
// the source is (the caller probes and passes a Source), restart a failed
// ffmpeg, or upload recordings. FinalizeRecording only decides whether a
// recording is worth keeping and makes it durable.
package transcode
