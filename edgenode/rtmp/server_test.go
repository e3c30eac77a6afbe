package rtmp

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/flv"
	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

const testKey = "sk_live_0123456789abcdef"

// runFFmpeg publishes a test pattern with audio for seconds to url.
func runFFmpeg(t *testing.T, seconds int, url string, extra ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := mediatest.Live{Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: seconds, GOP: 30, Audio: true}}.PublishArgs(url)
	// Output options go before the output's "-f flv URL".
	args = append(args[:len(args)-3:len(args)-3], append(extra, args[len(args)-3:]...)...)
	return exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput()
}

func TestFFmpegPublish(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	t.Parallel()
	rec := newPublishRecorder()
	addr, logs := startServer(t, Config{OnPublish: rec.OnPublish})

	if out, err := runFFmpeg(t, 3, "rtmp://"+addr+"/live/"+testKey+"?src=test"); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	req, sink := rec.waitCalled(t, time.Second)
	if req.App != "live" || req.StreamKey != testKey || req.Query != "src=test" || !strings.HasPrefix(req.RemoteAddr, "127.0.0.1:") {
		t.Errorf("request %+v", req)
	}
	if err := sink.wait(t, 5*time.Second); err != nil {
		t.Errorf("Sink.Close(%v), want nil after a clean unpublish", err)
	}
	msgs := sink.messages()
	checkMedia(t, msgs, 3000)

	// The messages make an FLV that ffprobe reads, and StreamInfo agrees.
	path := filepath.Join(t.TempDir(), "out.flv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := flv.NewWriter(f, true, true)
	var info flv.StreamInfo
	for _, m := range msgs {
		tag := flv.Tag{Type: m.Type, Timestamp: m.Timestamp, Data: m.Payload}
		if err := info.Observe(tag); err != nil {
			t.Errorf("Observe: %v", err)
		}
		if err := w.WriteTag(tag); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	// ultrafast x264 is Constrained Baseline (profile_idc 66).
	want := flv.StreamInfo{Width: 640, Height: 360, FrameRate: 30, HasAudio: true, HasVideo: true, VideoCodec: "h264", AudioCodec: "aac", VideoProfile: 66}
	if info != want {
		t.Errorf("StreamInfo %+v, want %+v", info, want)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_streams", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	for _, s := range []string{"codec_name=h264", "width=640", "height=360", "codec_name=aac"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("ffprobe output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(logs.String(), testKey) {
		t.Errorf("stream key in logs:\n%s", logs.String())
	}
}

// checkMedia checks that msgs hold metadata first, then video and audio
// with non-decreasing timestamps spanning about wantMillis.
func checkMedia(t *testing.T, msgs []Message, wantMillis uint32) {
	t.Helper()
	if len(msgs) == 0 || msgs[0].Type != TypeData {
		t.Fatalf("first message is not script data (%d messages)", len(msgs))
	}
	if v, _, _ := amf0.Decode(msgs[0].Payload); v != "onMetaData" {
		t.Errorf("script data starts with %v, want onMetaData", v)
	}
	last := map[uint8]uint32{}
	count := map[uint8]int{}
	for _, m := range msgs {
		if m.Timestamp < last[m.Type] {
			t.Fatalf("type %d timestamp went back from %d to %d", m.Type, last[m.Type], m.Timestamp)
		}
		last[m.Type] = m.Timestamp
		count[m.Type]++
	}
	if count[TypeVideo] < 30 || count[TypeAudio] < 30 {
		t.Errorf("got %d video and %d audio messages", count[TypeVideo], count[TypeAudio])
	}
	for _, typ := range []uint8{TypeVideo, TypeAudio} {
		if d := int64(last[typ]) - int64(wantMillis); d < -500 || d > 500 {
			t.Errorf("type %d ends at %d ms, want about %d", typ, last[typ], wantMillis)
		}
	}
}

// TestFFmpegPublishKeyAsName publishes the way an encoder configured with
// server rtmp://host/live and a separate stream key does.
func TestFFmpegPublishKeyAsName(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish})
	out, err := runFFmpeg(t, 1, "rtmp://"+addr+"/live", "-rtmp_app", "live", "-rtmp_playpath", testKey)
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	req, sink := rec.waitCalled(t, time.Second)
	if req.App != "live" || req.StreamKey != testKey || req.Query != "" {
		t.Errorf("request %+v", req)
	}
	if err := sink.wait(t, 5*time.Second); err != nil {
		t.Errorf("Sink.Close(%v)", err)
	}
	checkMedia(t, sink.messages(), 1000)
}

func TestFFmpegPublishRefused(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	t.Parallel()
	rec := newPublishRecorder()
	rec.refuseErr = errors.New("stream key unknown")
	addr, logs := startServer(t, Config{OnPublish: rec.OnPublish})
	out, err := runFFmpeg(t, 1, "rtmp://"+addr+"/live/"+testKey)
	if err == nil {
		t.Fatalf("ffmpeg succeeded against a refusing server:\n%s", out)
	}
	_, sink := rec.waitCalled(t, time.Second)
	if sink != nil {
		t.Error("a sink was created for a refused publish")
	}
	if !strings.Contains(string(out), "NetStream.Publish.BadName") && !strings.Contains(string(out), "publish refused") {
		t.Errorf("ffmpeg output does not name the refusal:\n%s", out)
	}
	if l := logs.String(); strings.Contains(l, testKey) || !strings.Contains(l, "sk_l…") {
		t.Errorf("logs should carry only the redacted key:\n%s", l)
	}
}

func TestStalledPublisherTimesOut(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	const readTimeout = 500 * time.Millisecond
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish, ReadTimeout: readTimeout})
	c := dialClient(t, addr)
	if code := c.startPublish("live", testKey); code != "NetStream.Publish.Start" {
		t.Fatalf("publish status %q", code)
	}
	start := time.Now()
	_, sink := rec.waitCalled(t, time.Second)
	err := sink.wait(t, readTimeout+2*time.Second)
	if !isTimeout(err) {
		t.Fatalf("Sink.Close(%v), want a timeout", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error carries the key: %v", err)
	}
	t.Logf("closed after %s: %v", time.Since(start).Round(time.Millisecond), err)
}

func TestPublishNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		app, name         string
		wantApp, wantKey  string
		wantQuery         string
		wantStatus        string
		wantOnPublishCall bool
	}{
		{"live", "KEY1", "live", "KEY1", "", "NetStream.Publish.Start", true},
		{"live", "KEY2?token=abc", "live", "KEY2", "token=abc", "NetStream.Publish.Start", true},
		{"live/KEY3", "", "live", "KEY3", "", "NetStream.Publish.Start", true},
		{"live?token=x", "KEY4", "live", "KEY4", "token=x", "NetStream.Publish.Start", true},
		{"live", "", "", "", "", "NetStream.Publish.BadName", false},
	}
	for _, tc := range tests {
		rec := newPublishRecorder()
		addr, _ := startServer(t, Config{OnPublish: rec.OnPublish})
		c := dialClient(t, addr)
		if code := c.startPublish(tc.app, tc.name); code != tc.wantStatus {
			t.Errorf("app %q name %q: status %q, want %q", tc.app, tc.name, code, tc.wantStatus)
			continue
		}
		if !tc.wantOnPublishCall {
			continue
		}
		req, _ := rec.waitCalled(t, time.Second)
		if req.App != tc.wantApp || req.StreamKey != tc.wantKey || req.Query != tc.wantQuery {
			t.Errorf("app %q name %q: got %+v", tc.app, tc.name, req)
		}
	}
}

func TestPlayRefused(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish})
	c := dialClient(t, addr)
	c.connect("live")
	id := c.createStream()
	c.call(id, "play", nil, "somestream")
	res := c.readCommand()
	if code, _ := amf0.LookupString(res[3], "code"); res[0] != "onStatus" || code != "NetStream.Play.Failed" {
		t.Fatalf("play answer %v", res)
	}
	if _, err := c.cr.readMessage(); err == nil {
		t.Fatal("connection still open after refused play")
	}
}

func TestUnknownCommandGetsError(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish})
	c := dialClient(t, addr)
	c.connect("live")
	tx := c.call(0, "noSuchCommand", nil, "x")
	if res := c.readCommand(); res[0] != "_error" || res[1] != tx {
		t.Fatalf("answer %v", res)
	}
	// The connection still works.
	if id := c.createStream(); id != 1 {
		t.Fatalf("stream id %d", id)
	}
}

