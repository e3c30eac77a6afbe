package edge

import (
	"os"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/shared/mediatest"
)

// probeTS feeds b to a probe in SRT-sized chunks (7 packets) until it is
// done, and returns what it learnt and how many bytes it took.
func probeTS(b []byte) (live.Source, int) {
	p := newTSProbe()
	const chunk = 7 * 188
	n := 0
	for n < len(b) {
		k := min(chunk, len(b)-n)
		done := p.feed(b[n : n+k])
		n += k
		if done {
			break
		}
	}
	return p.stop(), n
}

func TestTSProbe(t *testing.T) {
	for _, tc := range []struct {
		spec  mediatest.Spec
		audio string
	}{
		{mediatest.Spec{Width: 1280, Height: 720, Seconds: 6, GOP: 30, Audio: true}, "aac"},
		{mediatest.Spec{Width: 854, Height: 480, Seconds: 6, GOP: 30, FPS: 25}, ""},
	} {
		b, err := os.ReadFile(mediatest.Remuxed(t, tc.spec, "mpegts"))
		if err != nil {
			t.Fatal(err)
		}
		fps := float64(tc.spec.FPS)
		if fps == 0 {
			fps = 30
		}
		want := live.Source{Format: live.MPEGTS, Width: tc.spec.Width, Height: tc.spec.Height, FrameRate: fps,
			HasVideo: true, VideoCodec: "h264", HasAudio: tc.spec.Audio, AudioCodec: tc.audio}
		got, used := probeTS(b)
		if got != want {
			t.Errorf("%dx%d: probed %+v, want %+v", tc.spec.Width, tc.spec.Height, got, want)
		}
		// Known from the first frames, well before the window's end.
		if used > len(b)/3 {
			t.Errorf("%dx%d: probe took %d of %d bytes", tc.spec.Width, tc.spec.Height, used, len(b))
		}
	}
}

// FuzzTSProbe: whatever a publisher sends, the probe ends (within the
// byte bound, with a result) and never panics.
func FuzzTSProbe(f *testing.F) {
	b, err := os.ReadFile(mediatest.Remuxed(f, mediatest.Spec{Width: 320, Height: 240, Seconds: 4, GOP: 30, Audio: true}, "mpegts"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:min(len(b), 32<<10)])
	f.Add(b[188*3 : min(len(b), 188*40)])
	f.Add([]byte{0x47, 0x40, 0x00, 0x10, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			probeTS(data)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("probe did not end")
		}
	})
}
