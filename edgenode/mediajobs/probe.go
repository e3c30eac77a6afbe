package mediajobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/protocol"
)

// probeResult is what ffprobe says of a file.
type probeResult struct {
	Format string
	// Duration is in seconds; 0 when unknown (a still image).
	Duration float64
	// Video is the first video stream that is not cover art, with its
	// displayed size (rotation applied); nil when there is none.
	Video    *protocol.Track
	HasAudio bool
	// Tracks lists the audio and video streams in file order.
	Tracks []protocol.Track
}

// source is what transcode.Build needs to know.
func (p probeResult) source() transcode.Source {
	s := transcode.Source{HasAudio: p.HasAudio}
	if p.Video != nil {
		s.HasVideo, s.Width, s.Height, s.FrameRate = true, p.Video.Width, p.Video.Height, p.Video.FPS
	}
	return s
}

// probeJSON is the part of ffprobe's -print_format json output we read.
type probeJSON struct {
	Streams []struct {
		CodecType    string `json:"codec_type"`
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		AvgFrameRate string `json:"avg_frame_rate"`
		RFrameRate   string `json:"r_frame_rate"`
		Channels     int    `json:"channels"`
		SampleRate   string `json:"sample_rate"`
		Duration     string `json:"duration"`
		Disposition  struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
		Tags struct {
			Rotate string `json:"rotate"`
		} `json:"tags"`
		SideData []struct {
			Rotation float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// Sanity bounds on what a file may claim, so that garbage cannot turn into
// absurd ffmpeg arguments.
const (
	maxDimension = 16384
	maxDuration  = 30 * 24 * 3600 // seconds
)

// parseProbe reads ffprobe's JSON. Fields that are missing or out of range
// are zero; only JSON that does not parse is an error.
func parseProbe(data []byte) (probeResult, error) {
	var j probeJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return probeResult{}, fmt.Errorf("parse ffprobe output: %w", err)
	}
	var p probeResult
	p.Format = j.Format.FormatName
	var streamMax float64
	video := -1
	for _, s := range j.Streams {
		switch s.CodecType {
		case "video":
			if s.Disposition.AttachedPic != 0 {
				continue // an mp3's cover art is not video
			}
			w, h := s.Width, s.Height
			if w <= 0 || h <= 0 || w > maxDimension || h > maxDimension {
				w, h = 0, 0
			}
			if quarterTurn(s.Tags.Rotate, s.SideData) {
				w, h = h, w
			}
			fps := parseRatio(s.AvgFrameRate)
			if fps == 0 {
				fps = parseRatio(s.RFrameRate)
			}
			t := protocol.Track{Type: "video", Codec: s.CodecName, Width: w, Height: h, FPS: fps}
			if video < 0 && w > 0 {
				video = len(p.Tracks)
			}
			p.Tracks = append(p.Tracks, t)
		case "audio":
			rate, _ := strconv.Atoi(s.SampleRate)
			t := protocol.Track{Type: "audio", Codec: s.CodecName, Channels: max(s.Channels, 0), SampleRate: max(rate, 0)}
			p.Tracks = append(p.Tracks, t)
			p.HasAudio = true
		default:
			continue
		}
		streamMax = max(streamMax, parseSeconds(s.Duration))
	}
	if video >= 0 {
		p.Video = &p.Tracks[video]
	}
	p.Duration = parseSeconds(j.Format.Duration)
	if p.Duration == 0 {
		p.Duration = streamMax
	}
	return p, nil
}

// quarterTurn reports whether a stream is displayed rotated by 90 or 270
// degrees (a phone held upright); ffmpeg rotates such video when it
// decodes it, so its displayed width and height are swapped.
func quarterTurn(tag string, side []struct {
	Rotation float64 `json:"rotation"`
}) bool {
	deg, err := strconv.ParseFloat(tag, 64)
	if err != nil {
		deg = 0
		for _, s := range side {
			if s.Rotation != 0 {
				deg = s.Rotation
				break
			}
		}
	}
	if math.IsNaN(deg) || math.IsInf(deg, 0) {
		return false
	}
	return int(math.Abs(math.Round(deg)))%180 == 90
}

// parseRatio parses ffprobe's "30000/1001" (or "25"); 0 for unknown.
func parseRatio(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	d := 1.0
	if ok {
		if d, err = strconv.ParseFloat(den, 64); err != nil || d == 0 {
			return 0
		}
	}
	f := n / d
	if math.IsNaN(f) || f <= 0 || f > 1000 {
		return 0
	}
	return f
}

// parseSeconds parses a duration in seconds; 0 for unknown or absurd.
func parseSeconds(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > maxDuration {
		return 0
	}
	return f
}

// probeFailure is ffprobe refusing the input. Media is set when the reason
// is the data itself (not media, truncated, unknown format) rather than
// getting at it (network, permissions), which a retry may fix.
type probeFailure struct {
	Reason string
	Media  bool
}

func (e *probeFailure) Error() string { return "ffprobe: " + e.Reason }

// accessErrors are ffprobe reasons that mean it could not read the input,
// not that the input is bad.
var accessErrors = []string{
	"server returned", "connection", "timed out", "timeout", "input/output error",
	"network", "no route", "resolve", "reset by peer", "broken pipe",
	"permission denied", "no such file", "http error", "resource temporarily unavailable",
	"cannot allocate memory",
}

func isAccessError(reason string) bool {
	r := strings.ToLower(reason)
	for _, a := range accessErrors {
		if strings.Contains(r, a) {
			return true
		}
	}
	return false
}

// Bounds of one ffprobe run.
const (
	probeTimeout = 30 * time.Second
	// maxProbeOutput bounds the JSON kept from ffprobe: a file with
	// thousands of streams cannot grow memory without limit.
	maxProbeOutput = 8 << 20
	// rwTimeout is how long ffmpeg and ffprobe wait on a stalled read of
	// an http input before they fail (microseconds).
	rwTimeout = "30000000"
)

// probe runs ffprobe on input (an http URL or a path), in bounded time.
func (r *Runner) probe(ctx context.Context, input string, red *redactor) (probeResult, error) {
	out, err := r.ffprobe(ctx, input, red)
	if err != nil {
		return probeResult{}, err
	}
	return parseProbe(out)
}

func (r *Runner) ffprobe(ctx context.Context, input string, red *redactor) ([]byte, error) {
	return r.ffprobeWith(ctx, input, red, "-show_format", "-show_streams")
}

// ffprobeWith runs ffprobe with JSON output and the given query options.
func (r *Runner) ffprobeWith(ctx context.Context, input string, red *redactor, query ...string) ([]byte, error) {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	args := append([]string{"-hide_banner", "-v", "error", "-print_format", "json"}, query...)
	if isHTTP(input) {
		args = append(args, "-rw_timeout", rwTimeout)
	}
	args = append(args, ffmpegInput(input))
	bin, args := transcode.Niced(Nice, r.ffprobeBin, args)
	cmd := exec.CommandContext(pctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	stdout := &capBuffer{max: maxProbeOutput}
	stderr := &capBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ffprobe: %w", err)
	}
	pid := cmd.Process.Pid
	r.track(pid)
	err := cmd.Wait()
	r.untrack(pid)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case pctx.Err() != nil:
		return nil, fmt.Errorf("ffprobe gave no answer within %s", probeTimeout)
	case err != nil:
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return nil, fmt.Errorf("ffprobe: %w", err)
		}
		reason := probeReason(stderr.String(), input, red)
		if reason == "" {
			reason = err.Error()
		}
		return nil, &probeFailure{Reason: reason, Media: !isAccessError(reason)}
	case stdout.over:
		return nil, &probeFailure{Reason: fmt.Sprintf("output over %d bytes", maxProbeOutput), Media: true}
	}
	return stdout.Bytes(), nil
}

