package rtmp

// Our server and gortmplib v1.0.1 (MediaMTX's RTMP library) on the same
// inputs: ffmpeg over RTMP and RTMPS, an OBS-style command sequence,
// Enhanced RTMP (HEVC and AV1 by FourCC), malformed input, and (in
// gortmplib_bench_test.go) CPU per stream. The figures are in the package
// doc; these tests keep them honest.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	libmessage "github.com/bluenviron/gortmplib/pkg/message"

	"github.com/livestreams/livestreams/edgenode/flv"
	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// libServer serves publishers with gortmplib as MediaMTX does: a
// ServerConn per connection, then either raw messages (ServerConn.Read,
// the cheapest use) or the codec-aware Reader (tracks and frames, what
// MediaMTX itself uses).
type libServer struct {
	reader  bool
	timeout time.Duration // per read, as our ReadTimeout

	mu                 sync.Mutex
	publishes          int
	video, audio, data int
	tracks             []string // codec of every track the Reader found
	ends               []error
	panics             int
	wg                 sync.WaitGroup
}

// startLib serves ln with gortmplib until the test ends.
func startLib(tb testing.TB, ln net.Listener, reader bool) *libServer {
	s := &libServer{reader: reader, timeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var conns []net.Conn
		var mu sync.Mutex
		defer func() {
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		}()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer nc.Close()
				err := s.serve(nc)
				s.mu.Lock()
				s.ends = append(s.ends, err)
				s.mu.Unlock()
			}()
		}
	}()
	tb.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *libServer) serve(nc net.Conn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.mu.Lock()
			s.panics++
			s.mu.Unlock()
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	nc.SetDeadline(time.Now().Add(s.timeout))
	sc := &gortmplib.ServerConn{RW: nc}
	if err := sc.Initialize(); err != nil {
		return err
	}
	if err := sc.AcceptConn(); err != nil {
		return err
	}
	if !sc.Publish {
		sc.RejectAction()
		return errors.New("play refused")
	}
	if err := sc.AcceptAction(); err != nil {
		return err
	}
	s.mu.Lock()
	s.publishes++
	s.mu.Unlock()
	if s.reader {
		return s.serveReader(nc, sc)
	}
	for {
		nc.SetDeadline(time.Now().Add(s.timeout))
		msg, err := sc.Read()
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%T", msg)
		s.mu.Lock()
		switch {
		case strings.HasPrefix(name, "*message.Video"):
			s.video++
		case strings.HasPrefix(name, "*message.Audio"):
			s.audio++
		case name == "*message.DataAMF0":
			s.data++
		}
		s.mu.Unlock()
		if c, ok := msg.(*libmessage.CommandAMF0); ok && (c.Name == "FCUnpublish" || c.Name == "deleteStream") {
			return nil
		}
	}
}

func (s *libServer) serveReader(nc net.Conn, sc *gortmplib.ServerConn) error {
	r := &gortmplib.Reader{Conn: sc}
	if err := r.Initialize(); err != nil {
		return err
	}
	count := func(v *int) {
		s.mu.Lock()
		*v++
		s.mu.Unlock()
	}
	for _, tr := range r.Tracks() {
		s.mu.Lock()
		s.tracks = append(s.tracks, fmt.Sprintf("%T", tr.Codec))
		s.mu.Unlock()
		switch tr.Codec.(type) {
		case *codecs.H264:
			r.OnDataH264(tr, func(time.Duration, time.Duration, [][]byte) { count(&s.video) })
		case *codecs.H265:
			r.OnDataH265(tr, func(time.Duration, time.Duration, [][]byte) { count(&s.video) })
		case *codecs.AV1:
			r.OnDataAV1(tr, func(time.Duration, [][]byte) { count(&s.video) })
		case *codecs.MPEG4Audio:
			r.OnDataMPEG4Audio(tr, func(time.Duration, []byte) { count(&s.audio) })
		}
	}
	for {
		nc.SetDeadline(time.Now().Add(s.timeout))
		if err := r.Read(); err != nil {
			return err
		}
	}
}

func (s *libServer) counts() (publishes, video, audio, data int, tracks []string, ends []error, panics int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publishes, s.video, s.audio, s.data, append([]string(nil), s.tracks...), append([]error(nil), s.ends...), s.panics
}

func listenLoopback(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

// selfSignedTLS is a server TLS config with a fresh self-signed pair.
func selfSignedTLS(tb testing.TB) *tls.Config {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		tb.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: priv}}}
}

