package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/objstore/objstoretest"
)

var bucketSeq atomic.Int64

// newS3 returns an S3 store on a new bucket of gw, with the smallest part
// size and a small list page so that multipart and pagination are cheap to
// exercise.
func newS3(t *testing.T, gw *objstoretest.VersityGW, mod func(*objstore.S3Config)) *objstore.S3 {
	t.Helper()
	cfg := objstore.S3Config{
		Endpoint:     gw.Endpoint,
		Region:       gw.Region,
		Bucket:       fmt.Sprintf("objstore-test-%d", bucketSeq.Add(1)),
		AccessKey:    gw.AccessKey,
		SecretKey:    gw.SecretKey,
		PathStyle:    true,
		Prefix:       "install1",
		PartSize:     objstore.MinPartSize,
		ListPageSize: 7,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := objstore.NewS3(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.EnsureBucket(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	runConformance(t, suite{
		newStore: func(t *testing.T) objstore.Store { return newS3(t, gw, nil) },
		partSize: objstore.MinPartSize,
		sigParam: "X-Amz-Signature",
	})
}

// rawS3 is a plain SDK client on gw, to look at what objstore.S3 stored
// without going through it.
func rawS3(t *testing.T, gw *objstoretest.VersityGW) *s3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(ctxT(t),
		config.WithRegion(gw.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(gw.AccessKey, gw.SecretKey, "")))
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(gw.Endpoint)
		o.UsePathStyle = true
	})
}

// TestS3StoresChecksums checks what is on the server: x-amz-meta-sha256 on
// every object, an S3 SHA-256 checksum on single and multipart uploads,
// and keys under the configured prefix.
func TestS3StoresChecksums(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	st := newS3(t, gw, nil)
	raw := rawS3(t, gw)
	small := randBytes(20, 1000)
	big := randBytes(21, 2*objstore.MinPartSize+1)
	mustPut(t, st, "small", small, objstore.PutOptions{})
	mustPut(t, st, "big-with-sha", big, objstore.PutOptions{SHA256: hexSHA(big)})
	if _, err := st.Put(ctxT(t), "big-streamed", opaque{bytes.NewReader(big)}, -1, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key   string
		data  []byte
		parts int
	}{{"small", small, 0}, {"big-with-sha", big, 3}, {"big-streamed", big, 3}} {
		out, err := raw.HeadObject(ctxT(t), &s3.HeadObjectInput{
			Bucket: aws.String(st.Bucket()), Key: aws.String("install1/" + c.key), ChecksumMode: types.ChecksumModeEnabled,
		})
		if err != nil {
			t.Fatalf("HeadObject install1/%s: %v", c.key, err)
		}
		if got := out.Metadata["sha256"]; got != hexSHA(c.data) {
			t.Errorf("%s: x-amz-meta-sha256 = %q, want %q (metadata %v)", c.key, got, hexSHA(c.data), out.Metadata)
		}
		if c.parts == 0 {
			sum := sha256.Sum256(c.data)
			if got, want := aws.ToString(out.ChecksumSHA256), base64.StdEncoding.EncodeToString(sum[:]); got != want {
				t.Errorf("%s: x-amz-checksum-sha256 = %q, want %q", c.key, got, want)
			}
		} else if c.key == "big-with-sha" && !strings.HasSuffix(aws.ToString(out.ETag), fmt.Sprintf(`-%d"`, c.parts)) {
			t.Errorf("%s: ETag %s, want a multipart ETag of %d parts", c.key, aws.ToString(out.ETag), c.parts)
		}
	}
}

// TestS3Prefix checks that two prefixes in one bucket do not see each other.
func TestS3Prefix(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	a := newS3(t, gw, nil)
	b := newS3(t, gw, func(c *objstore.S3Config) { c.Bucket = a.Bucket(); c.Prefix = "install2/" })
	mustPut(t, a, "k/1", []byte("a"), objstore.PutOptions{})
	mustPut(t, b, "k/1", []byte("b"), objstore.PutOptions{})
	if got := listKeys(t, a, ""); !slices.Equal(got, []string{"k/1"}) {
		t.Errorf("List a = %q", got)
	}
	if err := b.DeletePrefix(ctxT(t), "k/"); err != nil {
		t.Fatal(err)
	}
	if got, _ := mustGet(t, a, "k/1"); string(got) != "a" {
		t.Errorf("a's object = %q after deleting b's prefix", got)
	}
	if _, err := os.Stat(filepath.Join(gw.Dir(), a.Bucket(), "install1", "k", "1")); err != nil {
		t.Errorf("object not under the prefix on the server: %v", err)
	}
}

