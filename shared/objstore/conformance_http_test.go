package objstore_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

// The conformance cases that go over real HTTP: presigned URLs.

var httpClient = &http.Client{Timeout: 30 * time.Second}

func doHTTP(t *testing.T, method, u string, body []byte, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func testPresignedGet(t *testing.T, st objstore.Store, s suite) {
	data := randBytes(11, 5000)
	key := "orgs/o1/assets/a1/hls/720p/seg 1+é.m4s" // needs escaping
	mustPut(t, st, key, data, objstore.PutOptions{ContentType: "video/iso.segment"})
	u, err := st.PresignGet(ctxT(t), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := doHTTP(t, http.MethodGet, u, nil, nil); code != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET presigned = %d, %d bytes", code, len(body))
	}
	code, body := doHTTP(t, http.MethodGet, u, nil, http.Header{"Range": {"bytes=100-199"}})
	if code != http.StatusPartialContent || !bytes.Equal(body, data[100:200]) {
		t.Errorf("GET presigned with Range = %d, %d bytes", code, len(body))
	}
	missing, err := st.PresignGet(ctxT(t), "not/there", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := doHTTP(t, http.MethodGet, missing, nil, nil); code != http.StatusNotFound {
		t.Errorf("GET presigned missing object = %d, want 404", code)
	}
	for _, ttl := range []time.Duration{0, -time.Second, objstore.MaxPresignTTL + time.Second} {
		if _, err := st.PresignGet(ctxT(t), key, ttl); err == nil {
			t.Errorf("PresignGet with ttl %s succeeded", ttl)
		}
	}
}

func testPresignedPut(t *testing.T, st objstore.Store, s suite) {
	data := randBytes(12, 70000)
	key := "uploads/u1/source.mp4"
	p, err := st.PresignPut(ctxT(t), key, time.Minute, objstore.PresignPutOptions{ContentType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := doHTTP(t, http.MethodPut, p.URL, data, http.Header{"Content-Type": {"video/mp4"}}); code != http.StatusOK {
		t.Fatalf("PUT presigned = %d %s", code, body)
	}
	got, info := mustGet(t, st, key)
	if !bytes.Equal(got, data) || info.ContentType != "video/mp4" {
		t.Errorf("Get after presigned PUT = %d bytes, %+v", len(got), info)
	}
	if s.computesPresignedSHA256 && info.SHA256 != hexSHA(data) {
		t.Errorf("SHA256 after presigned PUT = %q, want %q", info.SHA256, hexSHA(data))
	}
	// Without a signed content type any Content-Type goes.
	p, err = st.PresignPut(ctxT(t), "uploads/u2", time.Minute, objstore.PresignPutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := doHTTP(t, http.MethodPut, p.URL, []byte("hi"), http.Header{"Content-Type": {"text/plain"}}); code != http.StatusOK {
		t.Fatalf("PUT presigned without content type = %d %s", code, body)
	}
	if got, _ := mustGet(t, st, "uploads/u2"); string(got) != "hi" {
		t.Errorf("Get = %q", got)
	}
}

// tamper returns u with its signature changed.
func tamper(t *testing.T, u, param string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := parsed.Query()
	sig := q.Get(param)
	if sig == "" {
		t.Fatalf("presigned URL has no %s parameter", param)
	}
	b := []byte(sig)
	b[len(b)/2] ^= 1
	q.Set(param, string(b))
	parsed.RawQuery = q.Encode()
	return parsed.String()
}

func testPresignRejected(t *testing.T, st objstore.Store, s suite) {
	key := "secret/thing"
	mustPut(t, st, key, []byte("private"), objstore.PutOptions{})
	get, err := st.PresignGet(ctxT(t), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	presigned, err := st.PresignPut(ctxT(t), key, time.Minute, objstore.PresignPutOptions{ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	put := presigned.URL
	other, err := st.PresignGet(ctxT(t), "secret/other", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	otherURL, _ := url.Parse(other)
	getURL, _ := url.Parse(get)
	otherURL.RawQuery = getURL.RawQuery // the signature of another key

	for _, c := range []struct {
		name        string
		method, url string
		header      http.Header
	}{
		{"TamperedGet", http.MethodGet, tamper(t, get, s.sigParam), nil},
		{"NoSignature", http.MethodGet, strings.SplitN(get, "?", 2)[0], nil},
		{"OtherKey", http.MethodGet, otherURL.String(), nil},
		{"TamperedPut", http.MethodPut, tamper(t, put, s.sigParam), http.Header{"Content-Type": {"text/plain"}}},
		{"PutWithGetURL", http.MethodPut, get, http.Header{"Content-Type": {"text/plain"}}},
		{"PutWrongContentType", http.MethodPut, put, http.Header{"Content-Type": {"text/html"}}},
	} {
		var body []byte
		if c.method == http.MethodPut {
			body = []byte("overwritten")
		}
		if code, resp := doHTTP(t, c.method, c.url, body, c.header); code != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", c.name, code, resp)
		}
	}
	if got, _ := mustGet(t, st, key); string(got) != "private" {
		t.Errorf("object changed to %q by rejected requests", got)
	}
}

func testPresignExpires(t *testing.T, st objstore.Store, s suite) {
	mustPut(t, st, "short", []byte("lived"), objstore.PutOptions{})
	u, err := st.PresignGet(ctxT(t), "short", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Poll: the URL works, then within a bounded time it stops working.
	testutil.UntilEvery(t, 10*time.Second, 100*time.Millisecond, "the presigned URL with a 1s ttl expiring", func() error {
		switch code, _ := doHTTP(t, http.MethodGet, u, nil, nil); code {
		case http.StatusForbidden:
			return nil
		case http.StatusOK:
			return errors.New("it still works")
		default:
			t.Fatalf("GET presigned = %d", code)
			return nil
		}
	})
}

// putHeader is p's headers with extra set over them.
func putHeader(p objstore.PresignedPut, extra http.Header) http.Header {
	h := p.Header.Clone()
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// testPresignedPutOnce: a write-once upload URL takes one PUT; a second
// one, or one onto an object that is already there, is refused and
// changes nothing (issue 12, finding 4).
func testPresignedPutOnce(t *testing.T, st objstore.Store, s suite) {
	key := "orgs/o1/assets/a1/source.mp4"
	first := randBytes(13, 3000)
	p, err := st.PresignPut(ctxT(t), key, time.Minute, objstore.PresignPutOptions{Size: int64(len(first)), Once: true})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := doHTTP(t, http.MethodPut, p.URL, first, p.Header); code != http.StatusOK {
		t.Fatalf("first PUT = %d %s", code, body)
	}
	second := randBytes(14, len(first)) // same length: only write-once stops it
	if code, body := doHTTP(t, http.MethodPut, p.URL, second, p.Header); code != http.StatusPreconditionFailed {
		t.Errorf("second PUT of the same URL = %d %s, want 412", code, body)
	}
	// A fresh write-once URL cannot replace the object either.
	p2, err := st.PresignPut(ctxT(t), key, time.Minute, objstore.PresignPutOptions{Size: int64(len(second)), Once: true})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := doHTTP(t, http.MethodPut, p2.URL, second, p2.Header); code != http.StatusPreconditionFailed {
		t.Errorf("PUT of a new URL onto the object = %d %s, want 412", code, body)
	}
	// Dropping the If-None-Match header breaks the signature.
	h := p.Header.Clone()
	h.Del("If-None-Match")
	if code, _ := doHTTP(t, http.MethodPut, p.URL, second, h); code < 400 {
		t.Errorf("PUT without the signed headers = %d, want refused", code)
	}
	if got, _ := mustGet(t, st, key); !bytes.Equal(got, first) {
		t.Errorf("object changed by refused PUTs")
	}
	// Once deleted (a rejected upload), the URL can land again: what
	// catches that is the upload watcher, which deletes it again.
	if err := st.Delete(ctxT(t), key); err != nil {
		t.Fatal(err)
	}
	if code, body := doHTTP(t, http.MethodPut, p.URL, second, p.Header); code != http.StatusOK {
		t.Errorf("PUT after delete = %d %s", code, body)
	}
}

// testPresignedPutSize: an upload URL bound to a size takes exactly that
// many bytes; a larger (or smaller) body is refused and stores nothing.
func testPresignedPutSize(t *testing.T, st objstore.Store, s suite) {
	key := "orgs/o1/assets/a2/source.mp4"
	p, err := st.PresignPut(ctxT(t), key, time.Minute, objstore.PresignPutOptions{Size: 1000, Once: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{5000, 999} {
		if code, body := doHTTP(t, http.MethodPut, p.URL, randBytes(15, n), p.Header); code != http.StatusForbidden {
			t.Errorf("PUT of %d bytes on a URL signed for 1000 = %d %s, want 403", n, code, body)
		}
		wantNotFound(t, st, key)
	}
	// A lying Content-Length (a body longer than declared) cannot get past
	// either: the connection carries only the declared bytes.
	data := randBytes(16, 1000)
	if code, body := doHTTP(t, http.MethodPut, p.URL, data, putHeader(p, nil)); code != http.StatusOK {
		t.Fatalf("PUT of the signed size = %d %s", code, body)
	}
	if got, _ := mustGet(t, st, key); !bytes.Equal(got, data) {
		t.Errorf("Get after sized PUT = %d bytes", len(got))
	}
	if _, err := st.PresignPut(ctxT(t), key, time.Minute, objstore.PresignPutOptions{Size: -1}); err == nil {
		t.Errorf("PresignPut with a negative size succeeded")
	}
}
