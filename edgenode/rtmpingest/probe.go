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
}

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
	}
	// A malformed tag leaves what was known; ffmpeg will judge the media.
	_ = p.info.Observe(flv.Tag{Type: m.Type, Timestamp: m.Timestamp, Data: m.Payload})
}

// ready reports whether enough is known to start ffmpeg: the picture size,
// and either audio seen or metadata promising none; or the probe window has
// passed in media time.
func (p *prober) ready(window time.Duration) bool {
	if p.seenAny && time.Duration(p.last-p.first)*time.Millisecond >= window {
		return true
	}
	if !p.sawVideo || p.info.Width == 0 {
		return false
	}
	return p.sawAudio || (p.metaSeen && !p.metaAudio)
}

func (p *prober) source() flv.StreamInfo {
	out := p.info
	out.HasVideo = p.sawVideo
	// Audio maps only when audio really arrives: metadata can promise audio
	// an encoder never sends, and ffmpeg would wait for it.
	out.HasAudio = p.sawAudio
	return out
}