func TestMediaBeforePublishIsDropped(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish})
	c := dialClient(t, addr)
	c.connect("live")
	id := c.createStream()
	c.send(6, message{typeID: TypeVideo, streamID: id, timestamp: 1, payload: []byte{0x17, 1}})
	if code := c.publish(id, testKey); code != "NetStream.Publish.Start" {
		t.Fatal(code)
	}
	c.send(6, message{typeID: TypeVideo, streamID: id, timestamp: 2, payload: []byte{0x17, 1}})
	c.call(0, "deleteStream", nil, float64(id))
	_, sink := rec.waitCalled(t, time.Second)
	if err := sink.wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if msgs := sink.messages(); len(msgs) != 1 || msgs[0].Timestamp != 2 {
		t.Fatalf("sink got %+v, want only the message sent after publish", msgs)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish, HandshakeTimeout: 300 * time.Millisecond})
	c := dialClient(t, addr)
	c.connect("live") // then never publish
	start := time.Now()
	if _, err := c.cr.readMessage(); err == nil {
		t.Fatal("connection open past the handshake timeout")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %s", d)
	}
}

// TestMaxConns: at the cap an idle handshake is evicted to make room; a
// publisher never is, so with the only slot publishing the next
// connection is refused.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish, MaxConns: 1})
	served := func() bool {
		nc, err := (&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		c1 := make([]byte, 1+handshakePartSize)
		c1[0] = rtmpVersion
		nc.Write(c1)
		_, err = io.ReadFull(nc, make([]byte, 1+handshakePartSize))
		return err == nil
	}
	idle := dialClient(t, addr) // holds the only slot, not publishing
	if !served() {
		t.Fatal("a new connection was refused while the only slot held an idle handshake")
	}
	if _, err := idle.nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("the idle handshake was not evicted")
	}
	pub := dialClient(t, addr)
	pub.startPublish("live", testKey)
	if served() {
		t.Fatal("second connection served past MaxConns while the slot publishes")
	}
}

func TestShutdownClosesSink(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	srv, err := NewServer(Config{OnPublish: rec.OnPublish})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	// Serve records its address before accepting; poll for it.
	testutil.Eventually(t, 5*time.Second, "Serve to record its address", func() bool { return srv.Addr() != nil })
	if srv.Addr().String() != ln.Addr().String() {
		t.Fatalf("Addr %v, want %v", srv.Addr(), ln.Addr())
	}
	c := dialClient(t, ln.Addr().String())
	if code := c.startPublish("live", testKey); code != "NetStream.Publish.Start" {
		t.Fatal(code)
	}
	_, sink := rec.waitCalled(t, time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if err := sink.wait(t, time.Second); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Sink.Close(%v), want ErrServerClosed", err)
	}
}

func TestAcknowledgementsSent(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish})
	c := dialClient(t, addr)
	c.send(csidControl, windowAckSizeMessage(5000))
	c.connect("live")
	id := c.createStream()
	if code := c.publish(id, testKey); code != "NetStream.Publish.Start" {
		t.Fatal(code)
	}
	for i := range 5 {
		c.send(6, message{typeID: TypeVideo, streamID: id, timestamp: uint32(i), payload: payload(3000, 0)})
	}
	for range 20 {
		m, err := c.cr.readMessage()
		if err != nil {
			t.Fatal(err)
		}
		if m.typeID == typeAcknowledgement {
			if seq, _ := uint32Payload(m); seq < 5000 {
				t.Fatalf("acknowledged %d bytes, want at least 5000", seq)
			}
			return
		}
	}
	t.Fatal("no acknowledgement")
}

func TestOversizeMessageEndsPublish(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, logs := startServer(t, Config{OnPublish: rec.OnPublish, MaxMessageSize: 64 << 10})
	c := dialClient(t, addr)
	if code := c.startPublish("live", testKey); code != "NetStream.Publish.Start" {
		t.Fatal(code)
	}
	_, sink := rec.waitCalled(t, time.Second)
	// Only the header: the server must refuse on the declared length.
	// The write may race with the server closing, so its error is ignored.
	c.nc.Write([]byte{0x06, 0, 0, 0, 0x01, 0x00, 0x01, TypeVideo, 1, 0, 0, 0})
	err := sink.wait(t, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exceeds limit") {
		t.Fatalf("Sink.Close(%v), want a message-size error", err)
	}
	if _, err := c.cr.readMessage(); err == nil {
		t.Fatal("connection still open")
	}
	if !strings.Contains(logs.String(), "exceeds limit") {
		t.Errorf("reason not logged:\n%s", logs.String())
	}
}
