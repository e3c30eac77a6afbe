// Package livevod turns a finished live session's HLS renditions into the
// VOD renditions of its recording's asset, so that a recording needs no
// second transcode: Check finds whether every rung the session wrote to its
// HLS directory is whole (an init segment and a gap-free run of segments
// covering the recording, within half a segment), reading the segments'
// media times from the fMP4 itself rather than from a live playlist that
// lists only a sliding window; Stage links those files into a directory of
// their own, beside VOD playlists (EXT-X-PLAYLIST-TYPE:VOD, EXT-X-ENDLIST)
// and a master playlist laid out as a VOD transcode lays out its output.
//
// What it deliberately does not do: upload (the edge's durable queue,
// package recordingupload, does), decide whether a session ended cleanly
// (the edge knows why it ended), or repair a ladder with a gap (the
// recording is transcoded again instead).
package livevod