// startOurs runs our server on ln with rec's OnPublish.
func startOurs(tb testing.TB, ln net.Listener, onPublish PublishFunc) {
	tb.Helper()
	srv, err := NewServer(Config{OnPublish: onPublish})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, ln) }()
	tb.Cleanup(func() { cancel(); <-done })
}

// TestCompareFFmpeg: ffmpeg publishes 3 s over RTMP and over RTMPS to
// both servers; both accept and deliver every frame.
func TestCompareFFmpeg(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	for _, scheme := range []string{"rtmp", "rtmps"} {
		wrap := func(ln net.Listener) net.Listener { return ln }
		if scheme == "rtmps" {
			conf := selfSignedTLS(t)
			wrap = func(ln net.Listener) net.Listener { return tls.NewListener(ln, conf) }
		}
		ln := listenLoopback(t)
		rec := newPublishRecorder()
		startOurs(t, wrap(ln), rec.OnPublish)
		if out, err := runFFmpeg(t, 3, scheme+"://"+ln.Addr().String()+"/live/"+testKey); err != nil {
			t.Fatalf("ours %s: ffmpeg: %v\n%s", scheme, err, out)
		}
		req, sink := rec.waitCalled(t, time.Second)
		if err := sink.wait(t, 5*time.Second); err != nil {
			t.Errorf("ours %s: Sink.Close(%v)", scheme, err)
		}
		if req.TLS != (scheme == "rtmps") {
			t.Errorf("ours %s: PublishRequest.TLS %v", scheme, req.TLS)
		}
		var oursVideo, oursAudio int
		for _, m := range sink.messages() {
			switch m.Type {
			case TypeVideo:
				oursVideo++
			case TypeAudio:
				oursAudio++
			}
		}

		lln := listenLoopback(t)
		lib := startLib(t, wrap(lln), false)
		if out, err := runFFmpeg(t, 3, scheme+"://"+lln.Addr().String()+"/live/"+testKey); err != nil {
			t.Fatalf("gortmplib %s: ffmpeg: %v\n%s", scheme, err, out)
		}
		var pubs, video, audio int
		testutil.Eventually(t, 5*time.Second, "gortmplib to see the publish end", func() bool {
			var ends []error
			pubs, video, audio, _, _, ends, _ = lib.counts()
			return len(ends) == 1
		})
		t.Logf("FIGURE %s ffmpeg 3 s: ours %d video + %d audio messages; gortmplib %d publishes, %d video + %d audio", scheme, oursVideo, oursAudio, pubs, video, audio)
		// ffmpeg sends its sequence headers as messages of their own, which
		// gortmplib counts as the same message types.
		if oursVideo < 90 || pubs != 1 || video != oursVideo || audio != oursAudio {
			t.Errorf("%s: ours %d/%d, gortmplib %d publishes %d/%d", scheme, oursVideo, oursAudio, pubs, video, audio)
		}
	}
}

// obsSequence drives a publish as OBS does: connect, releaseStream,
// FCPublish, createStream, publish, @setDataFrame metadata, media, then
// FCUnpublish and deleteStream. It returns the publish status code.
func obsSequence(t *testing.T, addr string, media func(c *testClient, streamID uint32)) string {
	c := dialClient(t, addr)
	c.connect("live")
	c.call(0, "releaseStream", nil, testKey)
	c.call(0, "FCPublish", nil, testKey)
	sid := c.createStream()
	c.call(sid, "publish", nil, testKey, "live")
	var code string
	for range 10 {
		if res := c.readCommand(); res[0] == "onStatus" {
			code, _ = amf0.LookupString(res[3], "code")
			break
		}
	}
	media(c, sid)
	c.call(0, "FCUnpublish", nil, testKey)
	c.call(0, "deleteStream", nil, float64(sid))
	c.nc.Close() // as OBS does once the stream is deleted
	return code
}

// avcMedia sends H.264 metadata, an AVC sequence header (from ffmpeg's
// output) and 3 s of frames.
func avcMedia(t *testing.T) func(c *testClient, streamID uint32) {
	return func(c *testClient, sid uint32) {
		meta, _ := amf0.Encode("@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "width", Value: 320.0}, {Key: "height", Value: 180.0},
			{Key: "videocodecid", Value: 7.0}, {Key: "framerate", Value: 30.0}})
		c.send(csidStream, message{typeID: TypeData, streamID: sid, payload: meta})
		avcC := boxPayload(t, mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 1}), "avcC")
		c.send(csidStream, message{typeID: TypeVideo, streamID: sid, payload: append([]byte{0x17, 0, 0, 0, 0}, avcC...)})
		for i := range 90 { // 3 s: the Reader probes tracks over media time
			frame := []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x09, 0xf0} // an access unit delimiter
			if i == 0 {
				frame[0] = 0x17
			}
			c.send(csidStream, message{typeID: TypeVideo, streamID: sid, timestamp: uint32(i * 33), payload: frame})
		}
	}
}