// probeReason is ffprobe's last complaint without the input's name, which
// it puts in front ("URL: Invalid data found when processing input").
func probeReason(stderr, input string, red *redactor) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	for _, name := range []string{ffmpegInput(input), input} {
		if rest, ok := strings.CutPrefix(last, name+": "); ok {
			last = rest
			break
		}
	}
	return red.redact(last)
}

// capBuffer keeps the first max bytes written to it and notes the rest.
type capBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// isHTTP reports whether input is a URL ffmpeg fetches over HTTP.
func isHTTP(input string) bool {
	l := strings.ToLower(input)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// ffmpegInput is input as ffmpeg must see it: URLs as they are, paths
// behind "file:" so that a name with a colon is not read as a protocol.
func ffmpegInput(input string) string {
	if isHTTP(input) {
		return input
	}
	return "file:" + input
}

// keyframes lists the presentation times of the video keyframes of input
// between from and to seconds (from the start of the file), read from the
// packet index without decoding.
func (r *Runner) keyframes(ctx context.Context, input string, red *redactor, from, to float64) ([]float64, error) {
	out, err := r.ffprobeWith(ctx, input, red, "-select_streams", "v:0",
		"-read_intervals", fmt.Sprintf("%.3f%%%.3f", max(from, 0), to), "-show_entries", "packet=pts_time,flags:format=start_time")
	if err != nil {
		return nil, err
	}
	return parseKeyframes(out)
}

// parseKeyframes reads keyframes' output: keyframe times made relative to
// the file's start time, as -ss counts.
func parseKeyframes(out []byte) ([]float64, error) {
	var v struct {
		Packets []struct {
			PTS   string `json:"pts_time"`
			Flags string `json:"flags"`
		} `json:"packets"`
		Format struct {
			StartTime string `json:"start_time"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("ffprobe packets: %w", err)
	}
	start, _ := strconv.ParseFloat(v.Format.StartTime, 64)
	var kfs []float64
	for _, p := range v.Packets {
		t, err := strconv.ParseFloat(p.PTS, 64)
		if err == nil && strings.HasPrefix(p.Flags, "K") && !math.IsNaN(t) && !math.IsInf(t, 0) {
			kfs = append(kfs, t-start)
		}
	}
	return kfs, nil
}
