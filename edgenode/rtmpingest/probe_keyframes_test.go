package rtmpingest

import (
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/rtmp"
	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
)

// An H.264 source of the top rung's size waits for its second keyframe,
// which gives the keyframe interval and the first GOP's bitrate; one whose
// keyframes are rarer than keyframeWait starts without them.
func TestProbeMeasuresKeyframes(t *testing.T) {
	md, err := amf0.Encode("@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "width", Value: 1280.0},
		{Key: "height", Value: 720.0}, {Key: "videocodecid", Value: 7.0}, {Key: "audiocodecid", Value: 10.0}})
	if err != nil {
		t.Fatal(err)
	}
	frame := func(ts uint32, key bool) rtmp.Message {
		p := make([]byte, 10000) // 10 kB a frame: 30 fps is 2400 kbit/s
		p[0], p[1] = 0x27, 1     // inter frame, AVC NALU
		if key {
			p[0] = 0x17
		}
		return rtmp.Message{Type: rtmp.TypeVideo, Timestamp: ts, Payload: p}
	}
	audio := rtmp.Message{Type: rtmp.TypeAudio, Payload: []byte{0xaf, 0x01, 0}}

	for _, c := range []struct {
		name     string
		gop      int // frames
		interval time.Duration
	}{{"2 s keyframes", 60, 2 * time.Second}, {"8 s keyframes", 240, 0}} {
		t.Run(c.name, func(t *testing.T) {
			var p prober
			p.observe(rtmp.Message{Type: rtmp.TypeData, Payload: md})
			p.observe(rtmp.Message{Type: rtmp.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0}}) // sequence header
			p.observe(audio)
			n := 0
			for ; n < 400 && !p.ready(DefaultProbeWindow); n++ {
				ts := uint32(n * 1000 / 30)
				p.observe(frame(ts, n%c.gop == 0))
				a := audio
				a.Timestamp = ts
				p.observe(a)
			}
			if got := p.keyframeInterval(); got != c.interval {
				t.Errorf("keyframe interval %v, want %v (ready after %d frames)", got, c.interval, n)
			}
			if c.interval == 0 {
				if n > 70 {
					t.Errorf("ready after %d frames, want about %v past the first keyframe", n, keyframeWait)
				}
				return
			}
			if kbps := p.gopKbps(); kbps < 2300 || kbps > 2500 {
				t.Errorf("first GOP at %d kbit/s, want 2400", kbps)
			}
		})
	}
}
