package transcode

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mode says whether the input arrives in real time (a publish) or is a
// finished file being packaged for on-demand playback.
type Mode int

const (
	// Live input arrives in real time; each media playlist lists a
	// sliding window of the latest segments while it runs.
	Live Mode = iota
	// VOD input is a finished file; playlists are complete when it ends.
	VOD
)

func (m Mode) String() string {
	switch m {
	case Live:
		return "live"
	case VOD:
		return "vod"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Latency trades viewer delay against efficiency: Low halves the segment
// length and turns off x264's lookahead.
type Latency string

const (
	Standard Latency = "standard"
	Low      Latency = "low"
)

// Source is what the caller knows about the input before ffmpeg starts.
type Source struct {
	Width, Height      int
	FrameRate          float64 // 0 = unknown (30 is assumed)
	HasAudio, HasVideo bool
	// AudioCodec is ffmpeg's name of the source's audio ("aac", "opus");
	// "" when unknown. The ladder encodes AAC whatever it is; the
	// recording copies it.
	AudioCodec string

	// What the publisher's first seconds say about its video, zero when
	// unknown: ffmpeg's codec name ("h264"), the H.264 profile_idc, the
	// bitrate and the interval between keyframes. A source that fits the
	// top rung by all of them is passed through as that rung instead of
	// re-encoded (see passThrough); an unknown value never fits.
	VideoCodec       string
	VideoProfile     int
	VideoKbps        int
	KeyframeInterval time.Duration
}

// Params describes one transcode.
type Params struct {
	Input       string // a path or URL ffmpeg reads, e.g. "pipe:0"
	InputFormat string // e.g. "flv"; "" lets ffmpeg probe
	Source      Source
	Mode        Mode
	Latency     Latency // "" = Standard
	Ladder      []Rung  // nil = DefaultLadder()

	// OutDir receives OutDir/master.m3u8 and, per rung, OutDir/<name>/
	// with index.m3u8, the fMP4 init segment and the media segments.
	OutDir string

	// RecordPath, when set, also writes the untouched source there as
	// fragmented MP4, in the same ffmpeg run.
	RecordPath string

	// Window is how much of a live session its media playlists list: the
	// latest Window of segments, older ones falling out (their files stay
	// on disk; the recording holds the whole session anyway). 0 is
	// DefaultWindow; it is capped at MaxWindow and never lists fewer than
	// minWindowSegments segments. VOD playlists list everything.
	Window time.Duration

	// Progress adds -progress pipe:1 so Process can report progress.
	Progress bool

	// Pipes, for a live transcode, replaces ffmpeg's HLS muxer with
	// fragmented MP4 per rung on file descriptors 3, 4, … in the order
	// of Params.Packaging's renditions (exec.Cmd.ExtraFiles), for the
	// caller to package (edgenode/llhls: LL-HLS parts in low latency).
	Pipes bool

	// Tag, when set, goes into every segment and init segment name
	// (seg_TAG_00001.m4s, init_TAG_720p.mp4). Segments are served as
	// immutable, so two sessions of one stream must never write different
	// bytes under the same URL; the live path passes the session id.
	Tag string
}

// Live playlist windows.
const (
	// DefaultWindow is the live window of a stream that sets none: enough
	// to rewind a little, small enough that a playlist re-fetched every
	// second by every viewer stays a few kilobytes.
	DefaultWindow = 5 * time.Minute
	// MaxWindow bounds a stream's window (a 6 h low-latency playlist
	// already lists 21,600 segments).
	MaxWindow = 6 * time.Hour
	// minWindowSegments: a live playlist must span at least three target
	// durations (RFC 8216bis 6.2.2) for players to keep up.
	minWindowSegments = 3
)

// Encoding choices that are policy, not parameters.
const (
	defaultFPS  = 30
	maxFPS      = 120
	audioRate   = "48000"
	audioChans  = "2"
	livePreset  = "veryfast" // keeps up in real time on a small edge
	vodPreset   = "medium"   // not real time: better quality per bit
	initSegment = "init.mp4"
	// recordingFragment bounds what a crash can lose from the recording
	// even when the publisher sends keyframes rarely (OBS's "auto" is
	// about 8 s): a fragment is cut at every keyframe or after this long.
	recordingFragment = "2000000" // µs
	// liveAnalyzeDuration bounds ffmpeg's look at a live MPEG-TS input.
	liveAnalyzeDuration = "1000000" // µs
)

// fitEven returns the size of a source scaled to fit inside a box, keeping
// its aspect ratio, each side rounded to the nearest even number (4:2:0
// chroma needs even sizes) and never beyond the box: 1280x720 into
// 854x480 is 854x480, where ffmpeg's own rounding down would give 852.
func fitEven(srcW, srcH, boxW, boxH int) (int, int) {
	f := min(float64(boxW)/float64(srcW), float64(boxH)/float64(srcH), 1)
	even := func(v float64, limit int) int {
		n := int(math.Round(v/2)) * 2
		if n > limit {
			n = limit &^ 1
		}
		return max(n, 2)
	}
	return even(float64(srcW)*f, boxW), even(float64(srcH)*f, boxH)
}

// initName is the init segment's name. ffmpeg numbers the default name per
// rung by itself, but a custom name must carry %v when there are several
// rungs, and %v is left unexpanded when there is only one.
func initName(tag string, several bool) string {
	switch {
	case tag == "":
		return initSegment
	case several:
		return "init_" + tag + "_%v.mp4"
	default:
		return "init_" + tag + ".mp4"
	}
}

func segmentPattern(tag string) string {
	if tag == "" {
		return "seg_%05d.m4s"
	}
	return "seg_" + tag + "_%05d.m4s"
}

// SegmentLength is the HLS segment length of a live session in latency
// mode l ("" is Standard): what a source's keyframe interval must divide
// for it to pass through as the top rung.
func (l Latency) SegmentLength() time.Duration {
	return time.Duration(l.segmentSeconds()) * time.Second
}

// segmentSeconds is the HLS segment length and the keyframe interval.
func (l Latency) segmentSeconds() int {
	if l == Low {
		return 1
	}
	return 2
}

// listSize is the number of segments a live playlist of window lists with
// segments of seg seconds: the window rounded up to whole segments.
func listSize(window time.Duration, seg int) int {
	if window <= 0 {
		window = DefaultWindow
	}
	window = min(window, MaxWindow)
	segDur := time.Duration(seg) * time.Second
	return max(int((window+segDur-1)/segDur), minWindowSegments)
}

// Build returns ffmpeg's arguments (without the program name) for p: one
// run that decodes the input once, scales it to every rung the source
// gets, encodes each with keyframes at the same instants, and writes fMP4
// HLS with a master playlist; plus the recording when asked. It does no
// I/O.
func Build(p Params) ([]string, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	ladder := p.Ladder
	if ladder == nil {
		ladder = DefaultLadder()
	}
	rungs, err := selectRungs(ladder, p.Source)
	if err != nil {
		return nil, fmt.Errorf("ladder: %w", err)
	}
	latency := p.Latency
	if latency == "" {
		latency = Standard
	}
	seg := latency.segmentSeconds()
	audio := p.Source.HasAudio

	args := []string{"-hide_banner", "-loglevel", "warning",
		// -nostdin turns off ffmpeg's keyboard commands, which would
		// otherwise read from whatever stdin is when the input is a file
		// or URL. It does not stop ffmpeg reading its input from pipe:0.
		"-nostdin", "-y"}
	if p.Progress {
		args = append(args, "-progress", "pipe:1", "-nostats")
	}
	if p.Mode == Live {
		// Publishers' timestamps are not always complete; let the demuxer
		// fill missing presentation timestamps instead of dropping frames.
		args = append(args, "-fflags", "+genpts")
		if p.InputFormat == "mpegts" {
			// From a live MPEG-TS pipe (SRT, WHIP) ffmpeg would read 5 s
			// of media to analyze streams the adapter has already probed,
			// and that delay stays in every segment: 1 s finds the
			// parameters of both tracks.
			args = append(args, "-analyzeduration", liveAnalyzeDuration)
		}
	}
	if p.InputFormat != "" {
		args = append(args, "-f", p.InputFormat)
	}
	args = append(args, "-i", p.Input)

	args = append(args, videoArgs(p, rungs, latency)...)
	if audio {
		args = append(args, "-c:a", "aac", "-ar", audioRate, "-ac", audioChans)
		for i, r := range rungs {
			args = append(args, "-b:a:"+strconv.Itoa(i), kbps(r.AudioKbps))
		}
	}

	if p.Pipes && p.Mode == Live {
		args = append(args, pipeOutput(rungs, audio)...)
	} else {
		args = append(args, hlsOutput(p, rungs, audio, seg)...)
	}

	if p.RecordPath != "" {
		// A second output: its options follow the HLS output's path, so
		// they apply to the recording only. Fragmented MP4 with an empty
		// moov is playable up to the last complete fragment, whatever
		// happens to ffmpeg.
		args = append(args, "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy")
		if p.InputFormat == "mpegts" && p.Source.HasAudio && (p.Source.AudioCodec == "aac" || p.Source.AudioCodec == "") {
			// MPEG-TS carries AAC with ADTS headers, which MP4 does not
			// take as they are (FLV's AAC is raw already). Only AAC: the
			// filter refuses anything else, and Opus (WHIP) copies into
			// MP4 as it is.
			args = append(args, "-bsf:a", "aac_adtstoasc")
		}
		args = append(args, "-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof",
			"-frag_duration", recordingFragment,
			ffmpegPath(filepath.Clean(p.RecordPath)))
	}
	return args, nil
}

// hlsOutput is ffmpeg's own HLS muxer writing every rung: VOD, and live
// without Pipes.
func hlsOutput(p Params, rungs []Rung, audio bool, seg int) []string {
	var args []string
	streamMap := make([]string, len(rungs))
	for i, r := range rungs {
		if audio {
			streamMap[i] = fmt.Sprintf("v:%d,a:%d,name:%s", i, i, r.Name)
		} else {
			streamMap[i] = fmt.Sprintf("v:%d,name:%s", i, r.Name)
		}
	}
	args = append(args, "-f", "hls",
		"-hls_time", strconv.Itoa(seg),
		"-hls_segment_type", "fmp4",
		// With several rungs ffmpeg adds the rung's index to this name
		// (init_0.mp4, ...); playlists reference it by EXT-X-MAP.
		"-hls_fmp4_init_filename", initName(p.Tag, len(rungs) > 1))
	if p.Mode == Live {
		// A sliding window, not an EVENT playlist that grows for the whole
		// session and is re-fetched by every viewer at every segment.
		// Segments that leave the window are not deleted (no
		// delete_segments): a viewer a little behind may still ask for
		// one. temp_file: segments and playlists are written under a
		// temporary name and renamed, so a viewer never fetches a
		// partial file.
		args = append(args, "-hls_list_size", strconv.Itoa(listSize(p.Window, seg)),
			"-hls_flags", "independent_segments+temp_file")
	} else {
		args = append(args, "-hls_playlist_type", "vod", "-hls_flags", "independent_segments")
	}
	args = append(args,
		"-hls_segment_filename", ffmpegPath(filepath.Join(p.OutDir, "%v", segmentPattern(p.Tag))),
		"-master_pl_name", "master.m3u8",
		"-var_stream_map", strings.Join(streamMap, " "),
		ffmpegPath(filepath.Join(p.OutDir, "%v", "index.m3u8")))

	return args
}

func (p Params) validate() error {
	var errs []error
	if p.Input == "" {
		errs = append(errs, errors.New("input is empty"))
	}
	if !p.Source.HasVideo {
		errs = append(errs, errors.New("source has no video"))
	}
	if p.Source.Width <= 0 || p.Source.Height <= 0 {
		errs = append(errs, fmt.Errorf("source size %dx%d must be positive", p.Source.Width, p.Source.Height))
	}
	if p.Mode != Live && p.Mode != VOD {
		errs = append(errs, fmt.Errorf("mode %v is not live or vod", p.Mode))
	}
	switch p.Latency {
	case "", Standard, Low:
	default:
		errs = append(errs, fmt.Errorf("latency %q is not %q or %q", p.Latency, Standard, Low))
	}
	switch {
	case p.OutDir == "":
		errs = append(errs, errors.New("output directory is empty"))
	case strings.Contains(p.OutDir, "%"):
		// The HLS muxer expands %v and %d in these paths; a literal % would
		// be misread and cannot be escaped in every one of them.
		errs = append(errs, fmt.Errorf("output directory %q contains %%", p.OutDir))
	}
	if p.Window < 0 {
		errs = append(errs, fmt.Errorf("window %v is negative", p.Window))
	}
	if p.Tag != "" && !validRungName(p.Tag) {
		errs = append(errs, fmt.Errorf("tag %q: must be 1-32 letters, digits, '-' or '_'", p.Tag))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("transcode params: %w", err)
	}
	return nil
}

// keyframeFPS is the whole frame rate keyframe intervals are counted in:
// 29.97 counts as 30, 23.976 as 24. -force_key_frames keeps segment
// boundaries exact in time even when the rounding is off.
func keyframeFPS(f float64) int {
	if math.IsNaN(f) || f <= 0 {
		return defaultFPS
	}
	return int(math.Round(min(max(f, 1), maxFPS)))
}

func kbps(n int) string { return strconv.Itoa(n) + "k" }

// ffmpegPath keeps a relative path from being read as a protocol URL
// ("a:b.mp4" would be protocol "a"). p must already be clean.
func ffmpegPath(p string) string {
	if filepath.IsAbs(p) || strings.HasPrefix(p, "../") {
		return p
	}
	return "./" + p
}
