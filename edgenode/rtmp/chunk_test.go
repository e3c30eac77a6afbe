package rtmp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func newTestReader(b []byte) *chunkReader {
	return newChunkReader(bufio.NewReader(bytes.NewReader(b)), 1<<20, 1<<20)
}

type sent struct {
	csid uint32
	m    message
}

func writeAll(t *testing.T, compress bool, chunkSize uint32, msgs []sent) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	cw := newChunkWriter(bw)
	cw.compress = compress
	cw.chunkSize = chunkSize
	for _, s := range msgs {
		if err := cw.writeMessage(s.csid, s.m); err != nil {
			t.Fatal(err)
		}
	}
	bw.Flush()
	return buf.Bytes()
}

func readAll(t *testing.T, cr *chunkReader, n int) []message {
	t.Helper()
	var got []message
	for range n {
		m, err := cr.readMessage()
		if err != nil {
			t.Fatalf("message %d: %v", len(got), err)
		}
		got = append(got, m)
	}
	if _, err := cr.readMessage(); err != io.EOF {
		t.Fatalf("after %d messages: err = %v, want io.EOF", n, err)
	}
	return got
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func TestChunkRoundTrip(t *testing.T) {
	audio := func(ts uint32, n int) sent {
		return sent{4, message{typeID: TypeAudio, streamID: 1, timestamp: ts, payload: payload(n, byte(ts))}}
	}
	video := func(ts uint32, n int) sent {
		return sent{6, message{typeID: TypeVideo, streamID: 1, timestamp: ts, payload: payload(n, byte(ts))}}
	}
	tests := []struct {
		name      string
		chunkSize uint32
		msgs      []sent
		wantFmts  []uint8 // first-chunk header types, when checked (compressed, single-chunk messages)
	}{
		{
			name:      "spec example: type 0, 2, 3, 3",
			chunkSize: 128,
			msgs:      []sent{audio(1000, 32), audio(1033, 32), audio(1066, 32), audio(1099, 32)},
			wantFmts:  []uint8{0, 2, 3, 3},
		},
		{
			name:      "type 1 on length change, type 0 on time going back",
			chunkSize: 128,
			msgs:      []sent{video(0, 10), video(33, 20), video(70, 20), video(10, 20)},
			wantFmts:  []uint8{0, 1, 2, 0},
		},
		{
			name:      "multi-chunk messages",
			chunkSize: 128,
			msgs:      []sent{video(0, 1000), video(40, 1000), video(80, 129), audio(80, 128), audio(100, 0)},
		},
		{
			name:      "extended absolute timestamp over several chunks",
			chunkSize: 100,
			msgs:      []sent{video(0x01000000, 350), video(0x01000021, 350), video(0x01000042, 350)},
		},
		{
			name:      "extended delta, repeated by type 3",
			chunkSize: 100,
			msgs:      []sent{audio(0, 50), audio(0x01000000, 50), audio(0x02000000, 50), audio(0x03000000, 250)},
		},
		{
			name:      "timestamp wraps",
			chunkSize: 128,
			msgs:      []sent{audio(0xFFFFFFF0, 8), audio(0x10, 8), audio(0x30, 8)},
		},
		{
			name:      "large chunk stream ids",
			chunkSize: 128,
			msgs: []sent{
				{63, message{typeID: 20, payload: payload(10, 1)}},
				{64, message{typeID: 20, payload: payload(10, 2)}},
				{319, message{typeID: 20, payload: payload(200, 3)}},
				{320, message{typeID: 20, payload: payload(10, 4)}},
				{65599, message{typeID: 20, payload: payload(10, 5)}},
			},
		},
	}
	for _, tc := range tests {
		for _, compress := range []bool{false, true} {
			b := writeAll(t, compress, tc.chunkSize, tc.msgs)
			cr := newTestReader(b)
			cr.chunkSize = tc.chunkSize
			got := readAll(t, cr, len(tc.msgs))
			for i, s := range tc.msgs {
				want := s.m
				if want.payload == nil {
					want.payload = []byte{}
				}
				if !reflect.DeepEqual(got[i], want) {
					t.Errorf("%s (compress=%v) message %d: got ts %d type %d len %d, want ts %d type %d len %d",
						tc.name, compress, i, got[i].timestamp, got[i].typeID, len(got[i].payload),
						want.timestamp, want.typeID, len(want.payload))
				}
			}
			if compress && tc.wantFmts != nil {
				if fmts := firstChunkTypes(t, b, tc.msgs); !reflect.DeepEqual(fmts, tc.wantFmts) {
					t.Errorf("%s: chunk types %v, want %v", tc.name, fmts, tc.wantFmts)
				}
			}
		}
	}
}

// firstChunkTypes returns the header type of each message's first chunk,
// for single-chunk messages without extended timestamps.
func firstChunkTypes(t *testing.T, b []byte, msgs []sent) []uint8 {
	t.Helper()
	var fmts []uint8
	off := 0
	for _, s := range msgs {
		f := b[off] >> 6
		fmts = append(fmts, f)
		off += 1 + []int{11, 7, 3, 0}[f] + len(s.m.payload)
	}
	return fmts
}

// TestChunkInterleaved splits two messages into chunks and alternates
// them, as a publisher does with audio between video chunks.
func TestChunkInterleaved(t *testing.T) {
	v := payload(300, 1)
	a := payload(150, 7)
	var b []byte
	b = append(b, 0x06, 0, 0, 40, 0, 0x01, 0x2c, TypeVideo, 1, 0, 0, 0) // fmt 0, csid 6, ts 40, len 300
	b = append(b, v[:128]...)
	b = append(b, 0x04, 0, 0, 42, 0, 0, 150, TypeAudio, 1, 0, 0, 0) // fmt 0, csid 4, ts 42, len 150
	b = append(b, a[:128]...)
	b = append(b, 0xc6) // fmt 3, csid 6
	b = append(b, v[128:256]...)
	b = append(b, 0xc4)
	b = append(b, a[128:]...)
	b = append(b, 0xc6)
	b = append(b, v[256:]...)
	got := readAll(t, newTestReader(b), 2)
	want := []message{
		{typeID: TypeAudio, streamID: 1, timestamp: 42, payload: a},
		{typeID: TypeVideo, streamID: 1, timestamp: 40, payload: v},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}

// TestChunkSizeChange follows a Set Chunk Size in the stream, as the
// connection does.
func TestChunkSizeChange(t *testing.T) {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	cw := newChunkWriter(bw)
	big := message{typeID: TypeVideo, streamID: 1, timestamp: 5, payload: payload(10000, 3)}
	for _, err := range []error{
		cw.writeMessage(6, big),
		cw.writeMessage(csidControl, setChunkSizeMessage(4096)),
		func() error { cw.chunkSize = 4096; return nil }(),
		cw.writeMessage(6, big),
		cw.writeMessage(csidControl, setChunkSizeMessage(1)),
		func() error { cw.chunkSize = 1; return nil }(),
		cw.writeMessage(6, message{typeID: TypeAudio, streamID: 1, timestamp: 6, payload: payload(5, 1)}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	bw.Flush()
	cr := newTestReader(buf.Bytes())
	var got []message
	for {
		m, err := cr.readMessage()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.typeID == typeSetChunkSize {
			v, _ := uint32Payload(m)
			if err := cr.setChunkSize(v); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got = append(got, m)
	}
	if len(got) != 3 || !bytes.Equal(got[0].payload, big.payload) || !bytes.Equal(got[1].payload, big.payload) || len(got[2].payload) != 5 {
		t.Fatalf("got %d messages", len(got))
	}
}

func TestChunkAbort(t *testing.T) {
	var b []byte
	b = append(b, 0x06, 0, 0, 1, 0, 1, 0, TypeVideo, 1, 0, 0, 0) // 256-byte message
	b = append(b, payload(128, 0)...)
	got := newTestReader(b)
	if _, err := got.readMessage(); err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	got = newTestReader(append(b, 0x06, 0, 0, 1, 0, 0, 1, TypeVideo, 1, 0, 0, 0, 9))
	if _, err := got.readMessage(); !errors.Is(err, errProtocol) {
		t.Fatalf("type 0 interrupting a message: err = %v", err)
	}
	cr := newTestReader(append(b, 0x46, 0, 0, 1, 0, 0, 1, TypeVideo, 9))
	cr.readChunk() // first chunk of the 256-byte message
	cr.abort(6)
	m, err := cr.readMessage()
	if err != nil || len(m.payload) != 1 || m.payload[0] != 9 || cr.partial != 0 || cr.partialBytes != 0 {
		t.Fatalf("after abort: %+v, %v (partial %d/%d)", m, err, cr.partial, cr.partialBytes)
	}
}

func TestChunkReaderLimits(t *testing.T) {
	header := func(csid byte, length uint32) []byte {
		return []byte{csid, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), TypeVideo, 1, 0, 0, 0}
	}
	manyStreams := []byte{}
	for i := range maxChunkStreams + 1 {
		manyStreams = append(manyStreams, 0, byte(i), 0, 0, 0, 0, 0, 1, TypeVideo, 1, 0, 0, 0, 0)
	}
	manyPartial := []byte{}
	for i := range maxPartialMessages + 1 {
		manyPartial = append(manyPartial, header(byte(3+i), 1000)...)
		manyPartial = append(manyPartial, payload(128, 0)...)
	}
	tests := map[string][]byte{
		"message too large":      header(6, 1<<20+1),
		"type 1 first":           {0x46, 0, 0, 0, 0, 0, 1, TypeVideo, 0},
		"type 3 first":           {0xc6, 0},
		"too many chunk streams": manyStreams,
		"too many partial":       manyPartial,
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			cr := newTestReader(b)
			var err error
			for range 1000 {
				if _, err = cr.readMessage(); err != nil {
					break
				}
			}
			if !errors.Is(err, errProtocol) {
				t.Fatalf("err = %v, want a protocol error", err)
			}
		})
	}
	cr := newTestReader(nil)
	for _, n := range []uint32{0, 1 << 31, 1<<20 + 1} {
		if err := cr.setChunkSize(n); err == nil {
			t.Errorf("setChunkSize(%d) accepted", n)
		}
	}
}

func TestChunkWriterErrors(t *testing.T) {
	cw := newChunkWriter(bufio.NewWriter(io.Discard))
	if err := cw.writeMessage(1, message{}); err == nil {
		t.Error("csid 1 accepted")
	}
	if err := cw.writeMessage(65600, message{}); err == nil {
		t.Error("csid 65600 accepted")
	}
}
