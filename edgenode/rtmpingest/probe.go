package rtmpingest

import (
	"time"

	"github.com/livestreams/livestreams/edgenode/flv"
	"github.com/livestreams/livestreams/edgenode/rtmp"
)

// prober learns the source from the first messages: onMetaData when the
// encoder sends it (ffmpeg and OBS do), the H.264 sequence header for the
// true coded size, and whether audio actually arrives.
type prober struct {
	info      flv.StreamInfo
	metaSeen  bool
	metaAudio bool // metadata promised audio
	sawAudio  bool
	sawVideo  bool
	first     uint32
	last      uint32
	seenAny   bool

	// The first two video keyframes and the video bytes from the first
	// up to the second: the keyframe interval and the bitrate a
	// pass-through of the top rung needs (transcode.Source).
	keys     int
	keyWait  time.Duration // how long past the first keyframe to wait for the second (0: keyframeWait)
	key0     uint32
	key1     uint32
	gopBytes int
}

// keyframeWait is how long past the first keyframe the probe waits for a
// second one when the source may be passed through as the top rung: a
// little over the session's segment length (keyframeSlack more; the
// standard 2 s by default), since a source whose keyframes are further
// apart is re-encoded anyway: a low-latency session waits at most 1.1 s,
// which is also what its first viewers have to catch up. Only a source no
// taller than passThroughHeight (the default ladder's top rung) waits;
// others start at once.
const (
	keyframeSlack     = 100 * time.Millisecond
	keyframeWait      = 2*time.Second + keyframeSlack
	passThroughHeight = 720
)

func (p *prober) observe(m rtmp.Message) {
	if !p.seenAny {
		p.first, p.seenAny = m.Timestamp, true
	}
	p.last = m.Timestamp
	switch m.Type {
	case rtmp.TypeData:
		if md, err := flv.ParseMetadata(m.Payload); err == nil {
			p.metaSeen, p.metaAudio = true, md.HasAudio
		}
	case rtmp.TypeAudio:
		p.sawAudio = true
	case rtmp.TypeVideo:
		p.sawVideo = true
		p.observeKeyframe(m)
	}
	// A malformed tag leaves what was known; ffmpeg will judge the media.
	_ = p.info.Observe(flv.Tag{Type: m.Type, Timestamp: m.Timestamp, Data: m.Payload})
}

// observeKeyframe counts the video frames of m that are keyframes (not
// sequence headers) and the bytes of the first GOP.
func (p *prober) observeKeyframe(m rtmp.Message) {
	d := m.Payload
	if len(d) < 2 || p.keys >= 2 {
		return
	}
	key := d[0]>>4&0x07 == 1
	header := false
	if d[0]&0x80 != 0 { // enhanced RTMP: packet type in the low bits
		header = d[0]&0x0f == 0
	} else {
		header = d[0]&0x0f == 7 && d[1] == 0 // AVC sequence header
	}
	if header {
		return
	}
	if key {
		if p.keys == 0 {
			p.key0 = m.Timestamp
		} else {
			p.key1 = m.Timestamp
		}
		p.keys++
	}
	if p.keys == 1 {
		p.gopBytes += len(d)
	}
}

// ready reports whether enough is known to start ffmpeg: the picture size,
// and either audio seen or metadata promising none, and for an H.264
// source that may pass through, its second keyframe (or keyframeWait
// past the first); or the probe window has passed in media time.
func (p *prober) ready(window time.Duration) bool {
	if p.seenAny && time.Duration(p.last-p.first)*time.Millisecond >= window {
		return true
	}
	if !p.sawVideo || p.info.Width == 0 {
		return false
	}
	wait := p.keyWait
	if wait <= 0 {
		wait = keyframeWait
	}
	if p.info.VideoCodec == "h264" && p.info.Height <= passThroughHeight && p.keys < 2 &&
		(p.keys == 0 || time.Duration(p.last-p.key0)*time.Millisecond < wait) {
		return false
	}
	return p.sawAudio || (p.metaSeen && !p.metaAudio)
}

// keyframeInterval and gopKbps are 0 until two keyframes were seen.
func (p *prober) keyframeInterval() time.Duration {
	if p.keys < 2 || p.key1 <= p.key0 {
		return 0
	}
	return time.Duration(p.key1-p.key0) * time.Millisecond
}

func (p *prober) gopKbps() int {
	k := p.keyframeInterval()
	if k <= 0 {
		return 0
	}
	return int(float64(p.gopBytes*8) / k.Seconds() / 1000)
}

func (p *prober) source() flv.StreamInfo {
	out := p.info
	out.HasVideo = p.sawVideo
	// Audio maps only when audio really arrives: metadata can promise audio
	// an encoder never sends, and ffmpeg would wait for it.
	out.HasAudio = p.sawAudio
	return out
}