// TestCompareOBSSequence: both servers accept the OBS command sequence;
// ours ends the publish on FCUnpublish, gortmplib leaves the end to the
// application (it hands the commands up).
func TestCompareOBSSequence(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish})
	if code := obsSequence(t, addr, avcMedia(t)); code != "NetStream.Publish.Start" {
		t.Fatalf("ours: %s", code)
	}
	_, sink := rec.waitCalled(t, time.Second)
	if err := sink.wait(t, 5*time.Second); err != nil {
		t.Errorf("ours: Sink.Close(%v) after FCUnpublish", err)
	}
	if n := len(sink.messages()); n != 92 {
		t.Errorf("ours: %d messages, want metadata, sequence header and 90 frames", n)
	}

	ln := listenLoopback(t)
	lib := startLib(t, ln, false)
	if code := obsSequence(t, ln.Addr().String(), avcMedia(t)); code != "NetStream.Publish.Start" {
		t.Fatalf("gortmplib: %s", code)
	}
	testutil.Eventually(t, 5*time.Second, "gortmplib to end on FCUnpublish", func() bool {
		_, _, _, _, _, ends, _ := lib.counts()
		return len(ends) == 1
	})
	if pubs, video, _, data, _, ends, _ := lib.counts(); pubs != 1 || video != 91 || data != 1 || ends[0] != nil {
		t.Errorf("gortmplib: %d publishes, %d video, %d data, end %v", pubs, video, data, ends[0])
	}
	// The codec-aware Reader finds the H.264 track from the same sequence.
	ln = listenLoopback(t)
	libr := startLib(t, ln, true)
	obsSequence(t, ln.Addr().String(), avcMedia(t))
	testutil.Eventually(t, 5*time.Second, "the Reader to end", func() bool {
		_, _, _, _, _, ends, _ := libr.counts()
		return len(ends) == 1
	})
	_, _, _, _, tracks, ends, _ := libr.counts()
	t.Logf("gortmplib Reader: tracks %v, end %v", tracks, ends[0])
	if len(tracks) != 1 || tracks[0] != "*codecs.H264" {
		t.Errorf("gortmplib Reader tracks %v", tracks)
	}
}

// boxPayload returns the payload of the first MP4 box of the given type in
// file (avcC, hvcC, av1C: a codec's decoder configuration record).
func boxPayload(t *testing.T, file, box string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(box))
	if i < 4 {
		t.Fatalf("no %s box in %s", box, file)
	}
	size := int(binary.BigEndian.Uint32(b[i-4:]))
	return b[i+4 : i-4+size]
}

// encodeWith makes a 1 s 320x180 file with an ffmpeg encoder, cached in
// the test's temporary directory.
func encodeWith(t *testing.T, encoder string, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), encoder+".mp4")
	args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1",
		"-c:v", encoder}, extra...)
	if b, err := exec.Command("ffmpeg", append(args, out)...).CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot encode with %s: %v\n%s", encoder, err, b)
	}
	return out
}

