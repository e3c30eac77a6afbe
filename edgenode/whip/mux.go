package whip

import (
	"bufio"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	mpegtscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/substructs"
)

// Bounds of the muxer.
const (
	// audioWait is how long the first keyframe waits for audio that the
	// offer promised before the stream starts without it: the MPEG-TS
	// program is declared once, and a declared track that never carries
	// anything stalls ffmpeg's interleaving.
	audioWait = time.Second
	// maxPendingBytes bounds the video held while waiting for audio.
	maxPendingBytes = 8 << 20
	// baseTS offsets every timestamp so that the PCR, which runs 0.1 s
	// behind the DTS, is never negative.
	baseTS = 90000
)

// muxer turns depacketized H264 access units and Opus packets, with their
// RTP timestamps, into an MPEG-TS stream on a Sink. It is not safe for
// concurrent use; the session serializes calls.
type muxer struct {
	sink          Sink
	audioExpected bool // the offer sends Opus

	zero         time.Time // arrival of the first packet of any track
	video, audio clock

	started   bool
	audioSeen bool
	sps, pps  []byte
	pending   []accessUnit // from the first keyframe while waiting for audio
	pendBytes int
	waitUntil time.Time

	bw        *bufio.Writer
	w         *mpegts.Writer
	vt, at    *mpegts.Track
	lastDTS   int64
	lastAudio int64
}

type accessUnit struct {
	pts  int64
	nals [][]byte
}

// clock maps one track's 32-bit RTP timestamps to 90 kHz ticks on the
// session's timeline: unwrapped, anchored at the arrival of the track's
// first packet.
type clock struct {
	rate     int64
	set      bool
	last     uint32
	ext      int64 // unwrapped timestamp of last
	first    int64
	offset90 int64 // the first packet's arrival after zero, in 90 kHz ticks
}

func (c *clock) ticks(zero, now time.Time, ts uint32) int64 {
	if !c.set {
		c.set, c.last, c.ext, c.first = true, ts, int64(ts), int64(ts)
		c.offset90 = int64(now.Sub(zero)) * 90000 / int64(time.Second)
	} else {
		c.ext += int64(int32(ts - c.last))
		c.last = ts
	}
	return baseTS + c.offset90 + (c.ext-c.first)*90000/c.rate
}

func newMuxer(sink Sink, audioExpected bool) *muxer {
	return &muxer{sink: sink, audioExpected: audioExpected,
		video: clock{rate: 90000}, audio: clock{rate: 48000}}
}

func (m *muxer) anchor(now time.Time) {
	if m.zero.IsZero() {
		m.zero = now
	}
}

// writeVideo takes one access unit in Annex-B form (what pion's H264
// depacketizer makes). It reports whether the unit was a keyframe.
func (m *muxer) writeVideo(now time.Time, ts uint32, annexB []byte) (bool, error) {
	m.anchor(now)
	pts := m.video.ticks(m.zero, now, ts)
	var raw h264.AnnexB
	if err := raw.Unmarshal(annexB); err != nil {
		return false, nil // a damaged frame: skip it, the decoder copes
	}
	nals := make([][]byte, 0, len(raw)+2)
	for _, n := range raw {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			m.sps = append(m.sps[:0], n...)
		case h264.NALUTypePPS:
			m.pps = append(m.pps[:0], n...)
		case h264.NALUTypeAccessUnitDelimiter:
			continue // the writer puts its own first
		}
		nals = append(nals, n)
	}
	if len(nals) == 0 {
		return false, nil
	}
	key := h264.IsRandomAccess(nals)
	if key {
		if m.sps == nil || m.pps == nil {
			return false, nil // undecodable without parameter sets: ask again
		}
		nals = withParameterSets(nals, m.sps, m.pps)
	}
	au := accessUnit{pts: pts, nals: nals}
	switch {
	case m.started:
		return key, m.writeAU(au)
	case m.pending == nil && !key:
		return false, nil // before the first keyframe
	case m.pending == nil:
		m.pending, m.pendBytes, m.waitUntil = []accessUnit{au}, size(nals), now.Add(audioWait)
		if !m.audioExpected || m.audioSeen {
			return true, m.start(m.audioSeen)
		}
		return true, nil
	default:
		m.pending = append(m.pending, au)
		m.pendBytes += size(nals)
		if now.After(m.waitUntil) || m.pendBytes > maxPendingBytes {
			return key, m.start(false)
		}
		return key, nil
	}
}

