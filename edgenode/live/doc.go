// Package live is the edge's live core: the one pipeline every ingest
// protocol feeds. An ingest adapter (RTMP today; SRT, WHIP and an SRS pull
// next) asks Core.Publish whether a publisher may go live, then writes the
// publisher's media as a container byte stream (FLV or MPEG-TS), tells the
// session what the source is once it knows (Session.Start with a Source),
// and closes the session when the connection ends.
//
// The core owns everything that is the same whatever the protocol:
// authorization through the node's Control (the control plane's answer and
// the stream's settings), the one-publisher-per-key rule, the stall timeout
// (a session whose input stops without closing ends), the ffmpeg that makes
// the HLS ladder and the crash-safe fMP4 recording (built by package
// transcode), the bound on what is buffered before ffmpeg starts, and the
// session's lifecycle: started and ended reports to Control, the recording
// finalized before the end is reported. Every session is a goroutine the
// Core owns; Core.Run returns only once all of them have ended.
//
// It deliberately knows no ingest protocol (MediaMTX's internal/stream is
// the model): it parses no container and imports no protocol package.
// Probing what a source is (size, frame rate, codecs, which tracks arrive)
// is the adapter's job, done from what its protocol carries. Nor does it
// talk to the control plane, keep stream keys beyond the live set, or
// upload recordings: the edge node does, behind Control.
package live
