package rtmp

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestPublisher: Publish pushes to our own server, which sees the app,
// the key as the stream name and every message as sent (metadata without
// its @setDataFrame wrapper); a refusal's error does not hold the key.
func TestPublisher(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{App: "app", OnPublish: rec.OnPublish})
	ctx := testutil.Context(t, 20*time.Second)
	const key = "live_0123456789_secret"
	p, err := Publish(ctx, PublishConfig{URL: "rtmp://" + addr + "/app", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	req, sink := rec.waitCalled(t, 10*time.Second)
	if req.App != "app" || req.StreamKey != key {
		t.Fatalf("server saw app %q", req.App)
	}
	meta, _ := amf0.Encode("onMetaData", amf0.Object{{Key: "width", Value: 640.0}})
	sent := []Message{
		{Type: TypeData, Payload: meta},
		{Type: TypeVideo, Timestamp: 0, Payload: []byte{0x17, 0, 0, 0, 0, 1, 2, 3}},
		{Type: TypeAudio, Timestamp: 10, Payload: []byte{0xaf, 0, 0x12, 0x10}},
		{Type: TypeVideo, Timestamp: 33, Payload: bytes.Repeat([]byte{0x27, 1}, 5000)},
	}
	for _, m := range sent {
		if err := p.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "the server gets every message", func() bool { return len(sink.messages()) == len(sent) })
	for i, m := range sink.messages() {
		if m.Type != sent[i].Type || m.Timestamp != sent[i].Timestamp || !bytes.Equal(m.Payload, sent[i].Payload) {
			t.Fatalf("message %d: got type %d ts %d %d bytes", i, m.Type, m.Timestamp, len(m.Payload))
		}
	}
	p.Close()
	if err := sink.wait(t, 10*time.Second); err != nil {
		t.Fatalf("the server's publish ended with %v, want a clean end", err)
	}

	rec.mu.Lock()
	rec.refuseErr = errors.New("unknown key")
	rec.mu.Unlock()
	_, err = Publish(ctx, PublishConfig{URL: "rtmp://" + addr + "/app", Key: key})
	if err == nil || strings.Contains(err.Error(), key) {
		t.Fatalf("refused publish: %v", err)
	}
	if _, err := Publish(ctx, PublishConfig{URL: "http://" + addr + "/app", Key: key}); err == nil {
		t.Fatal("an http URL was accepted")
	}
}

// TestPublisherRTMPS: rtmps targets are reached over TLS, verified
// against the configured roots (an untrusted certificate fails).
func TestPublisherRTMPS(t *testing.T) {
	t.Parallel()
	conf := selfSignedTLS(t)
	cert, err := x509.ParseCertificate(conf.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := newPublishRecorder()
	startOurs(t, tls.NewListener(ln, conf), rec.OnPublish)
	ctx := testutil.Context(t, 20*time.Second)
	url := "rtmps://" + ln.Addr().String() + "/app"
	if _, err := Publish(ctx, PublishConfig{URL: url, Key: "k_untrusted"}); err == nil {
		t.Fatal("published to a server whose certificate is not trusted")
	}
	p, err := Publish(ctx, PublishConfig{URL: url, Key: "k_tls", TLSConfig: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	req, sink := rec.waitCalled(t, 10*time.Second)
	for req.StreamKey != "k_tls" { // the untrusted attempt never got this far
		req, sink = rec.waitCalled(t, 10*time.Second)
	}
	if !req.TLS {
		t.Fatal("the server did not see TLS")
	}
	if err := p.WriteMessage(Message{Type: TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0}}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the video message over TLS", func() bool { return len(sink.messages()) == 1 })
}