// writeAudio takes one Opus packet.
func (m *muxer) writeAudio(now time.Time, ts uint32, packet []byte) error {
	m.anchor(now)
	pts := m.audio.ticks(m.zero, now, ts)
	if len(packet) == 0 {
		return nil
	}
	m.audioSeen = true
	if !m.started {
		if m.pending == nil {
			return nil // audio before the first keyframe is dropped
		}
		if err := m.start(true); err != nil {
			return err
		}
	}
	if m.at == nil {
		return nil // started without audio: no place for it in the program
	}
	if pts <= m.lastAudio {
		pts = m.lastAudio + 1
	}
	m.lastAudio = pts
	if err := m.w.WriteOpus(m.at, pts, [][]byte{packet}); err != nil {
		return fmt.Errorf("mux opus: %w", err)
	}
	return m.flush()
}

// start declares the program, tells the sink what the source is and
// writes the pending video.
func (m *muxer) start(withAudio bool) error {
	src := Source{HasVideo: true, VideoCodec: "h264"}
	var sps h264.SPS
	if err := sps.Unmarshal(m.sps); err == nil {
		src.Width, src.Height, src.FrameRate = sps.Width(), sps.Height(), sps.FPS()
	}
	m.vt = &mpegts.Track{Codec: &mpegtscodecs.H264{}}
	tracks := []*mpegts.Track{m.vt}
	if withAudio {
		src.HasAudio, src.AudioCodec = true, "opus"
		m.at = &mpegts.Track{Codec: &mpegtscodecs.Opus{Desc: &substructs.OpusAudioDescriptor{ChannelConfigCode: 2}}}
		tracks = append(tracks, m.at)
	}
	if err := m.sink.Start(src); err != nil {
		return fmt.Errorf("start the live session: %w", err)
	}
	m.started = true
	m.bw = bufio.NewWriterSize(m.sink, 64<<10)
	m.w = &mpegts.Writer{W: m.bw, Tracks: tracks}
	if err := m.w.Initialize(); err != nil {
		return fmt.Errorf("mux: %w", err)
	}
	pending := m.pending
	m.pending, m.pendBytes = nil, 0
	for _, au := range pending {
		if err := m.writeAU(au); err != nil {
			return err
		}
	}
	return nil
}

func (m *muxer) writeAU(au accessUnit) error {
	if au.pts <= m.lastDTS {
		au.pts = m.lastDTS + 1
	}
	m.lastDTS = au.pts
	if err := m.w.WriteH264(m.vt, au.pts, au.pts, au.nals); err != nil {
		return fmt.Errorf("mux h264: %w", err)
	}
	return m.flush()
}

func (m *muxer) flush() error {
	if err := m.bw.Flush(); err != nil {
		return fmt.Errorf("feed the live session: %w", err)
	}
	return nil
}

// withParameterSets puts SPS and PPS before the IDR of an access unit that
// lacks them, so every keyframe can start a decoder.
func withParameterSets(nals [][]byte, sps, pps []byte) [][]byte {
	var hasSPS, hasPPS bool
	for _, n := range nals {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			hasSPS = true
		case h264.NALUTypePPS:
			hasPPS = true
		}
	}
	if hasSPS && hasPPS {
		return nals
	}
	out := make([][]byte, 0, len(nals)+2)
	out = append(out, sps, pps)
	for _, n := range nals {
		if t := h264.NALUType(n[0] & 0x1f); t != h264.NALUTypeSPS && t != h264.NALUTypePPS {
			out = append(out, n)
		}
	}
	return out
}

func size(nals [][]byte) int {
	n := 0
	for _, b := range nals {
		n += len(b)
	}
	return n
}
