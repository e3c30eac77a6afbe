package transcode

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// passThroughProfiles are the H.264 profiles every player decodes, all
// 8-bit 4:2:0: Constrained Baseline and Baseline (66), Main (77), High
// (100). High 10, 4:2:2 and 4:4:4 sources are re-encoded.
var passThroughProfiles = map[int]bool{66: true, 77: true, 100: true}

// passThrough reports whether src can be served as the top rung as it is,
// without decoding and re-encoding it: H.264 in a profile every player
// decodes, no larger than the rung's box (so the re-encode would not have
// scaled it either), at most the rung's peak bitrate, and keyframes that
// fall on segment boundaries (an interval that divides the segment
// length, within half a frame), since a copied stream can only be cut at
// its own keyframes. Whatever the publisher's first seconds did not show
// is unknown, and unknown does not fit: re-encoding is always correct.
func passThrough(src Source, top Rung, seg time.Duration) bool {
	if src.VideoCodec != "h264" || !passThroughProfiles[src.VideoProfile] {
		return false
	}
	if src.Width > top.Width || src.Height > top.Height {
		return false
	}
	if src.VideoKbps <= 0 || src.VideoKbps > top.MaxrateKbps {
		return false
	}
	// 29.97 fps counts 60 frames as 2.002 s: half a frame of slack.
	halfFrame := time.Second / time.Duration(2*keyframeFPS(src.FrameRate))
	k := src.KeyframeInterval
	if k <= 0 || k > seg+halfFrame {
		return false
	}
	rem := seg % k
	return rem <= halfFrame || k-rem <= halfFrame
}

// passThroughPreset is the x264 preset of the rungs encoded beside a
// copied top rung: superfast for a live session. Measured on a 720p30
// source (BenchmarkLiveLadderDensity) it costs 17 % less CPU than
// veryfast for an SSIM 0.0005 lower at 480p and 360p, well inside the
// 0.005 the density goal allows, and it is what brings the ladder to
// half of the all-re-encoded one.
func passThroughPreset(m Mode, preset string) string {
	if m == Live {
		return "superfast"
	}
	return preset
}

// videoArgs are the video part of the ladder: the filter graph, the maps
// (each rung's video and, with audio, the source's audio after it) and
// the encoders' options, indexed by rung.
//
// The source is decoded once and split to one scaler per encoded rung.
// When the source passes through as the top rung, that rung is the
// input's own stream copied, and the other rungs take their keyframes
// where the source has its own (-force_key_frames source), so their
// segments are cut at the same instants as the copied one's. Otherwise
// every rung is encoded with keyframes forced at every segment boundary.
func videoArgs(p Params, rungs []Rung, latency Latency) []string {
	seg := latency.segmentSeconds()
	gop := keyframeFPS(p.Source.FrameRate) * seg
	copyTop := p.Mode == Live && passThrough(p.Source, rungs[0], time.Duration(seg)*time.Second)
	encoded := rungs
	if copyTop {
		encoded = rungs[1:]
	}

	var args []string
	if len(encoded) > 0 {
		// Decode once, split, scale per rung.
		var graph strings.Builder
		first := len(rungs) - len(encoded)
		fmt.Fprintf(&graph, "[0:v]split=%d", len(encoded))
		for i := range encoded {
			fmt.Fprintf(&graph, "[v%d]", first+i)
		}
		for i, r := range encoded {
			w, h := fitEven(p.Source.Width, p.Source.Height, r.Width, r.Height)
			fmt.Fprintf(&graph, ";[v%d]scale=w=%d:h=%d,setsar=1[v%do]", first+i, w, h, first+i)
		}
		args = append(args, "-filter_complex", graph.String())
	}
	for i := range rungs {
		if copyTop && i == 0 {
			args = append(args, "-map", "0:v:0")
		} else {
			args = append(args, "-map", fmt.Sprintf("[v%do]", i))
		}
		if p.Source.HasAudio {
			args = append(args, "-map", "0:a:0")
		}
	}

	preset := livePreset
	if p.Mode == VOD {
		preset = vodPreset
	}
	if copyTop {
		// The first video stream is copied; the encoders' options go to
		// the others by index, as a copied stream refuses them.
		args = append(args, "-c:v:0", "copy")
		for i := 1; i < len(rungs); i++ {
			v := ":v:" + strconv.Itoa(i)
			args = append(args, "-c"+v, "libx264", "-preset"+v, passThroughPreset(p.Mode, preset))
			if latency == Low {
				args = append(args, "-tune"+v, "zerolatency")
			}
			// Keyframes only where the source has them: x264's own
			// interval is set past the source's so that it never adds
			// one early, which would cut this rung's segment where the
			// copied one has none. Frames keep the source's timestamps
			// (fps_mode passthrough): constant-rate timing would move a
			// millisecond-stamped keyframe to the next 1/fps slot, a
			// frame away from the copied rung's.
			args = append(args, "-profile"+v, "main", "-pix_fmt"+v, "yuv420p",
				"-g"+v, strconv.Itoa(2*gop), "-keyint_min"+v, strconv.Itoa(gop), "-sc_threshold"+v, "0",
				"-force_key_frames"+v, "source", "-fps_mode"+v, "passthrough")
		}
	} else {
		args = append(args, "-c:v", "libx264", "-preset", preset)
		if latency == Low {
			args = append(args, "-tune", "zerolatency")
		}
		// Every rung gets a keyframe at the same instants, so segments
		// line up across rungs and a player can switch at any segment
		// boundary.
		g := strconv.Itoa(gop)
		args = append(args, "-profile:v", "main", "-pix_fmt", "yuv420p",
			"-g", g, "-keyint_min", g, "-sc_threshold", "0",
			"-force_key_frames", fmt.Sprintf("expr:gte(t,n_forced*%d)", seg))
	}
	for i, r := range rungs {
		if copyTop && i == 0 {
			continue
		}
		n := strconv.Itoa(i)
		args = append(args,
			"-b:v:"+n, kbps(r.VideoKbps),
			"-maxrate:v:"+n, kbps(r.MaxrateKbps),
			"-bufsize:v:"+n, kbps(r.BufsizeKbps))
	}
	return args
}
