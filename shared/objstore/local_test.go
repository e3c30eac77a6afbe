package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func newTestLocal(t *testing.T, cfg LocalConfig) *Local {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.PublicBaseURL == "" {
		cfg.PublicBaseURL = "http://objects.test"
	}
	if cfg.SigningSecret == nil {
		cfg.SigningSecret = secret
	}
	l, err := OpenLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func put(t *testing.T, l *Local, key string, data []byte) ObjectInfo {
	t.Helper()
	info, err := l.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readAll(t *testing.T, l *Local, key string) ([]byte, ObjectInfo, error) {
	t.Helper()
	rc, info, err := l.Get(t.Context(), key)
	if err != nil {
		return nil, info, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, info, err
}

func tmpEntries(t *testing.T, l *Local) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(l.Dir(), tmpDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// serve runs one request through the handler, in this goroutine.
func serve(l *Local, method, target string, body io.Reader, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, req)
	return rec
}

// signedTarget builds a request target for key as presign would, without
// validating the key, so that hostile keys can be signed.
func signedTarget(l *Local, method, rawPath, key, ct string) string {
	exp := fmt.Sprint(l.now().Add(time.Minute).Unix())
	q := url.Values{"exp": {exp}, "sig": {l.sign(method, key, exp, signedConds{contentType: ct})}}
	if ct != "" {
		q.Set("ct", ct)
	}
	return rawPath + "?" + q.Encode()
}

func TestLocalTraversal(t *testing.T) {
	parent := t.TempDir()
	outside := filepath.Join(parent, "outside")
	if err := os.WriteFile(outside, []byte("not yours"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := newTestLocal(t, LocalConfig{Dir: filepath.Join(parent, "store")})
	put(t, l, "ok", []byte("fine"))

	// Hostile paths reach the handler with a valid signature for the very
	// key they name; they are refused for the key, not for the signature.
	for _, c := range []struct{ raw, key string }{
		{"/objects/../outside", "../outside"},
		{"/objects/%2e%2e/outside", "../outside"},
		{"/objects/a/%2E%2E/%2e%2e/outside", "a/../../outside"},
		{"/objects/.meta/ok", ".meta/ok"},
		{"/objects//etc/passwd", "/etc/passwd"},
		{"/objects/a%00b", "a\x00b"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodPut} {
			rec := serve(l, method, signedTarget(l, method, c.raw, c.key, ""), strings.NewReader("evil"), nil)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s %s: %d %q, want 400", method, c.raw, rec.Code, rec.Body)
			}
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "not yours" {
		t.Errorf("file outside the store now holds %q", b)
	}

	// Symlinks planted inside the directory do not lead out of it.
	if err := os.Symlink(parent, filepath.Join(l.Dir(), "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(l.Dir(), "filelink")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"dirlink/outside", "filelink"} {
		if b, _, err := readAll(t, l, key); err == nil {
			t.Errorf("Get %s through a symlink = %q", key, b)
		}
		if _, err := l.Put(t.Context(), key, strings.NewReader("evil"), 4, PutOptions{}); err == nil && key != "filelink" {
			t.Errorf("Put %s through a symlink succeeded", key)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "not yours" {
		t.Errorf("file outside the store now holds %q", b)
	}
	var listed []string
	if err := l.List(t.Context(), "", func(info ObjectInfo) error { listed = append(listed, info.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(listed, ",") != "filelink,ok" && strings.Join(listed, ",") != "ok" {
		t.Errorf("List = %q, want only objects inside the store", listed)
	}
}

func TestLocalConcurrentWriters(t *testing.T) {
	l := newTestLocal(t, LocalConfig{})
	const writers = 8
	contents := make([][]byte, writers)
	for i := range contents {
		contents[i] = bytes.Repeat([]byte{byte('a' + i)}, 256<<10+i)
	}
	put(t, l, "k", []byte("initial"))

	ctx, cancel := context.WithCancel(t.Context())
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for ctx.Err() == nil {
				// Every read sees one whole version: the reader verifies
				// the checksum of what it returns.
				b, info, err := readAll(t, l, "k")
				if err != nil {
					t.Errorf("Get during writes: %v", err)
					return
				}
				if info.SHA256 != "" && hexSum(b) != info.SHA256 {
					t.Errorf("Get during writes returned a torn object")
					return
				}
			}
		})
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for range 5 {
				if _, err := l.Put(t.Context(), "k", bytes.NewReader(contents[i]), -1, PutOptions{}); err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	cancel()
	readers.Wait()

	b, info, err := readAll(t, l, "k")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range contents {
		found = found || bytes.Equal(b, c)
	}
	if !found || info.SHA256 != hexSum(b) {
		t.Errorf("after concurrent writes: %d bytes, sha %q; want one writer's whole content and its checksum", len(b), info.SHA256)
	}
	if left := tmpEntries(t, l); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// TestLocalNoPartialObject holds a write half-way and looks at the final
// name from every side.
func TestLocalNoPartialObject(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("Existing=%v", existing), func(t *testing.T) {
			l := newTestLocal(t, LocalConfig{})
			key := "orgs/o1/assets/a1/source.mp4"
			old := []byte("the old recording")
			if existing {
				put(t, l, key, old)
			}
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				_, err := l.Put(t.Context(), key, pr, -1, PutOptions{})
				done <- err
			}()
			if _, err := pw.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
				t.Fatal(err)
			}
			// The first MiB has been consumed: the write is in progress.
			b, err := os.ReadFile(filepath.Join(l.Dir(), filepath.FromSlash(key)))
			switch {
			case existing && (err != nil || !bytes.Equal(b, old)):
				t.Errorf("during the write the file holds %d bytes, %v; want the old object", len(b), err)
			case !existing && !errors.Is(err, os.ErrNotExist):
				t.Errorf("during the write the final name exists: %d bytes, %v", len(b), err)
			}
			if info, err := l.Stat(t.Context(), key); existing && info.SHA256 != hexSum(old) || !existing && !errors.Is(err, ErrNotFound) {
				t.Errorf("Stat during the write = %+v, %v", info, err)
			}
			if len(tmpEntries(t, l)) == 0 {
				t.Error("no temporary file while writing")
			}

			// The writer dies: nothing of it remains.
			pw.CloseWithError(errors.New("encoder crashed"))
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "encoder crashed") {
					t.Errorf("Put = %v, want the reader's error", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Put did not return after its reader failed")
			}
			b, _, err = readAll(t, l, key)
			if existing && !bytes.Equal(b, old) || !existing && !errors.Is(err, ErrNotFound) {
				t.Errorf("after the failed write Get = %q, %v", b, err)
			}
			if left := tmpEntries(t, l); len(left) != 0 {
				t.Errorf("temporary files left: %q", left)
			}
		})
	}
}

// TestLocalCrashStates sets up what a crash can leave behind and checks
// that the store reports it as unknown, never as wrong.
func TestLocalCrashStates(t *testing.T) {
	dir := t.TempDir()
	l := newTestLocal(t, LocalConfig{Dir: dir})
	put(t, l, "v", []byte("version 1"))
	l.Close()

	// A crashed write's temp file (old), a crashed DeletePrefix's trash,
	// and a fresh temp file of another writer.
	stale := filepath.Join(dir, tmpDir, "stale")
	fresh := filepath.Join(dir, tmpDir, "fresh")
	trash := filepath.Join(dir, tmpDir, "trash-x", "1")
	for _, p := range []string{stale, fresh, filepath.Join(trash, "obj")} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	os.Chtimes(stale, old, old)

	// Crash after renaming new data of the same size over "v" and before
	// its metadata: the metadata describes other bytes.
	if err := os.WriteFile(filepath.Join(dir, "v"), []byte("version 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Crash after renaming a new object's data, before any metadata.
	if err := os.WriteFile(filepath.Join(dir, "nometa"), []byte("data only"), 0o644); err != nil {
		t.Fatal(err)
	}

	l = newTestLocal(t, LocalConfig{Dir: dir})
	if left := strings.Join(tmpEntries(t, l), ","); left != "fresh" {
		t.Errorf("after reopening .tmp holds %q, want only the fresh file", left)
	}
	for key, want := range map[string]string{"v": "version 2", "nometa": "data only"} {
		info, err := l.Stat(t.Context(), key)
		if err != nil || info.SHA256 != "" || info.Size != int64(len(want)) {
			t.Errorf("Stat %s = %+v, %v; want the size and an unknown checksum", key, info, err)
		}
		if b, _, err := readAll(t, l, key); err != nil || string(b) != want {
			t.Errorf("Get %s = %q, %v", key, b, err)
		}
	}
	// Rewriting repairs the metadata.
	put(t, l, "v", []byte("version 3"))
	if info, _ := l.Stat(t.Context(), "v"); info.SHA256 != hexSum([]byte("version 3")) {
		t.Errorf("after a rewrite Stat = %+v", info)
	}
}

// TestLocalBitRot changes stored bytes behind the store's back, keeping
// size and mtime: Get notices at the end of the read.
func TestLocalBitRot(t *testing.T) {
	l := newTestLocal(t, LocalConfig{})
	info := put(t, l, "k", bytes.Repeat([]byte("good"), 1000))
	path := filepath.Join(l.Dir(), "k")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("b"), 2000)
	f.Close()
	os.Chtimes(path, info.ModTime, info.ModTime)
	if _, _, err := readAll(t, l, "k"); !errors.Is(err, ErrChecksumMismatch) {
		t.Errorf("Get of a rotten object: %v, want ErrChecksumMismatch", err)
	}
}

func TestLocalKeyConflicts(t *testing.T) {
	l := newTestLocal(t, LocalConfig{})
	put(t, l, "a", []byte("object"))
	put(t, l, "c/d", []byte("object"))
	for _, key := range []string{"a/b", "c"} {
		_, err := l.Put(t.Context(), key, strings.NewReader("x"), 1, PutOptions{})
		if err == nil || !strings.Contains(err.Error(), "both an object and a prefix") {
			t.Errorf("Put %s: %v, want a conflict", key, err)
		}
	}
	if left := tmpEntries(t, l); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

func TestLocalDeletePrunesDirectories(t *testing.T) {
	l := newTestLocal(t, LocalConfig{})
	put(t, l, "orgs/o1/assets/a1/hls/720p/seg1.m4s", []byte("x"))
	put(t, l, "orgs/o1/assets/a2/source.mp4", []byte("x"))
	if err := l.Delete(t.Context(), "orgs/o1/assets/a1/hls/720p/seg1.m4s"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"orgs/o1/assets/a1", ".meta/orgs/o1/assets/a1"} {
		if _, err := os.Stat(filepath.Join(l.Dir(), d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after its last object was deleted: %v", d, err)
		}
	}
	if err := l.DeletePrefix(t.Context(), "orgs/o1/assets/a2/"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(l.Dir())
	for _, e := range entries {
		if e.Name() != metaDir && e.Name() != tmpDir {
			t.Errorf("%s left after everything was deleted", e.Name())
		}
	}
}

func TestLocalHandler(t *testing.T) {
	l := newTestLocal(t, LocalConfig{MaxUploadBytes: 1000})
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }
	data := []byte("0123456789")
	if _, err := l.Put(t.Context(), "k.m3u8", bytes.NewReader(data), 10, PutOptions{CacheControl: "max-age=5"}); err != nil {
		t.Fatal(err)
	}
	get, err := l.PresignGet(t.Context(), "k.m3u8", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(get, "http://objects.test/objects/k.m3u8?") {
		t.Errorf("presigned URL %s", get)
	}
	target := strings.TrimPrefix(get, "http://objects.test")

	rec := serve(l, http.MethodGet, target, nil, nil)
	h := rec.Result().Header
	if rec.Code != 200 || rec.Body.String() != string(data) || h.Get("Content-Type") != "application/vnd.apple.mpegurl" ||
		h.Get("Cache-Control") != "max-age=5" || h.Get("ETag") != `"`+hexSum(data)+`"` {
		t.Errorf("GET = %d %q %v", rec.Code, rec.Body, h)
	}
	if rec := serve(l, http.MethodHead, target, nil, nil); rec.Code != 200 || rec.Body.Len() != 0 || rec.Result().Header.Get("Content-Length") != "10" {
		t.Errorf("HEAD = %d, %d body bytes, %v", rec.Code, rec.Body.Len(), rec.Result().Header)
	}
	if rec := serve(l, http.MethodGet, target, nil, http.Header{"If-None-Match": {h.Get("ETag")}}); rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", rec.Code)
	}
	if rec := serve(l, http.MethodPost, target, nil, nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", rec.Code)
	}
	if rec := serve(l, http.MethodGet, "/elsewhere/k.m3u8", nil, nil); rec.Code != http.StatusNotFound {
		t.Errorf("GET outside /objects/ = %d, want 404", rec.Code)
	}

	now = now.Add(time.Minute)
	if rec := serve(l, http.MethodGet, target, nil, nil); rec.Code != 200 {
		t.Errorf("GET at the expiry second = %d, want 200", rec.Code)
	}
	now = now.Add(time.Second)
	if rec := serve(l, http.MethodGet, target, nil, nil); rec.Code != http.StatusForbidden {
		t.Errorf("GET after expiry = %d, want 403", rec.Code)
	}

	put, err := l.PresignPut(t.Context(), "up", time.Minute, PresignPutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	putTarget := strings.TrimPrefix(put.URL, "http://objects.test")
	big := bytes.Repeat([]byte("x"), 1001)
	if rec := serve(l, http.MethodPut, putTarget, bytes.NewReader(big), nil); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT of 1001 bytes with a limit of 1000 = %d, want 413", rec.Code)
	}
	req := httptest.NewRequest(http.MethodPut, putTarget, io.MultiReader(bytes.NewReader(big))) // no length
	req.ContentLength = -1
	rec = httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT of 1001 bytes of unknown length = %d, want 413", rec.Code)
	}
	if _, err := l.Stat(t.Context(), "up"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after refused uploads: %v", err)
	}
	sum := sha256.Sum256([]byte("hello"))
	wrong := sha256.Sum256([]byte("other"))
	for _, c := range []struct {
		sum  []byte
		want int
	}{{wrong[:], http.StatusBadRequest}, {[]byte("short"), http.StatusBadRequest}, {sum[:], http.StatusOK}} {
		rec := serve(l, http.MethodPut, putTarget, strings.NewReader("hello"), http.Header{"X-Amz-Checksum-Sha256": {base64.StdEncoding.EncodeToString(c.sum)}})
		if rec.Code != c.want {
			t.Errorf("PUT with x-amz-checksum-sha256 %x = %d %q, want %d", c.sum, rec.Code, rec.Body, c.want)
		}
		if strings.Contains(rec.Body.String(), l.Dir()) {
			t.Errorf("response %q reveals the store's directory", rec.Body)
		}
	}
	if info, err := l.Stat(t.Context(), "up"); err != nil || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("Stat after upload = %+v, %v", info, err)
	}
}

func TestOpenLocalConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  LocalConfig
		want string
	}{
		{"NoDir", LocalConfig{}, "directory"},
		{"BadURL", LocalConfig{Dir: t.TempDir(), PublicBaseURL: "ftp://x"}, "public base URL"},
		{"URLWithQuery", LocalConfig{Dir: t.TempDir(), PublicBaseURL: "http://x/?a=b"}, "public base URL"},
		{"ShortSecret", LocalConfig{Dir: t.TempDir(), SigningSecret: []byte("short")}, "signing secret"},
		{"NegativeLimit", LocalConfig{Dir: t.TempDir(), MaxUploadBytes: -1}, "max upload"},
		{"DirIsFile", LocalConfig{Dir: "/dev/null"}, "local object store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := OpenLocal(c.cfg)
			if err == nil {
				l.Close()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("OpenLocal: %v, want an error about %q", err, c.want)
			}
		})
	}
	l, err := NewLocal(t.TempDir(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.PresignGet(t.Context(), "k", time.Minute); err == nil || !strings.Contains(err.Error(), "signing secret") {
		t.Errorf("PresignGet without a secret: %v", err)
	}
	if rec := serve(l, http.MethodGet, "/objects/k?exp=9999999999&sig=", nil, nil); rec.Code != http.StatusForbidden {
		t.Errorf("GET from a store without a secret = %d, want 403", rec.Code)
	}
}

// TestLocalSecretPersists: a store opened without a secret keeps one in its
// directory (0600), so a presigned URL survives a restart (issue 12,
// finding 9).
func TestLocalSecretPersists(t *testing.T) {
	dir := t.TempDir()
	open := func() *Local {
		l, err := OpenLocal(LocalConfig{Dir: dir, PublicBaseURL: "http://objects.test"})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	if _, err := l.Put(t.Context(), "k", strings.NewReader("kept"), 4, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	u, err := l.PresignGet(t.Context(), "k", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	fi, err := os.Stat(filepath.Join(dir, secretFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
	}

	l = open()
	defer l.Close()
	rec := serve(l, http.MethodGet, strings.TrimPrefix(u, "http://objects.test"), nil, nil)
	if rec.Code != http.StatusOK || rec.Body.String() != "kept" {
		t.Fatalf("GET of a URL presigned before the restart = %d %q", rec.Code, rec.Body.String())
	}
	// The secret is not an object: no key reaches it.
	if err := ValidateKey(secretFile); err == nil {
		t.Errorf("%s is a valid key", secretFile)
	}
	// A store given a secret uses it, not the kept one.
	other, err := OpenLocal(LocalConfig{Dir: dir, PublicBaseURL: "http://objects.test", SigningSecret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if rec := serve(other, http.MethodGet, strings.TrimPrefix(u, "http://objects.test"), nil, nil); rec.Code != http.StatusForbidden {
		t.Errorf("GET with another secret = %d, want 403", rec.Code)
	}
}