// TestCompareEnhancedRTMP sends Enhanced RTMP (v2) by hand, as OBS 30+
// does for HEVC and AV1 (ffmpeg 5.1 cannot): connect with a fourCcList,
// metadata naming the FourCC, an extended-header sequence start with the
// real decoder configuration, and coded frames. Our server carries every
// message through unchanged (the ingest then relies on ffmpeg to demux
// it); gortmplib's Reader parses the tracks.
func TestCompareEnhancedRTMP(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	cases := []struct {
		fourCC, box, encoder string
		extra                []string
		frame                []byte // the smallest valid coded frame
		wantTrack            string
	}{
		// An access unit delimiter NAL unit, length-prefixed.
		{"hvc1", "hvcC", "libx265", []string{"-x265-params", "log-level=error"}, []byte{0, 0, 0, 2, 0x46, 0x01}, "*codecs.H265"},
		// A temporal delimiter OBU with its size field.
		{"av01", "av1C", "libsvtav1", nil, []byte{0x12, 0x00}, "*codecs.AV1"},
	}
	for _, tc := range cases {
		t.Run(tc.fourCC, func(t *testing.T) {
			config := boxPayload(t, encodeWith(t, tc.encoder, tc.extra...), tc.box)
			fourCC := binary.BigEndian.Uint32([]byte(tc.fourCC))
			media := func(c *testClient, sid uint32) {
				meta, _ := amf0.Encode("@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "width", Value: 320.0}, {Key: "height", Value: 180.0},
					{Key: "videocodecid", Value: float64(fourCC)}, {Key: "framerate", Value: 30.0}})
				c.send(csidStream, message{typeID: TypeData, streamID: sid, payload: meta})
				// IsExHeader | keyframe | PacketTypeSequenceStart, FourCC, record.
				c.send(csidStream, message{typeID: TypeVideo, streamID: sid, payload: append(append([]byte{0x90}, tc.fourCC...), config...)})
				for i := range 90 { // 3 s, so a reader that waits for media time ends its probe
					p := append([]byte{0x93}, tc.fourCC...) // PacketTypeCodedFramesX: no composition time
					if i > 0 {
						p[0] = 0xA3 // inter frame
					}
					p = append(p, tc.frame...)
					c.send(csidStream, message{typeID: TypeVideo, streamID: sid, timestamp: uint32(i * 33), payload: p})
				}
			}

			rec := newPublishRecorder()
			addr, _ := startServer(t, Config{OnPublish: rec.OnPublish})
			if code := obsSequence(t, addr, media); code != "NetStream.Publish.Start" {
				t.Fatalf("ours: %s", code)
			}
			_, sink := rec.waitCalled(t, time.Second)
			sink.wait(t, 5*time.Second)
			msgs := sink.messages()
			var info flv.StreamInfo
			var probeErr error
			for _, m := range msgs {
				if err := info.Observe(flv.Tag{Type: m.Type, Timestamp: m.Timestamp, Data: m.Payload}); err != nil && probeErr == nil {
					probeErr = err
				}
			}
			if len(msgs) != 92 || !bytes.Equal(msgs[1].Payload[5:], config) {
				t.Errorf("ours: %d messages, sequence start intact %v", len(msgs), len(msgs) > 1 && bytes.Equal(msgs[1].Payload[5:], config))
			}

			ln := listenLoopback(t)
			lib := startLib(t, ln, true)
			obsSequence(t, ln.Addr().String(), media)
			testutil.Eventually(t, 10*time.Second, "gortmplib to end", func() bool {
				_, _, _, _, _, ends, _ := lib.counts()
				return len(ends) == 1
			})
			_, _, _, _, tracks, ends, panics := lib.counts()
			t.Logf("FIGURE enhanced RTMP %s: ours carried %d/92 messages unchanged (flv probe: %+v, err %v); gortmplib Reader tracks %v (end %v, panics %d)",
				tc.fourCC, len(msgs), info, probeErr, tracks, ends[0], panics)
			if len(tracks) != 1 || tracks[0] != tc.wantTrack {
				t.Errorf("gortmplib tracks %v, want %s", tracks, tc.wantTrack)
			}
		})
	}
}

// TestCompareMalformed sends the same malformed inputs (the fuzz seed
// session cut and corrupted at random, seeded) after a valid handshake to
// both servers: neither may crash or hang, and we count what each makes
// of them.
func TestCompareMalformed(t *testing.T) {
	session := publishSession(t)
	rng := mrand.New(mrand.NewPCG(1, 2))
	const n = 200
	inputs := make([][]byte, n)
	for i := range inputs {
		in := append([]byte(nil), session[:rng.IntN(len(session))]...)
		for range 1 + rng.IntN(8) {
			if len(in) > 0 {
				in[rng.IntN(len(in))] = byte(rng.IntN(256))
			}
		}
		inputs[i] = in
	}
	send := func(addr string, in []byte) time.Duration {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return 0
		}
		defer nc.Close()
		start := time.Now()
		c1 := make([]byte, 1+handshakePartSize)
		c1[0] = rtmpVersion
		nc.Write(c1)
		s := make([]byte, 1+2*handshakePartSize)
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(nc, s); err != nil {
			return time.Since(start)
		}
		nc.Write(s[1 : 1+handshakePartSize])
		nc.Write(in)
		// The server must close a connection that went nowhere: read
		// until it does (its handshake timeout bounds it).
		nc.SetDeadline(time.Now().Add(15 * time.Second))
		io.Copy(io.Discard, nc)
		return time.Since(start)
	}
	sinks := 0
	var mu sync.Mutex
	addr, _ := startServer(t, Config{HandshakeTimeout: time.Second, ReadTimeout: time.Second, OnPublish: func(context.Context, PublishRequest) (Sink, error) {
		mu.Lock()
		sinks++
		mu.Unlock()
		return discardSink{}, nil
	}})
	ln := listenLoopback(t)
	lib := startLib(t, ln, false)
	lib.timeout = time.Second
	var oursMax, libMax time.Duration
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for _, in := range inputs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o, l := send(addr, in), send(ln.Addr().String(), in)
			mu.Lock()
			oursMax, libMax = max(oursMax, o), max(libMax, l)
			mu.Unlock()
		}()
	}
	wg.Wait()
	pubs, _, _, _, _, _, panics := lib.counts()
	t.Logf("FIGURE %d malformed sessions: ours %d publishes started, longest connection %v; gortmplib %d publishes, %d panics, longest %v",
		n, sinks, oursMax.Round(time.Millisecond), pubs, panics, libMax.Round(time.Millisecond))
	if panics != 0 {
		t.Errorf("gortmplib panicked %d times", panics)
	}
}