func TestS3ChecksumsDisabled(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	st := newS3(t, gw, func(c *objstore.S3Config) { c.DisableChecksums = true })
	big := randBytes(22, objstore.MinPartSize+100)
	for _, data := range [][]byte{[]byte("small"), big} {
		if _, err := st.Put(ctxT(t), "k", opaque{bytes.NewReader(data)}, -1, objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if info := mustStat(t, st, "k"); info.SHA256 != hexSHA(data) {
			t.Errorf("Stat = %+v, want sha256 %s", info, hexSHA(data))
		}
	}
	if err := st.DeletePrefix(ctxT(t), "k/"); err != nil {
		t.Fatal(err)
	}
}

func TestS3Errors(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	st := newS3(t, gw, nil)
	_, err := st.Stat(ctxT(t), "orgs/o1/missing.mp4")
	if want := "s3://" + st.Bucket() + "/install1/orgs/o1/missing.mp4"; !errors.Is(err, objstore.ErrNotFound) || !strings.Contains(err.Error(), want) {
		t.Errorf("Stat missing: %v, want ErrNotFound naming %s", err, want)
	}

	nobucket, err := objstore.NewS3(ctxT(t), objstore.S3Config{
		Endpoint: gw.Endpoint, Bucket: "no-such-bucket", AccessKey: gw.AccessKey, SecretKey: gw.SecretKey, PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = nobucket.Put(ctxT(t), "k", strings.NewReader("x"), 1, objstore.PutOptions{})
	if err == nil || errors.Is(err, objstore.ErrNotFound) || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist`) {
		t.Errorf("Put to a missing bucket: %v", err)
	}
	if err := nobucket.List(ctxT(t), "", func(objstore.ObjectInfo) error { return nil }); err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("List of a missing bucket: %v", err)
	}

	badKeys, err := objstore.NewS3(ctxT(t), objstore.S3Config{
		Endpoint: gw.Endpoint, Bucket: st.Bucket(), AccessKey: gw.AccessKey, SecretKey: "wrong-secret", PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = badKeys.Stat(ctxT(t), "k")
	if err == nil || errors.Is(err, objstore.ErrNotFound) || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("Stat with a wrong secret: %v, want an error that is not ErrNotFound and hides the secret", err)
	}
	// EnsureBucket is idempotent.
	for range 2 {
		if err := st.EnsureBucket(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewS3Config(t *testing.T) {
	ok := objstore.S3Config{Bucket: "b", Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "s", Region: "us-east-1"}
	for _, c := range []struct {
		name string
		mod  func(*objstore.S3Config)
		want string // "" for success
	}{
		{"Defaults", func(*objstore.S3Config) {}, ""},
		{"NoBucket", func(c *objstore.S3Config) { c.Bucket = "" }, "bucket"},
		{"BadEndpoint", func(c *objstore.S3Config) { c.Endpoint = "127.0.0.1:7070" }, "endpoint"},
		{"HalfCredentials", func(c *objstore.S3Config) { c.SecretKey = "" }, "secret key"},
		{"SmallParts", func(c *objstore.S3Config) { c.PartSize = 1 << 20 }, "part size"},
		{"BadPrefix", func(c *objstore.S3Config) { c.Prefix = "../x" }, "prefix"},
		{"PageSize", func(c *objstore.S3Config) { c.ListPageSize = 1001 }, "page size"},
		{"Concurrency", func(c *objstore.S3Config) { c.Concurrency = -1 }, "concurrency"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.mod(&cfg)
			_, err := objstore.NewS3(ctxT(t), cfg)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("NewS3: %v, want an error about %q", err, c.want)
			}
		})
	}
}

// endless yields pseudo-random bytes forever and closes reached once it
// has handed out more than after bytes.
type endless struct {
	n, after int64
	reached  chan struct{}
	once     sync.Once
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e.n + int64(i))
	}
	e.n += int64(len(p))
	if e.n > e.after {
		e.once.Do(func() { close(e.reached) })
	}
	return len(p), nil
}

// TestS3ServerGoesAway checks that requests to a hung or dead server end
// with an error within a bounded time, and that the store works again once
// the server is back.
func TestS3ServerGoesAway(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	st := newS3(t, gw, func(c *objstore.S3Config) {
		c.StallTimeout = time.Second
		c.MaxAttempts = 2
	})
	mustPut(t, st, "before", []byte("x"), objstore.PutOptions{})
	const bound = 20 * time.Second

	t.Run("Paused", func(t *testing.T) {
		gw.Pause()
		resumed := false
		defer func() {
			if !resumed {
				gw.Resume()
			}
		}()
		for _, op := range []struct {
			name string
			do   func(ctx context.Context) error
		}{
			{"Stat", func(ctx context.Context) error { _, err := st.Stat(ctx, "before"); return err }},
			{"Put", func(ctx context.Context) error {
				_, err := st.Put(ctx, "during", bytes.NewReader(randBytes(23, 2*objstore.MinPartSize)), -1, objstore.PutOptions{})
				return err
			}},
		} {
			ctx, cancel := context.WithTimeout(t.Context(), 5*bound) // only a backstop
			start := time.Now()
			err := op.do(ctx)
			cancel()
			if took := time.Since(start); err == nil || took > bound {
				t.Errorf("%s on a paused server: %v after %s, want an error within %s", op.name, err, took.Round(time.Millisecond), bound)
			} else {
				t.Logf("%s on a paused server failed after %s: %v", op.name, took.Round(time.Millisecond), err)
			}
		}
		gw.Resume()
		resumed = true
		if got, _ := mustGet(t, st, "before"); string(got) != "x" {
			t.Errorf("after resume Get = %q", got)
		}
	})

	t.Run("KilledMidUpload", func(t *testing.T) {
		r := &endless{after: objstore.MinPartSize + 1, reached: make(chan struct{})}
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := st.Put(t.Context(), "killed", r, -1, objstore.PutOptions{})
			done <- err
		}()
		select {
		case <-r.reached:
		case err := <-done:
			t.Fatalf("Put of an endless stream returned early: %v", err)
		case <-time.After(bound):
			t.Fatal("Put did not read the stream")
		}
		gw.Stop()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("Put succeeded with the server killed")
			}
			t.Logf("Put failed %s after start: %v", time.Since(start).Round(time.Millisecond), err)
		case <-time.After(bound):
			t.Fatalf("Put still running %s after the server was killed", bound)
		}
		gw.Start()
		wantNotFound(t, st, "killed")
		mustPut(t, st, "after", randBytes(24, objstore.MinPartSize+1), objstore.PutOptions{})
		if got, _ := mustGet(t, st, "before"); string(got) != "x" {
			t.Errorf("after restart Get = %q", got)
		}
	})
}

// corruptingProxy forwards TCP to target and, in the client-to-server
// direction, flips the last byte of every occurrence of marker.
func corruptingProxy(t *testing.T, target string, marker []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			closeBoth := func() { c.Close(); s.Close() }
			wg.Go(func() {
				defer closeBoth()
				io.Copy(c, s)
			})
			wg.Go(func() {
				defer closeBoth()
				var tail []byte
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					chunk := buf[:n]
					window := append(tail, chunk...)
					for off := 0; ; {
						i := bytes.Index(window[off:], marker)
						if i < 0 {
							break
						}
						last := off + i + len(marker) - 1 // always inside chunk
						chunk[last-len(tail)] ^= 0x20
						off += i + 1
					}
					tail = slices.Clone(window[max(0, len(window)-len(marker)+1):])
					if _, werr := s.Write(chunk); werr != nil || err != nil {
						return
					}
				}
			})
		}
	})
	return "http://" + ln.Addr().String()
}

// TestS3RejectsCorruptionInTransit flips a byte between client and server:
// the upload must fail and store nothing, single or multipart.
func TestS3RejectsCorruptionInTransit(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	marker := []byte("<<corrupt this>>")
	proxy := corruptingProxy(t, strings.TrimPrefix(gw.Endpoint, "http://"), marker)
	st := newS3(t, gw, func(c *objstore.S3Config) { c.Endpoint = proxy })
	small := append(randBytes(25, 500), marker...)
	big := randBytes(26, 2*objstore.MinPartSize+10)
	copy(big[objstore.MinPartSize+1000:], marker) // in part 2
	for _, c := range []struct {
		name string
		data []byte
	}{{"Single", small}, {"Multipart", big}} {
		t.Run(c.name, func(t *testing.T) {
			_, err := st.Put(ctxT(t), "corrupt", opaque{bytes.NewReader(c.data)}, -1, objstore.PutOptions{})
			if !errors.Is(err, objstore.ErrChecksumMismatch) {
				t.Fatalf("Put through a corrupting link: %v, want ErrChecksumMismatch", err)
			}
			t.Logf("Put: %v", err)
			wantNotFound(t, st, "corrupt")
		})
	}
	mustPut(t, st, "clean", []byte("no marker here"), objstore.PutOptions{})
}

func TestOpen(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	ctx := ctxT(t)
	specs := map[string]string{
		"file": "file://" + t.TempDir(),
		"s3":   "s3://open-test/some/prefix?endpoint=" + gw.Endpoint + "&region=us-east-1&path_style=1&part_size=5MiB",
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			st, err := objstore.Open(ctx, spec, objstore.OpenOptions{
				AccessKey: gw.AccessKey, SecretKey: gw.SecretKey,
				PublicBaseURL: "http://127.0.0.1:1", SigningSecret: testSecret,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if s, ok := st.(*objstore.S3); ok {
				if err := s.EnsureBucket(ctx); err != nil {
					t.Fatal(err)
				}
			}
			mustPut(t, st, "k", []byte("v"), objstore.PutOptions{})
			if info := mustStat(t, st, "k"); info.SHA256 != hexSHA([]byte("v")) {
				t.Errorf("Stat = %+v", info)
			}
			if _, err := st.PresignGet(ctx, "k", time.Minute); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(gw.Dir(), "open-test", "some", "prefix", "k")); err != nil {
		t.Errorf("s3 spec's prefix not used: %v", err)
	}
}
