package restream

import "github.com/livestreams/livestreams/edgenode/live"

// outputFD is the descriptor ffmpeg writes its FLV to: the first of
// ProcessConfig.ExtraFiles (stdout carries nothing, stderr its log).
const outputFD = 3

// Args is ffmpeg's command for a relay of src: read the tapped stream on
// stdin, copy its video (never a second decode) and its audio into FLV on
// descriptor 3. FLV (and every RTMP platform) takes AAC and MP3 audio
// only, so other audio (a browser's Opus through WHIP) is encoded to AAC:
// cheap next to video, and the target gets sound. It holds no URL and no
// key.
func Args(src live.Source) []string {
	audio := []string{"-c:a", "copy"}
	switch src.AudioCodec {
	case "aac", "mp3", "":
	default:
		audio = []string{"-c:a", "aac", "-b:a", "160k", "-ar", "48000"}
	}
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		"-f", string(src.Format), "-i", "pipe:0",
		"-map", "0:v:0?", "-map", "0:a:0?", "-c:v", "copy"}
	args = append(args, audio...)
	return append(args, "-f", "flv", "-flvflags", "no_duration_filesize", "pipe:3")
}
