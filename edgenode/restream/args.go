package restream

import "github.com/livestreams/livestreams/edgenode/live"

// outputFD is the descriptor ffmpeg writes its FLV to: the first of
// ProcessConfig.ExtraFiles (stdout carries nothing, stderr its log).
const outputFD = 3

// Args is ffmpeg's command for a relay of a source in format: read the
// tapped stream on stdin, copy every audio and video stream into FLV on
// descriptor 3. It holds no URL and no key.
func Args(format live.Format) []string {
	return []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		"-f", string(format), "-i", "pipe:0",
		"-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy",
		"-f", "flv", "-flvflags", "no_duration_filesize", "pipe:3"}
}
