package live

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/flv"
)

// flvStream builds an FLV byte stream and remembers each unit's bytes.
type flvStream struct {
	buf   bytes.Buffer
	w     *flv.Writer
	units [][]byte
}

func newFLVStream(t *testing.T) *flvStream {
	s := &flvStream{}
	s.w = flv.NewWriter(&s.buf, true, true)
	if err := s.w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	s.units = append(s.units, append([]byte(nil), s.buf.Bytes()...))
	return s
}

// tag appends a tag and returns its bytes.
func (s *flvStream) tag(t *testing.T, typ uint8, ts uint32, body ...byte) []byte {
	before := s.buf.Len()
	if err := s.w.WriteTag(flv.Tag{Type: typ, Timestamp: ts, Data: append(body, 1, 2, 3, 4, 5, 6, 7, 8)}); err != nil {
		t.Fatal(err)
	}
	u := append([]byte(nil), s.buf.Bytes()[before:]...)
	s.units = append(s.units, u)
	return u
}

// feed writes b to the tapper in uneven pieces, as a network would.
func feed(tp *tapper, b []byte) {
	for i, n := 0, 1; i < len(b); n = n*3 + 1 {
		end := min(i+n%97+1, len(b))
		tp.write(b[i:end])
		i = end
	}
}

func readAll(t *testing.T, tap *Tap) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 333)
	for {
		n, err := tap.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.Bytes(), err
		}
	}
}

// TestTapLateJoinerFLV: a tap opened mid-stream gets the header, the
// metadata and both sequence headers, then the stream from the next
// video keyframe; one opened at the start gets every byte.
func TestTapLateJoinerFLV(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newFLVStream(t)
	var tp tapper
	early := tp.add(ctx, 0)
	meta := s.tag(t, flv.TagScript, 0, 2, 0, 10, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a')
	vseq := s.tag(t, flv.TagVideo, 0, 0x17, 0)
	aseq := s.tag(t, flv.TagAudio, 0, 0xaf, 0)
	s.tag(t, flv.TagVideo, 0, 0x17, 1) // keyframe before the join
	s.tag(t, flv.TagAudio, 10, 0xaf, 1)
	s.tag(t, flv.TagVideo, 33, 0x27, 1)
	feed(&tp, s.buf.Bytes())
	fed := s.buf.Len()

	late := tp.add(ctx, 1<<20)
	s.tag(t, flv.TagVideo, 66, 0x27, 1) // inter frame: skipped
	s.tag(t, flv.TagAudio, 70, 0xaf, 1) // audio before the keyframe: skipped
	key := s.tag(t, flv.TagVideo, 100, 0x17, 1)
	audio := s.tag(t, flv.TagAudio, 101, 0xaf, 1)
	inter := s.tag(t, flv.TagVideo, 133, 0x27, 1)
	feed(&tp, s.buf.Bytes()[fed:])
	tp.close()

	got, err := readAll(t, late)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("late tap ended with %v, want EOF", err)
	}
	want := bytes.Join([][]byte{s.units[0], meta, vseq, aseq, key, audio, inter}, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("late joiner got %d bytes, want %d (header, metadata, sequence headers, then from the keyframe)", len(got), len(want))
	}
	all, err := readAll(t, early)
	if !errors.Is(err, io.EOF) || !bytes.Equal(all, s.buf.Bytes()) {
		t.Fatalf("tap from the start: %d of %d bytes, %v", len(all), s.buf.Len(), err)
	}
	if tp.format != FLV {
		t.Fatalf("format %q, want flv", tp.format)
	}
}

// TestTapSource: Source waits for the session's start and returns the
// probed source, to a tap opened before or after it; a tap whose session
// ends unstarted gets io.EOF.
func TestTapSource(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var tp tapper
	before := tp.add(ctx, 0)
	feed(&tp, newFLVStream(t).buf.Bytes()) // bytes before the start do not answer it
	src := Source{Format: FLV, AudioCodec: "opus", HasVideo: true}
	got := make(chan Source, 1)
	go func() { s, _ := before.Source(ctx); got <- s }()
	tp.started(src)
	if s := <-got; s != src {
		t.Fatalf("Source before the start = %+v, want %+v", s, src)
	}
	if s, err := tp.add(ctx, 0).Source(ctx); s != src || err != nil {
		t.Fatalf("Source after the start = %+v, %v", s, err)
	}

	var ended tapper
	tap := ended.add(ctx, 0)
	ended.close()
	if _, err := tap.Source(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Source of a session that never started: %v, want EOF", err)
	}
}

