package whip

import (
	"bytes"
	"testing"
	"time"
)

// memSink is a Sink in memory for the muxer's unit tests.
type memSink struct {
	src    *Source
	buf    bytes.Buffer
	closed bool
}

func (s *memSink) Start(src Source) error      { s.src = &src; return nil }
func (s *memSink) Write(p []byte) (int, error) { return s.buf.Write(p) }
func (s *memSink) Close(error)                 { s.closed = true }

var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x0f, 0x16, 0x2e, 0x48}
	testPPS = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
	testIDR = []byte{0x65, 0x88, 0x84, 0x00, 0x33}
	testP   = []byte{0x41, 0x9a, 0x21, 0x6c}
)

func annexB(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = append(append(b, 0, 0, 0, 1), n...)
	}
	return b
}

func TestClockUnwraps(t *testing.T) {
	zero := time.Now()
	c := clock{rate: 90000}
	start := uint32(0xffffffff - 3000)
	prev := c.ticks(zero, zero, start)
	if prev != baseTS {
		t.Fatalf("first tick %d, want %d", prev, baseTS)
	}
	for i := 1; i <= 10; i++ {
		got := c.ticks(zero, zero, start+uint32(i*1500)) // wraps after the second
		if got != prev+1500 {
			t.Fatalf("step %d: %d after %d", i, got, prev)
		}
		prev = got
	}
	a := clock{rate: 48000}
	if got := a.ticks(zero, zero.Add(500*time.Millisecond), 12345); got != baseTS+45000 {
		t.Fatalf("a track first seen 0.5 s late starts at %d, want %d", got, baseTS+45000)
	}
	if got := a.ticks(zero, zero, 12345+960); got != baseTS+45000+1800 {
		t.Fatalf("20 ms of Opus later: %d, want %d", got, baseTS+45000+1800)
	}
}

func TestMuxerStart(t *testing.T) {
	now := time.Now()
	t.Run("waits for the first keyframe and for audio", func(t *testing.T) {
		s := &memSink{}
		m := newMuxer(s, true)
		if key, err := m.writeVideo(now, 0, annexB(testP)); key || err != nil || m.started {
			t.Fatalf("a P-frame first: key %v, err %v, started %v", key, err, m.started)
		}
		if key, err := m.writeVideo(now, 3000, annexB(testSPS, testPPS, testIDR)); !key || err != nil || m.started {
			t.Fatalf("keyframe: key %v, err %v, started %v (audio is promised: wait for it)", key, err, m.started)
		}
		if err := m.writeAudio(now.Add(20*time.Millisecond), 960, []byte{0xfc, 1, 2}); err != nil || !m.started {
			t.Fatalf("audio after the keyframe: err %v, started %v", err, m.started)
		}
		want := Source{HasVideo: true, HasAudio: true, VideoCodec: "h264", AudioCodec: "opus", Width: 640, Height: 360, FrameRate: 30}
		if s.src == nil || *s.src != want {
			t.Fatalf("source %+v, want %+v", s.src, want)
		}
		if s.buf.Len() == 0 || s.buf.Len()%188 != 0 {
			t.Fatalf("%d bytes of MPEG-TS", s.buf.Len())
		}
	})
	t.Run("audio seen before the keyframe starts at once", func(t *testing.T) {
		s := &memSink{}
		m := newMuxer(s, true)
		if err := m.writeAudio(now, 0, []byte{0xfc, 1, 2}); err != nil || m.started || s.buf.Len() != 0 {
			t.Fatalf("audio before the keyframe: err %v, started %v, %d bytes", err, m.started, s.buf.Len())
		}
		if _, err := m.writeVideo(now, 3000, annexB(testSPS, testPPS, testIDR)); err != nil || !m.started || !s.src.HasAudio {
			t.Fatalf("keyframe: err %v, started %v, source %+v", err, m.started, s.src)
		}
	})
	t.Run("starts without audio that does not come", func(t *testing.T) {
		s := &memSink{}
		m := newMuxer(s, true)
		if _, err := m.writeVideo(now, 0, annexB(testSPS, testPPS, testIDR)); err != nil || m.started {
			t.Fatalf("err %v, started %v", err, m.started)
		}
		if _, err := m.writeVideo(now.Add(audioWait+time.Millisecond), 90000, annexB(testP)); err != nil || !m.started {
			t.Fatalf("after the audio wait: err %v, started %v", err, m.started)
		}
		if s.src.HasAudio {
			t.Fatal("started with audio that never came")
		}
		n := s.buf.Len()
		if err := m.writeAudio(now, 0, []byte{0xfc}); err != nil || s.buf.Len() != n {
			t.Fatalf("late audio: err %v, %d bytes written", err, s.buf.Len()-n)
		}
	})
	t.Run("keeps parameter sets before every IDR", func(t *testing.T) {
		s := &memSink{}
		m := newMuxer(s, false)
		if key, _ := m.writeVideo(now, 0, annexB(testIDR)); key || m.started {
			t.Fatal("started on an IDR without SPS and PPS")
		}
		if _, err := m.writeVideo(now, 0, annexB(testSPS, testPPS)); err != nil || m.started {
			t.Fatalf("parameter sets alone: err %v, started %v", err, m.started)
		}
		if key, err := m.writeVideo(now, 3000, annexB(testIDR)); !key || err != nil || !m.started {
			t.Fatalf("IDR after the parameter sets: key %v, err %v, started %v", key, err, m.started)
		}
		if !bytes.Contains(s.buf.Bytes(), testSPS[:8]) || !bytes.Contains(s.buf.Bytes(), testPPS) {
			t.Fatal("SPS and PPS not muxed before the IDR")
		}
		got := withParameterSets([][]byte{testSPS, testIDR}, testSPS, testPPS)
		if len(got) != 3 || got[0][0] != testSPS[0] || got[1][0] != testPPS[0] || got[2][0] != testIDR[0] {
			t.Fatalf("SPS without PPS: %x", got)
		}
	})
	t.Run("timestamps never go back", func(t *testing.T) {
		s := &memSink{}
		m := newMuxer(s, false)
		m.writeVideo(now, 6000, annexB(testSPS, testPPS, testIDR))
		m.writeVideo(now, 3000, annexB(testP)) // reordered beyond the builder
		if m.lastDTS <= baseTS {
			t.Fatalf("last DTS %d went back", m.lastDTS)
		}
	})
}
