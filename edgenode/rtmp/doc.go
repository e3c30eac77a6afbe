// Package rtmp is the edge's RTMP ingest: a server that accepts
// publishers (OBS, ffmpeg, librtmp-based encoders) and hands each
// accepted publish's audio, video and metadata to a Sink.
//
// It implements the simple handshake, the chunk stream (all four chunk
// header types, extended timestamps, chunk size changes, Abort,
// acknowledgements), and the AMF0 commands a publisher sends: connect,
// releaseStream, FCPublish, createStream, publish, FCUnpublish and
// deleteStream. Whether a publish may start is decided by the
// Config.OnPublish callback before any media is accepted; the package
// knows nothing about stream keys beyond passing them on, and logs them
// only redacted.
//
// Everything read from the network is untrusted: message and chunk sizes,
// the number of chunk streams and of half-assembled messages, connection
// count and every phase's duration are bounded, and malformed input
// closes the one connection with a logged reason.
//
// RTMPS is the same server behind a TLS listener (crypto/tls's
// NewListener) handed to Serve beside the plain one: the TLS handshake
// runs on the connection's first read, under the handshake deadline.
//
// Play is the one client function: it pulls a stream from another RTMP
// server (SRS in front of an edge) and hands its messages on as a Sink
// gets them, with the same chunk codec and bounds.
//
// It deliberately does not serve playback (play is refused), the
// signed (Flash Player 9) or encrypted (RTMPE) handshakes, AMF3 beyond
// its AMF0 escape, or shared objects.
package rtmp
