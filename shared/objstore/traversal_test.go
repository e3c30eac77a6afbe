package objstore

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLocalHandlerTraversalOnTheWire sends hostile request targets, as
// they are, to a real server mounting the handler at /objects/ over a
// store that keeps its signing secret in its directory: dot segments
// plain, encoded and double-encoded, backslashes, absolute paths, NUL,
// long names, and every spelling of the secret file and the store's own
// directories. Each is refused with a 4xx, unsigned or signed for the
// very key it decodes to (unless that key is a plain name inside the
// store, as a double-encoded one is), and no answer carries the secret or a file from
// outside the store; PUTs change nothing.
func TestLocalHandlerTraversalOnTheWire(t *testing.T) {
	parent := t.TempDir()
	outside := filepath.Join(parent, "outside")
	const outsideMark = "OUTSIDE-THE-STORE"
	if err := os.WriteFile(outside, []byte(outsideMark), 0o644); err != nil {
		t.Fatal(err)
	}
	// No SigningSecret: the store makes and keeps .signing-secret.
	l := newTestLocal(t, LocalConfig{Dir: filepath.Join(parent, "store"), SigningSecret: []byte{}})
	put(t, l, "ok", []byte("fine"))
	secretPath := filepath.Join(l.Dir(), secretFile)
	kept, err := os.ReadFile(secretPath)
	if err != nil || len(kept) < 16 {
		t.Fatalf("kept secret: %d bytes, %v", len(kept), err)
	}
	if !bytes.Equal(kept, l.secret) {
		t.Fatal("the store does not sign with the kept secret")
	}
	for _, key := range []string{secretFile, ".tmp/x", ".meta/ok", "a/../" + secretFile} {
		if _, err := l.PresignGet(t.Context(), key, time.Minute); err == nil {
			t.Errorf("PresignGet %q succeeded", key)
		}
		if _, err := l.PresignPut(t.Context(), key, time.Minute, PresignPutOptions{}); err == nil {
			t.Errorf("PresignPut %q succeeded", key)
		}
	}

	s := httptest.NewServer(l.Handler())
	defer s.Close()
	addr := s.Listener.Addr().String()
	okURL, err := l.PresignGet(t.Context(), "ok", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := rawRequest(t, addr, "GET", strings.TrimPrefix(okURL, "http://objects.test"), ""); code != 200 || body != "fine" {
		t.Fatalf("GET of a presigned object: %d %q", code, body)
	}

	targets := []string{
		"/objects/" + secretFile,
		"/objects/%2esigning-secret",
		"/objects/%2Esigning-secret",
		"/objects/%252esigning-secret",
		"/objects/./" + secretFile,
		"/objects/a/../" + secretFile,
		"/objects/a/%2e%2e/" + secretFile,
		"/objects/a%2f..%2f" + secretFile,
		"/objects/a%2f%2e%2e%2f%2esigning-secret",
		"/objects/a/%252e%252e/" + secretFile,
		"/objects/a%5c..%5c" + secretFile,
		"/objects/..%5c" + secretFile,
		"/objects/" + secretFile + "%00",
		"/objects/" + secretFile + "%00.mp4",
		"/objects/" + secretFile + "/",
		"/objects/" + secretFile + "/.",
		"/objects//" + secretFile,
		"/objects/%2f" + secretFile,
		"/objects/.tmp/x",
		"/objects/.meta/ok",
		"/objects/%2emeta/ok",
		"/objects/../outside",
		"/objects/%2e%2e/outside",
		"/objects/%2E%2E%2Foutside",
		"/objects/%252e%252e/outside",
		"/objects/%c0%ae%c0%ae/outside",
		"/objects/..%5coutside",
		"/objects/a/%2e%2e/%2e%2e/outside",
		"/objects//etc/passwd",
		"/objects/%2fetc%2fpasswd",
		"/objects/" + url.PathEscape(parent) + "%2foutside",
		"/objects/C:%5coutside",
		"/objects/a%00b",
		"/objects/" + strings.Repeat("a", 5000),
		"/objects/" + strings.Repeat("a/", 2000) + "b",
		"/objects/" + strings.Repeat("..%2f", 100) + "outside",
	}
	for _, target := range targets {
		key, decodeErr := url.PathUnescape(strings.TrimPrefix(target, "/objects/"))
		for _, method := range []string{"GET", "HEAD", "PUT"} {
			signFor := "GET"
			if method == "PUT" {
				signFor = "PUT"
			}
			tries := map[string]string{"unsigned": target}
			if decodeErr == nil {
				tries["signed"] = signedTarget(l, signFor, target, key, "")
			}
			for how, tgt := range tries {
				code, body := rawRequest(t, addr, method, tgt, "evil")
				// A double-encoded name decodes once, to a plain key
				// such as "%2e%2e/outside": signed for, it is an
				// ordinary object inside the store.
				literal := how == "signed" && ValidateKey(key) == nil
				if !literal && (code < 400 || code > 499) {
					t.Errorf("%s %.80q (%s): %d, want 4xx", method, target, how, code)
				}
				if bytes.Contains([]byte(body), kept) || strings.Contains(body, outsideMark) || strings.Contains(body, l.Dir()) {
					t.Errorf("%s %.80q (%s): the answer carries the secret, an outside file or the store's path", method, target, how)
				}
			}
		}
	}
	if b, _ := os.ReadFile(secretPath); !bytes.Equal(b, kept) {
		t.Error("the kept secret changed")
	}
	if b, _ := os.ReadFile(outside); string(b) != outsideMark {
		t.Errorf("the file outside the store now holds %q", b)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 2 {
		t.Errorf("the store's parent holds %v, want only outside and store", entries)
	}
	if b, _, err := readAll(t, l, "ok"); err != nil || string(b) != "fine" {
		t.Errorf("object ok = %q, %v", b, err)
	}
}

// rawRequest writes one request with target as it is (no client cleans
// it) and a body, and reads the answer.
func rawRequest(t *testing.T, addr, method, target, body string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := method + " " + target + " HTTP/1.1\r\nHost: objects.test\r\nConnection: close\r\n"
	if method == "PUT" {
		req += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	} else {
		req += "\r\n"
	}
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %.80q: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}
