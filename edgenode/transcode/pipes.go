package transcode

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PartTarget is the LL-HLS part length of a low-latency live session:
// about a third of a second (10 frames at 30 fps, 8 at 25), a millisecond
// of slack so that whole frames fit.
const PartTarget = 334 * time.Millisecond

// StandardPartTarget is the part length of a standard-latency session:
// its 2 s segments are also listed as 1 s parts, so that an LL-HLS player
// (hls.js by default, Safari) plays 3 s behind the edge (PART-HOLD-BACK)
// instead of the three segments (6 s) a player without parts keeps.
const StandardPartTarget = time.Second

// Packaging is what a caller packaging Build's piped output (Params.Pipes)
// needs to know.
type Packaging struct {
	Renditions []Rendition // in pipe order: Renditions[i] is on fd 3+i
	Segment    time.Duration
	Part       time.Duration // LL-HLS part target (PartTarget, StandardPartTarget)
	Window     int           // segments a live media playlist lists
}

// Rendition is one rung of the packaged output.
type Rendition struct {
	Name      string
	Bandwidth int // peak bits per second, audio included
}

// Packaging returns how p's piped output is to be packaged.
func (p Params) Packaging() (Packaging, error) {
	if err := p.validate(); err != nil {
		return Packaging{}, err
	}
	ladder := p.Ladder
	if ladder == nil {
		ladder = DefaultLadder()
	}
	rungs, err := selectRungs(ladder, p.Source)
	if err != nil {
		return Packaging{}, fmt.Errorf("ladder: %w", err)
	}
	latency := p.Latency
	if latency == "" {
		latency = Standard
	}
	seg := latency.segmentSeconds()
	out := Packaging{Segment: time.Duration(seg) * time.Second, Window: listSize(p.Window, seg)}
	out.Part = StandardPartTarget
	if latency == Low {
		out.Part = PartTarget
	}
	for _, r := range rungs {
		bw := r.MaxrateKbps
		if p.Source.HasAudio {
			bw += r.AudioKbps
		}
		out.Renditions = append(out.Renditions, Rendition{Name: r.Name, Bandwidth: bw * 1000})
	}
	return out, nil
}

// pipeOutput is the tee muxer writing each rung (its video and, with
// audio, its own AAC) as fragmented MP4 to pipe:3+i. One output keeps the
// encoders' options indexed by rung as for the HLS muxer.
//
// A fragment is cut at every frame (frag_duration of 1 µs, so that the
// audio rides along in the same moof: frag_every_frame would mux each
// audio packet alone, and ffmpeg 5.1 mistimes those), for the packager to
// group into parts, in both latency modes. flush_packets: each fragment
// reaches the pipe when it is complete, not when ffmpeg's 32 KiB buffer
// fills.
func pipeOutput(rungs []Rung, audio bool) []string {
	movflags := "+frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets:frag_duration=1"
	slaves := make([]string, len(rungs))
	for i := range rungs {
		sel := "v:" + strconv.Itoa(i)
		if audio {
			sel += ",a:" + strconv.Itoa(i)
		}
		slaves[i] = fmt.Sprintf(`[select=\'%s\':f=mp4:movflags=%s:flush_packets=1]pipe\:%d`, sel, movflags, 3+i)
	}
	// The mp4 muxer needs the codecs' parameter sets out of band (avcC,
	// the AAC config); the tee muxer does not ask the encoders for them.
	return []string{"-flags", "+global_header", "-f", "tee", strings.Join(slaves, "|")}
}
