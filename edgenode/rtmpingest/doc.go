// Package rtmpingest is the RTMP adapter of the live core: it turns each
// publish an rtmp.Server accepts into a live.Session. It asks the core
// whether the publisher may go live, re-muxes the RTMP messages into an FLV
// byte stream, and learns what the source is from what RTMP carries
// (onMetaData and the H.264 sequence header), buffering the first messages
// within fixed bounds until it knows.
//
// It deliberately holds no session policy: authorization, the
// one-publisher-per-key rule, the stall timeout, ffmpeg, the recording and
// the reports are the core's (package live), shared with every other
// ingest protocol. Nor does it speak RTMP itself: that is package rtmp,
// which knows nothing of streams or keys beyond passing them on.
package rtmpingest
