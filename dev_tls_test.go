package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestDevTLSPair: dev's RTMPS pair is made once (key 0600, valid for the
// loopback names), kept across starts, and made again when it stops
// loading or nears its expiry.
func TestDevTLSPair(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Now()
	certPath, keyPath, err := devTLSPair(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key %s: %v, mode %v; want 0600", keyPath, err, fi.Mode().Perm())
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		if err := pair.Leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate for %s: %v", name, err)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(pair.Leaf)
	if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("an encoder trusting the certificate cannot verify it: %v", err)
	}
	first := readBytes(t, certPath)

	if _, _, err := devTLSPair(dir, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBytes(t, certPath), first) {
		t.Error("a restart made a new certificate; want the kept one")
	}
	if _, _, err := devTLSPair(dir, pair.Leaf.NotAfter.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	renewed := readBytes(t, certPath)
	if bytes.Equal(renewed, first) {
		t.Error("a certificate an hour from expiry was kept")
	}
	if err := os.WriteFile(certPath, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := devTLSPair(dir, now); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(certPath, keyPath); err != nil {
		t.Errorf("a broken pair was not made again: %v", err)
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDevRTMPS publishes to dev's RTMPS URL with ffmpeg, which does not
// verify the self-signed certificate by default (-tls_verify 0): the
// 3-rung ladder plays and the session records its protocol as rtmps.
func TestDevRTMPS(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	s := newStream(t, c, client.StreamCreate{Name: "rtmps"})
	u := c.RTMPSURL(s.Key)
	if !strings.HasPrefix(u, "rtmps://127.0.0.1:") {
		t.Fatalf("RTMPS URL %s", u)
	}
	pub := publish(t, u, 1280, 720, 8, true)
	masterWhenLive(t, c, s.PlaybackID, "", 3)
	if err := pub.Wait(); err != nil {
		t.Fatalf("ffmpeg over RTMPS: %v", err)
	}
	testutil.UntilEvery(t, 30*time.Second, 250*time.Millisecond, "the rtmps session to end", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		all, err := c.API.Streams().Sessions(ctx, s.ID)
		if err != nil {
			return err
		}
		if len(all) != 1 || all[0].EndedAt == nil {
			return fmt.Errorf("sessions %+v", all)
		}
		if all[0].Protocol != "rtmps" {
			t.Errorf("session protocol %q, want rtmps", all[0].Protocol)
		}
		return nil
	})
}