// TestTapSlowReaderDropped: a tap nobody reads is dropped once it holds
// its bound; writes never wait for it and other taps are unaffected.
func TestTapSlowReaderDropped(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newFLVStream(t)
	var tp tapper
	slow := tp.add(ctx, 4<<10)
	fast := tp.add(ctx, 64<<20)
	for i := range 2000 {
		s.tag(t, flv.TagVideo, uint32(i*33), append([]byte{0x27, 1}, make([]byte, 500)...)...)
	}
	done := make(chan struct{})
	go func() { defer close(done); tp.write(s.buf.Bytes()); tp.close() }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("a write waited for an unread tap")
	}
	if _, err := readAll(t, slow); !errors.Is(err, ErrTapTooSlow) {
		t.Fatalf("slow tap: %v, want ErrTapTooSlow", err)
	}
	if got, err := readAll(t, fast); !errors.Is(err, io.EOF) || len(got) != s.buf.Len() {
		t.Fatalf("fast tap: %d of %d bytes, %v", len(got), s.buf.Len(), err)
	}
}

// TestTapMPEGTS: a late tap starts at a packet boundary.
func TestTapMPEGTS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream := make([]byte, 188*20)
	for i := 0; i < len(stream); i += 188 {
		stream[i] = 0x47
		stream[i+1] = byte(i / 188)
	}
	var tp tapper
	tp.write(stream[:188*3+50])
	late := tp.add(ctx, 0)
	tp.write(stream[188*3+50 : 188*3+100])
	tp.write(stream[188*3+100:])
	tp.close()
	got, err := readAll(t, late)
	if !errors.Is(err, io.EOF) || !bytes.Equal(got, stream[188*4:]) {
		t.Fatalf("late TS tap: %d bytes, %v; want %d from packet 4", len(got), err, len(stream)-188*4)
	}
}

// TestTapContextAndClose: a read waits on the tap's context, and Close
// releases it.
func TestTapContextAndClose(t *testing.T) {
	t.Parallel()
	var tp tapper
	ctx, cancel := context.WithCancel(context.Background())
	tap := tp.add(ctx, 0)
	cancel()
	if _, err := tap.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after the context ended: %v", err)
	}
	other := tp.add(context.Background(), 0)
	other.Close()
	if _, err := other.Read(make([]byte, 10)); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("read after Close: %v", err)
	}
	if len(tp.taps) != 1 {
		t.Fatalf("%d taps attached, want 1", len(tp.taps))
	}
}

// FuzzTapper: any bytes in any pieces; a tap from the start receives a
// prefix of what was written (whole units only), and nothing panics.
func FuzzTapper(f *testing.F) {
	s := &flvStream{}
	s.w = flv.NewWriter(&s.buf, true, true)
	s.w.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 1, 2}})
	s.w.WriteTag(flv.Tag{Type: flv.TagAudio, Data: []byte{0xaf, 0, 1, 2}})
	f.Add(s.buf.Bytes(), uint8(7))
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00\x09\xff\xff\xff"), uint8(3))
	f.Add([]byte{0x47, 1, 2, 3}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		var tp tapper
		tap := tp.add(context.Background(), 64<<20)
		n := int(step)%64 + 1
		for i := 0; i < len(data); i += n {
			tp.write(data[i:min(i+n, len(data))])
		}
		late := tp.add(context.Background(), 64<<20)
		tp.write(data)
		tp.close()
		got, err := readAll(t, tap)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("tap ended with %v", err)
		}
		if !bytes.HasPrefix(append(append([]byte(nil), data...), data...), got) {
			t.Fatalf("tap got %d bytes that are not a prefix of the input", len(got))
		}
		readAll(t, late)
	})
}
