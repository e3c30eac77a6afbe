package rtmp

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
)

// memConn is a net.Conn that reads from a fixed input and discards writes.
type memConn struct{ r *bytes.Reader }

func (c memConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c memConn) Close() error                     { return nil }
func (c memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1935} }
func (c memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }
func (c memConn) SetDeadline(time.Time) error      { return nil }
func (c memConn) SetReadDeadline(time.Time) error  { return nil }
func (c memConn) SetWriteDeadline(time.Time) error { return nil }

// publishSession is what an OBS-like publisher sends after the
// handshake: connect, createStream, publish, metadata and some media,
// with header compression and multi-chunk messages. It is kept small:
// the fuzzer minimizes interesting inputs byte by byte.
func publishSession(tb testing.TB) []byte {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	cw := newChunkWriter(bw)
	cw.compress = true
	cmd := func(streamID uint32, vals ...any) {
		p, err := amf0.Encode(vals...)
		if err != nil {
			tb.Fatal(err)
		}
		cw.writeMessage(csidCommand, message{typeID: typeAMF0Command, streamID: streamID, payload: p})
	}
	cw.writeMessage(csidControl, setChunkSizeMessage(256))
	cw.chunkSize = 256
	cmd(0, "connect", 1.0, amf0.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://h/live"}})
	cw.writeMessage(csidControl, windowAckSizeMessage(5000))
	cmd(0, "releaseStream", 2.0, nil, "key")
	cmd(0, "FCPublish", 3.0, nil, "key")
	cmd(0, "createStream", 4.0, nil)
	cmd(1, "publish", 5.0, nil, "key", "live")
	meta, _ := amf0.Encode("@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "width", Value: 640.0}})
	cw.writeMessage(4, message{typeID: TypeData, streamID: 1, payload: meta})
	for i := range 6 {
		ts := uint32(i * 33)
		cw.writeMessage(6, message{typeID: TypeVideo, streamID: 1, timestamp: ts, payload: payload(600, byte(i))})
		cw.writeMessage(4, message{typeID: TypeAudio, streamID: 1, timestamp: ts, payload: payload(20, byte(i))})
	}
	cw.writeMessage(6, message{typeID: TypeVideo, streamID: 1, timestamp: 0x1000000, payload: payload(600, 1)})
	agg := []byte{TypeAudio, 0, 0, 2, 0, 0, 10, 0, 0, 0, 0, 0xaf, 1, 0, 0, 0, 13}
	cw.writeMessage(4, message{typeID: typeAggregate, streamID: 1, timestamp: 300, payload: agg})
	cw.writeMessage(csidControl, userControlMessage(eventPingRequest, []byte{0, 0, 0, 1}))
	cmd(0, "FCUnpublish", 6.0, nil, "key")
	cmd(0, "deleteStream", 7.0, nil, 1.0)
	bw.Flush()
	return buf.Bytes()
}

// FuzzChunkStream feeds arbitrary bytes, after a valid handshake, into a
// connection with a publish-accepting server. It must never panic, and a
// Sink, once created, must be closed exactly once.
func FuzzChunkStream(f *testing.F) {
	session := publishSession(f)
	f.Add(session)
	f.Add(session[:len(session)/2])
	f.Add([]byte{0x02, 0, 0, 0, 0, 0, 4, typeSetChunkSize, 0, 0, 0, 0, 0, 0, 0, 1})
	srv, err := NewServer(Config{
		OnPublish: func(context.Context, PublishRequest) (Sink, error) { return newRecordingSink(), nil },
	})
	if err != nil {
		f.Fatal(err)
	}
	handshake := make([]byte, 1+2*handshakePartSize)
	handshake[0] = rtmpVersion
	f.Fuzz(func(t *testing.T, data []byte) {
		var sinks []*recordingSink
		cfg := srv.cfg
		cfg.OnPublish = func(context.Context, PublishRequest) (Sink, error) {
			s := newRecordingSink()
			sinks = append(sinks, s)
			return s, nil
		}
		in := append(append([]byte(nil), handshake...), data...)
		c := newConn(cfg, memConn{bytes.NewReader(in)})
		c.serve(context.Background())
		for i, s := range sinks {
			if s.closed != 1 {
				t.Fatalf("sink %d closed %d times", i, s.closed)
			}
		}
	})
}

func TestPublishSessionSeed(t *testing.T) {
	// The seed is only useful if it drives a whole publish.
	srv, _ := NewServer(Config{OnPublish: func(context.Context, PublishRequest) (Sink, error) { return nil, nil }})
	cfg := srv.cfg
	sink := newRecordingSink()
	cfg.OnPublish = func(context.Context, PublishRequest) (Sink, error) { return sink, nil }
	in := append(make([]byte, 1+2*handshakePartSize), publishSession(t)...)
	in[0] = rtmpVersion
	newConn(cfg, memConn{bytes.NewReader(in)}).serve(context.Background())
	msgs := sink.messages()
	if sink.closed != 1 || sink.closeErr != nil || len(msgs) != 15 {
		t.Fatalf("closed %d (%v), %d messages", sink.closed, sink.closeErr, len(msgs))
	}
	if v, _, _ := amf0.Decode(msgs[0].Payload); v != "onMetaData" {
		t.Errorf("metadata not unwrapped: %v", v)
	}
	if last := msgs[len(msgs)-1]; last.Type != TypeAudio || last.Timestamp != 300 || len(last.Payload) != 2 {
		t.Errorf("aggregate sub-message %+v", last)
	}
	if msgs[13].Timestamp != 0x1000000 {
		t.Errorf("extended timestamp %#x", msgs[13].Timestamp)
	}
}
