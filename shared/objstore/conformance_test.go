package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/livestreams/livestreams/shared/objstore"
)

// suite describes one Store implementation to the conformance tests.
type suite struct {
	// newStore returns an empty store that lives until the test ends.
	newStore func(t *testing.T) objstore.Store
	// partSize is the store's multipart part size (0: it has none).
	partSize int64
	// sigParam is the query parameter of a presigned URL holding the
	// signature.
	sigParam string
	// computesPresignedSHA256 is whether an object uploaded through a
	// presigned PUT gets a known SHA256.
	computesPresignedSHA256 bool
}

// runConformance runs every behaviour the Store interface promises against
// one implementation, each case on a fresh store.
func runConformance(t *testing.T, s suite) {
	cases := []struct {
		name string
		run  func(t *testing.T, st objstore.Store, s suite)
	}{
		{"RoundTripWithSHA256", testRoundTrip},
		{"ComputesSHA256", testComputesSHA256},
		{"EmptyObject", testEmptyObject},
		{"ChecksumMismatchStoresNothing", testChecksumMismatch},
		{"SizeMismatchStoresNothing", testSizeMismatch},
		{"StreamingUnknownSize", testStreamingUnknownSize},
		{"Multipart", testMultipart},
		{"PutFile", testPutFile},
		{"Overwrite", testOverwrite},
		{"Range", testRange},
		{"MissingIsErrNotFound", testMissing},
		{"DeleteIdempotent", testDeleteIdempotent},
		{"DeletePrefix", testDeletePrefix},
		{"ListOrderAndPagination", testList},
		{"ListCallbackError", testListCallbackError},
		{"InvalidKeysRejected", testInvalidKeys},
		{"CanceledPut", testCanceledPut},
		{"PresignedGet", testPresignedGet},
		{"PresignedPut", testPresignedPut},
		{"PresignedPutOnce", testPresignedPutOnce},
		{"PresignedPutSize", testPresignedPutSize},
		{"PresignRejected", testPresignRejected},
		{"PresignExpires", testPresignExpires},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, s.newStore(t), s)
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// opaque hides everything but Read, as a network stream would.
type opaque struct{ r io.Reader }

func (o opaque) Read(p []byte) (int, error) { return o.r.Read(p) }

func mustPut(t *testing.T, st objstore.Store, key string, data []byte, opts objstore.PutOptions) objstore.ObjectInfo {
	t.Helper()
	info, err := st.Put(ctxT(t), key, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
	return info
}

func mustGet(t *testing.T, st objstore.Store, key string) ([]byte, objstore.ObjectInfo) {
	t.Helper()
	rc, info, err := st.Get(ctxT(t), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b, info
}

func mustStat(t *testing.T, st objstore.Store, key string) objstore.ObjectInfo {
	t.Helper()
	info, err := st.Stat(ctxT(t), key)
	if err != nil {
		t.Fatalf("Stat %s: %v", key, err)
	}
	return info
}

func wantNotFound(t *testing.T, st objstore.Store, key string) {
	t.Helper()
	if info, err := st.Stat(ctxT(t), key); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Stat %s = %+v, %v; want ErrNotFound", key, info, err)
	}
}

func testRoundTrip(t *testing.T, st objstore.Store, s suite) {
	data := randBytes(1, 300<<10)
	key := "orgs/o1/assets/a1/source.mp4"
	opts := objstore.PutOptions{ContentType: "video/mp4", CacheControl: "max-age=60", SHA256: strings.ToUpper(hexSHA(data))}
	before := time.Now().Add(-time.Minute)
	info := mustPut(t, st, key, data, opts)
	if info.Key != key || info.Size != int64(len(data)) || info.SHA256 != hexSHA(data) || info.ETag == "" {
		t.Errorf("Put = %+v", info)
	}
	got, ginfo := mustGet(t, st, key)
	if !bytes.Equal(got, data) {
		t.Fatalf("Get returned %d bytes, not what was put", len(got))
	}
	if ginfo.Size != int64(len(data)) || ginfo.SHA256 != hexSHA(data) || ginfo.ContentType != "video/mp4" {
		t.Errorf("Get info = %+v", ginfo)
	}
	sinfo := mustStat(t, st, key)
	if sinfo.Key != key || sinfo.Size != int64(len(data)) || sinfo.SHA256 != hexSHA(data) || sinfo.ContentType != "video/mp4" || sinfo.ETag != info.ETag {
		t.Errorf("Stat = %+v, Put said %+v", sinfo, info)
	}
	if sinfo.ModTime.Before(before) || sinfo.ModTime.After(time.Now().Add(time.Minute)) {
		t.Errorf("Stat ModTime = %v, want about now", sinfo.ModTime)
	}
}

func testComputesSHA256(t *testing.T, st objstore.Store, s suite) {
	data := []byte("a thumbnail, say")
	info := mustPut(t, st, "t/thumbnail.jpg", data, objstore.PutOptions{})
	if info.SHA256 != hexSHA(data) {
		t.Errorf("Put SHA256 = %q, want %q", info.SHA256, hexSHA(data))
	}
	if got := mustStat(t, st, "t/thumbnail.jpg"); got.SHA256 != hexSHA(data) || got.ContentType != "image/jpeg" {
		t.Errorf("Stat = %+v, want SHA256 %q and the content type of .jpg", got, hexSHA(data))
	}
	for key, want := range map[string]string{"x/index.m3u8": "application/vnd.apple.mpegurl", "x/seg.M4S": "video/iso.segment", "x/blob": "application/octet-stream"} {
		if info := mustPut(t, st, key, data, objstore.PutOptions{}); info.ContentType != want {
			t.Errorf("Put %s content type %q, want %q", key, info.ContentType, want)
		}
		if got := mustStat(t, st, key).ContentType; got != want {
			t.Errorf("Stat %s content type %q, want %q", key, got, want)
		}
	}
}

func testEmptyObject(t *testing.T, st objstore.Store, s suite) {
	mustPut(t, st, "empty", nil, objstore.PutOptions{})
	got, info := mustGet(t, st, "empty")
	if len(got) != 0 || info.Size != 0 || info.SHA256 != hexSHA(nil) {
		t.Errorf("Get empty = %d bytes, %+v", len(got), info)
	}
	if _, err := st.Put(ctxT(t), "empty-unknown", opaque{strings.NewReader("")}, -1, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if info := mustStat(t, st, "empty-unknown"); info.Size != 0 {
		t.Errorf("Stat = %+v", info)
	}
}

func testChecksumMismatch(t *testing.T, st objstore.Store, s suite) {
	good := []byte("version one")
	mustPut(t, st, "k", good, objstore.PutOptions{})
	sizes := []int{100}
	if s.partSize > 0 {
		sizes = append(sizes, int(2*s.partSize+7)) // multipart: aborted, not completed
	}
	for _, n := range sizes {
		bad := randBytes(2, n)
		for _, size := range []int64{int64(n), -1} {
			_, err := st.Put(ctxT(t), "k", opaque{bytes.NewReader(bad)}, size, objstore.PutOptions{SHA256: hexSHA(good)})
			if !errors.Is(err, objstore.ErrChecksumMismatch) {
				t.Errorf("Put %d bytes (size %d) with the wrong sha256: %v, want ErrChecksumMismatch", n, size, err)
			}
			_, err = st.Put(ctxT(t), "new", opaque{bytes.NewReader(bad)}, size, objstore.PutOptions{SHA256: hexSHA(good)})
			if !errors.Is(err, objstore.ErrChecksumMismatch) {
				t.Errorf("Put new: %v, want ErrChecksumMismatch", err)
			}
			wantNotFound(t, st, "new")
		}
	}
	if got, _ := mustGet(t, st, "k"); !bytes.Equal(got, good) {
		t.Errorf("after failed overwrites Get = %q, want %q", got, good)
	}
	if _, err := st.Put(ctxT(t), "k", strings.NewReader("x"), 1, objstore.PutOptions{SHA256: "nothex"}); err == nil {
		t.Error("Put with a malformed sha256 succeeded")
	}
}

func testSizeMismatch(t *testing.T, st objstore.Store, s suite) {
	data := randBytes(3, 1000)
	for _, size := range []int64{999, 1001, 5000} {
		_, err := st.Put(ctxT(t), "short-or-long", opaque{bytes.NewReader(data)}, size, objstore.PutOptions{})
		if !errors.Is(err, objstore.ErrSizeMismatch) {
			t.Errorf("Put %d bytes declared as %d: %v, want ErrSizeMismatch", len(data), size, err)
		}
	}
	if s.partSize > 0 {
		big := randBytes(4, int(2*s.partSize))
		for _, size := range []int64{s.partSize + 1, 3 * s.partSize} {
			_, err := st.Put(ctxT(t), "short-or-long", opaque{bytes.NewReader(big)}, size, objstore.PutOptions{})
			if !errors.Is(err, objstore.ErrSizeMismatch) {
				t.Errorf("Put %d bytes declared as %d: %v, want ErrSizeMismatch", len(big), size, err)
			}
		}
	}
	wantNotFound(t, st, "short-or-long")
	if _, err := st.Put(ctxT(t), "k", bytes.NewReader(data), -2, objstore.PutOptions{}); err == nil {
		t.Error("Put with size -2 succeeded")
	}
}

func testStreamingUnknownSize(t *testing.T, st objstore.Store, s suite) {
	data := randBytes(5, 1<<20+3)
	// One byte at a time at first, then half-buffers: a worst-case stream.
	r := io.MultiReader(iotest.OneByteReader(bytes.NewReader(data[:100])), iotest.HalfReader(bytes.NewReader(data[100:])))
	info, err := st.Put(ctxT(t), "live/rec.mp4", r, -1, objstore.PutOptions{ContentType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || info.SHA256 != hexSHA(data) {
		t.Errorf("Put = %+v", info)
	}
	if got := mustStat(t, st, "live/rec.mp4"); got.Size != int64(len(data)) || got.SHA256 != hexSHA(data) {
		t.Errorf("Stat = %+v", got)
	}
	if got, _ := mustGet(t, st, "live/rec.mp4"); !bytes.Equal(got, data) {
		t.Error("Get returned other bytes")
	}
}

func testMultipart(t *testing.T, st objstore.Store, s suite) {
	part := s.partSize
	if part == 0 {
		part = 5 << 20
	}
	data := randBytes(6, int(2*part+12345))
	for _, c := range []struct {
		name string
		size int64
		opts objstore.PutOptions
	}{
		{"KnownSizeAndSHA256", int64(len(data)), objstore.PutOptions{SHA256: hexSHA(data), ContentType: "video/mp4"}},
		{"UnknownSizeNoSHA256", -1, objstore.PutOptions{ContentType: "video/mp4"}},
		{"ExactlyOnePart", part, objstore.PutOptions{}},
		{"ExactlyTwoPartsStreamed", -1, objstore.PutOptions{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := data
			switch c.name {
			case "ExactlyOnePart":
				body = data[:part]
			case "ExactlyTwoPartsStreamed":
				body = data[:2*part]
			}
			key := "mp/" + c.name
			info, err := st.Put(ctxT(t), key, opaque{bytes.NewReader(body)}, c.size, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != int64(len(body)) || info.SHA256 != hexSHA(body) {
				t.Errorf("Put = %+v", info)
			}
			wantType := c.opts.ContentType
			if wantType == "" {
				wantType = "application/octet-stream"
			}
			sinfo := mustStat(t, st, key)
			if sinfo.Size != int64(len(body)) || sinfo.SHA256 != hexSHA(body) || sinfo.ContentType != wantType || sinfo.ETag != info.ETag {
				t.Errorf("Stat = %+v, Put said %+v", sinfo, info)
			}
			if got, _ := mustGet(t, st, key); !bytes.Equal(got, body) {
				t.Error("Get returned other bytes")
			}
		})
	}
}

func testPutFile(t *testing.T, st objstore.Store, s suite) {
	n := 200 << 10
	if s.partSize > 0 {
		n = int(s.partSize*2 + 1)
	}
	data := randBytes(7, n)
	path := filepath.Join(t.TempDir(), "rec.mp4")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := st.PutFile(ctxT(t), "f/rec.mp4", path, objstore.PutOptions{ContentType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if sinfo := mustStat(t, st, "f/rec.mp4"); sinfo.Size != int64(n) || sinfo.SHA256 != hexSHA(data) || sinfo.ETag != info.ETag {
		t.Errorf("Stat = %+v, Put said %+v", sinfo, info)
	}
	if _, err := st.PutFile(ctxT(t), "f/missing", filepath.Join(t.TempDir(), "nope"), objstore.PutOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PutFile of a missing file: %v, want os.ErrNotExist", err)
	}
	if _, err := st.PutFile(ctxT(t), "f/dir", t.TempDir(), objstore.PutOptions{}); err == nil {
		t.Error("PutFile of a directory succeeded")
	}
}

func testOverwrite(t *testing.T, st objstore.Store, s suite) {
	mustPut(t, st, "o", []byte("one"), objstore.PutOptions{ContentType: "text/plain"})
	mustPut(t, st, "o", []byte("second"), objstore.PutOptions{})
	got, info := mustGet(t, st, "o")
	if string(got) != "second" || info.SHA256 != hexSHA([]byte("second")) || info.Size != 6 {
		t.Errorf("Get = %q, %+v", got, info)
	}
}

func testRange(t *testing.T, st objstore.Store, s suite) {
	data := randBytes(8, 10000)
	mustPut(t, st, "r", data, objstore.PutOptions{})
	for _, c := range []struct {
		off, n int64
		want   []byte
	}{
		{0, 1, data[:1]},
		{100, 900, data[100:1000]},
		{9000, -1, data[9000:]},
		{9999, 1, data[9999:]},
		{9000, 5000, data[9000:]}, // cut short at the end
		{0, -1, data},
	} {
		rc, err := st.GetRange(ctxT(t), "r", c.off, c.n)
		if err != nil {
			t.Errorf("GetRange(%d, %d): %v", c.off, c.n, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("GetRange(%d, %d) = %d bytes, %v; want %d bytes", c.off, c.n, len(got), err, len(c.want))
		}
	}
	for _, off := range []int64{10000, 20000} {
		if rc, err := st.GetRange(ctxT(t), "r", off, 10); !errors.Is(err, objstore.ErrInvalidRange) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("GetRange(%d, 10) of 10000 bytes: %v, want ErrInvalidRange", off, err)
		}
	}
	for _, c := range [][2]int64{{-1, 10}, {0, 0}, {0, -2}} {
		if rc, err := st.GetRange(ctxT(t), "r", c[0], c[1]); err == nil {
			rc.Close()
			t.Errorf("GetRange(%d, %d) succeeded", c[0], c[1])
		}
	}
}

func testMissing(t *testing.T, st objstore.Store, s suite) {
	mustPut(t, st, "dir/present", []byte("x"), objstore.PutOptions{})
	for _, key := range []string{"absent", "dir/absent", "dir/present/below", "dir"} {
		wantNotFound(t, st, key)
		if _, _, err := st.Get(ctxT(t), key); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Get %s: %v, want ErrNotFound", key, err)
		}
		if _, err := st.GetRange(ctxT(t), key, 0, 1); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("GetRange %s: %v, want ErrNotFound", key, err)
		}
	}
	_, err := st.Stat(ctxT(t), "absent")
	if !strings.Contains(err.Error(), "absent") {
		t.Errorf("error %q does not name the key", err)
	}
}

func testDeleteIdempotent(t *testing.T, st objstore.Store, s suite) {
	mustPut(t, st, "d/x", []byte("x"), objstore.PutOptions{})
	mustPut(t, st, "d/y", []byte("y"), objstore.PutOptions{})
	for range 2 {
		if err := st.Delete(ctxT(t), "d/x"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		wantNotFound(t, st, "d/x")
	}
	if err := st.Delete(ctxT(t), "never/was"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if err := st.Delete(ctxT(t), "d"); err != nil {
		t.Errorf("Delete of a prefix's name: %v", err)
	}
	mustStat(t, st, "d/y")
}

func testDeletePrefix(t *testing.T, st objstore.Store, s suite) {
	doomed := []string{
		"orgs/o1/assets/a1/source.mp4", "orgs/o1/assets/a1/thumbnail.jpg",
		"orgs/o1/assets/a1/hls/720p/index.m3u8", "orgs/o1/assets/a1/hls/720p/seg_1.m4s",
	}
	kept := []string{"orgs/o1/assets/a10/source.mp4", "orgs/o1/assets/a1.txt", "orgs/o2/assets/a1/source.mp4"}
	for _, k := range append(slices.Clone(doomed), kept...) {
		mustPut(t, st, k, []byte(k), objstore.PutOptions{})
	}
	for _, bad := range []string{"", "orgs/o1/assets/a1", "../", "/orgs/"} {
		if err := st.DeletePrefix(ctxT(t), bad); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("DeletePrefix(%q): %v, want ErrInvalidKey", bad, err)
		}
	}
	for range 2 {
		if err := st.DeletePrefix(ctxT(t), "orgs/o1/assets/a1/"); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range doomed {
		wantNotFound(t, st, k)
	}
	for _, k := range kept {
		mustStat(t, st, k)
	}
	// The prefix is usable again at once.
	mustPut(t, st, doomed[0], []byte("again"), objstore.PutOptions{})
	if got := listKeys(t, st, "orgs/o1/assets/a1/"); !slices.Equal(got, doomed[:1]) {
		t.Errorf("List after DeletePrefix and Put = %q", got)
	}
}

func listKeys(t *testing.T, st objstore.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := st.List(ctxT(t), prefix, func(info objstore.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List %q: %v", prefix, err)
	}
	return keys
}

func testList(t *testing.T, st objstore.Store, s suite) {
	// Names that sort differently per key than per path component: "a.txt"
	// (0x2E) comes before "a/…" (0x2F), "a-b" (0x2D) before both.
	keys := []string{"a.txt", "a/b", "a/c/d", "a-b", "a0", "b", "é", "z/z/z/z"}
	for i := range 47 {
		keys = append(keys, fmt.Sprintf("seg/%03d.m4s", i))
	}
	sizes := map[string]int64{}
	for i, k := range keys {
		data := randBytes(uint64(i), i%7)
		mustPut(t, st, k, data, objstore.PutOptions{})
		sizes[k] = int64(len(data))
	}
	want := slices.Sorted(slices.Values(keys))
	var got []string
	err := st.List(ctxT(t), "", func(info objstore.ObjectInfo) error {
		got = append(got, info.Key)
		if info.Size != sizes[info.Key] || info.ETag == "" || info.ModTime.IsZero() {
			t.Errorf("List entry %+v, want size %d, an ETag and a ModTime", info, sizes[info.Key])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("List(\"\") =\n%q\nwant\n%q", got, want)
	}
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"a", []string{"a-b", "a.txt", "a/b", "a/c/d", "a0"}},
		{"a/", []string{"a/b", "a/c/d"}},
		{"a/c", []string{"a/c/d"}},
		{"seg/04", []string{"seg/040.m4s", "seg/041.m4s", "seg/042.m4s", "seg/043.m4s", "seg/044.m4s", "seg/045.m4s", "seg/046.m4s"}},
		{"z/z/z/z", []string{"z/z/z/z"}},
		{"nothing/", nil},
		{"seg/999", nil},
	} {
		if got := listKeys(t, st, c.prefix); !slices.Equal(got, c.want) {
			t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
	if err := st.List(ctxT(t), "../", func(objstore.ObjectInfo) error { return nil }); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Errorf("List(\"../\"): %v, want ErrInvalidKey", err)
	}
}

func testListCallbackError(t *testing.T, st objstore.Store, s suite) {
	for i := range 30 {
		mustPut(t, st, fmt.Sprintf("k%02d", i), []byte("x"), objstore.PutOptions{})
	}
	stop := errors.New("enough")
	n := 0
	err := st.List(ctxT(t), "", func(objstore.ObjectInfo) error {
		if n++; n == 15 {
			return stop
		}
		return nil
	})
	if err != stop || n != 15 {
		t.Errorf("List stopped after %d with %v, want 15 and the callback's error as is", n, err)
	}
	// Deleting from inside the callback is allowed.
	err = st.List(ctxT(t), "", func(info objstore.ObjectInfo) error { return st.Delete(ctxT(t), info.Key) })
	if err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, st, ""); len(got) != 0 {
		t.Errorf("after deleting every listed key, List = %q", got)
	}
}

var invalidKeys = []string{
	"", "/abs", "../up", "a/../../up", "a/..", "..", ".", "./a", "a/./b", "a//b", "a/", ".meta/x",
	"a/.tmp/b", "nul\x00byte", "ctl\x01", "back\\slash", "\xff\xfe", strings.Repeat("k", 1025),
	strings.Repeat("s", 256) + "/x",
}

func testInvalidKeys(t *testing.T, st objstore.Store, s suite) {
	ctx := ctxT(t)
	for _, key := range invalidKeys {
		errs := map[string]error{}
		_, errs["Put"] = st.Put(ctx, key, strings.NewReader("x"), 1, objstore.PutOptions{})
		_, errs["PutFile"] = st.PutFile(ctx, key, "/dev/null", objstore.PutOptions{})
		_, _, errs["Get"] = st.Get(ctx, key)
		_, errs["GetRange"] = st.GetRange(ctx, key, 0, 1)
		_, errs["Stat"] = st.Stat(ctx, key)
		errs["Delete"] = st.Delete(ctx, key)
		_, errs["PresignGet"] = st.PresignGet(ctx, key, time.Minute)
		_, errs["PresignPut"] = st.PresignPut(ctx, key, time.Minute, objstore.PresignPutOptions{})
		for op, err := range errs {
			if !errors.Is(err, objstore.ErrInvalidKey) {
				t.Errorf("%s(%q): %v, want ErrInvalidKey", op, key, err)
			}
		}
	}
	if got := listKeys(t, st, ""); len(got) != 0 {
		t.Errorf("store holds %q after invalid puts", got)
	}
}

func testCanceledPut(t *testing.T, st objstore.Store, s suite) {
	ctx, cancel := context.WithCancel(ctxT(t))
	pr, pw := io.Pipe()
	go func() {
		pw.Write(randBytes(9, 64<<10))
		cancel()
		pw.Write(randBytes(10, 64<<10)) // unblocks a Read in progress
		pw.Close()
	}()
	if _, err := st.Put(ctx, "canceled", pr, -1, objstore.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: %v, want context.Canceled", err)
	}
	pr.Close()
	wantNotFound(t, st, "canceled")
}
