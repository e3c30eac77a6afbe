package edge_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 with the
// given serial and its key as PEM files (through a rename, as ACME
// clients replace them).
func writeSelfSigned(t testing.TB, certPath, keyPath string, serial int64) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "edge-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	for path, block := range map[string]*pem.Block{certPath: {Type: "CERTIFICATE", Bytes: der}, keyPath: {Type: "PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(path+".tmp", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
}

// servedSerial is the serial of the certificate a new TLS handshake with
// addr gets.
func servedSerial(addr string) int64 {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return -1
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestRTMPS publishes with ffmpeg over RTMPS to an edge with a self-signed
// certificate: the ladder and the recording appear as over RTMP. Then the
// certificate files are replaced: the next handshakes get the new pair; a
// broken replacement keeps it and is logged.
func TestRTMPS(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	const key = "sk_test_rtmps"
	cp := startFakeControl(t, key, protocol.PlaybackPublic)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(t.TempDir(), "cert.pem"), filepath.Join(t.TempDir(), "key.pem")
	writeSelfSigned(t, certPath, keyPath, 1)
	logs := &testutil.SyncBuffer{}
	n, err := edge.New(edge.Config{NodeID: "edge-1", DataDir: dir, Control: []string{cp.addr()}, JoinToken: cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", RTMPSAddr: "127.0.0.1:0", TLSCert: certPath, TLSKey: keyPath,
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs, testutil.LogWriter(t, "")), nil))})
	if err != nil {
		t.Fatal(err)
	}
	runEdge(t, n)
	if !strings.HasPrefix(n.RTMPSURL(), "rtmps://127.0.0.1:") || !strings.HasSuffix(n.RTMPSURL(), "/live") {
		t.Fatalf("RTMPS URL %q", n.RTMPSURL())
	}

	// ffmpeg's TLS does not verify the peer unless told to (-tls_verify 0
	// is its default): the self-signed pair is accepted.
	pub := mediatest.Publish(t, n.RTMPSURL()+"/"+key, mediatest.Live{Spec: mediatest.Spec{Width: 1280, Height: 720, Seconds: 6, GOP: 30, Audio: true}})
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	end := cp.waitEnded(t, "ses_1", 60*time.Second)
	if end.Reason != "unpublished" || end.RecordingBytes == 0 {
		t.Errorf("session end %+v, want unpublished with a recording", end)
	}
	for _, rung := range []string{"720p", "480p", "360p"} {
		b, err := os.ReadFile(filepath.Join(dir, "hls", "pb1", rung, "index.m3u8"))
		if err != nil || !strings.Contains(string(b), "#EXT-X-ENDLIST") {
			t.Errorf("%s playlist: %v\n%s", rung, err, b)
		}
	}

	u, err := url.Parse(n.RTMPSURL())
	if err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(u.Host); got != 1 {
		t.Fatalf("served certificate serial %d, want 1", got)
	}
	writeSelfSigned(t, certPath, keyPath, 2)
	// Polled gently: the edge limits new connections per address.
	took := testutil.EventuallyEvery(t, 15*time.Second, 300*time.Millisecond, "the replaced certificate to be served",
		func() bool { return servedSerial(u.Host) == 2 })
	t.Logf("replacement served after %v", took.Round(time.Millisecond))

	if err := os.WriteFile(certPath, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errorsBefore := strings.Count(logs.String(), "does not load") // a check between the two renames above may have seen a mismatched pair
	testutil.EventuallyEvery(t, 15*time.Second, 300*time.Millisecond, "the broken replacement to be noticed", func() bool {
		if got := servedSerial(u.Host); got != 2 {
			t.Fatalf("a handshake after a broken replacement got serial %d, want the previous 2", got)
		}
		return strings.Count(logs.String(), "does not load") > errorsBefore
	})
	if got := servedSerial(u.Host); got != 2 {
		t.Fatalf("served serial %d after a broken replacement, want the previous 2", got)
	}
	if strings.Contains(logs.String(), key) {
		t.Error("the stream key reached the log")
	}
}