// discardSink accepts and drops every message.
type discardSink struct{}

func (discardSink) WriteMessage(Message) error { return nil }
func (discardSink) Close(error)                {}

// TestCompareLimits measures two differences the fuzz-style test does
// not: how much a peer can make a connection hold in half-assembled
// messages, and the chunk stream ids above 63 the specification allows.
func TestCompareLimits(t *testing.T) {
	// After connect, 30 chunk streams each start a 4 MiB video message and
	// send its first 1 MiB chunk: 30 MiB held if nothing bounds it. Ours
	// stops at 8 messages at once (and 16 MiB, 2 x MaxMessageSize) and
	// closes the connection.
	hold := func(addr string) (sentMiB int, closed bool) {
		c := dialClient(t, addr)
		c.connect("live")
		nc := c.nc
		c.send(csidControl, setChunkSizeMessage(1<<20))
		half := make([]byte, 1<<20)
		for i := range 30 {
			hdr := appendBasicHeader(nil, 0, uint32(10+i))
			hdr = append(hdr, 0, 0, 0, 0x40, 0, 0, TypeVideo, 1, 0, 0, 0) // timestamp 0, length 4 MiB, stream 1
			nc.SetWriteDeadline(time.Now().Add(3 * time.Second))
			if _, err := nc.Write(append(hdr, half...)); err != nil {
				return sentMiB, true
			}
			sentMiB++
		}
		nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := nc.Read(make([]byte, 1<<16))
		for err == nil {
			_, err = nc.Read(make([]byte, 1<<16))
		}
		return sentMiB, !isTimeout(err)
	}
	addr, _ := startServer(t, Config{OnPublish: newPublishRecorder().OnPublish})
	oursSent, oursClosed := hold(addr)
	ln := listenLoopback(t)
	lib := startLib(t, ln, false)
	lib.timeout = 5 * time.Second
	libSent, libClosed := hold(ln.Addr().String())
	t.Logf("FIGURE half-assembled messages: ours closed=%v after %d MiB sent; gortmplib closed=%v after %d MiB sent (holding them)", oursClosed, oursSent, libClosed, libSent)
	if !oursClosed {
		t.Error("ours held 20 half-assembled messages")
	}

	// connect on chunk stream 100 (a two-byte basic header).
	connectOn := func(addr string) string {
		c := dialClient(t, addr)
		p, _ := amf0.Encode("connect", 1.0, amf0.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://127.0.0.1/live"}})
		c.send(100, message{typeID: typeAMF0Command, payload: p})
		c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		for range 10 {
			m, err := c.cr.readMessage()
			if err != nil {
				return "error: " + err.Error()
			}
			if m.typeID == typeSetChunkSize {
				v, _ := uint32Payload(m)
				c.cr.setChunkSize(v)
			}
			if m.typeID == typeAMF0Command {
				vals, _ := amf0.DecodeAll(m.payload)
				return fmt.Sprint(vals[0])
			}
		}
		return "no answer"
	}
	ours, theirs := connectOn(addr), connectOn(ln.Addr().String())
	t.Logf("FIGURE connect on chunk stream 100: ours %q, gortmplib %q", ours, theirs)
	if ours != "_result" {
		t.Errorf("ours answered %q", ours)
	}
}
