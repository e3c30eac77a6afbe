// Package objstore stores the platform's large immutable objects — session
// recordings, VOD sources and renditions, thumbnails and storyboards — in an
// S3-compatible bucket (S3) or in a local directory (Local), behind one small
// Store interface.
//
// Every object carries the hex SHA-256 of its content (S3: the
// x-amz-meta-sha256 metadata; Local: a metadata file beside the data), so a
// caller that must not lose data — the edge's durable upload queue — can
// confirm an upload by size and checksum with Stat before it deletes its own
// copy. Where the caller knows the checksum up front (PutOptions.SHA256), the
// write is verified end to end and a mismatch stores nothing.
//
// Keys are slash-separated relative paths checked by ValidateKey; the layout
// of an asset's objects is in keys.go (AssetKey and friends).
//
// What it deliberately does not do: versioning, server-side copy or rename,
// "directory" listings with delimiters, caching, or sharing one Local
// directory between processes. It is not a CDN: playback goes through
// presigned URLs or the HLS origin.
package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"
)

// Store is where objects live. Implementations are safe for concurrent use.
//
// No reader ever sees a partial object. A Put that fails leaves the
// previous object (or none) under the key — or, when it failed after the
// content was committed (a lost response, a failed metadata step), the
// complete new object; Stat tells which, and retrying is always safe.
type Store interface {
	// Put streams r to key. size is the exact length of r, or -1 when it is
	// not known. Large objects are uploaded in parts; memory use is bounded
	// by the part size, not by the object. A reader that yields a different
	// length than size fails with ErrSizeMismatch, content that does not
	// hash to opts.SHA256 fails with ErrChecksumMismatch, and in both cases
	// nothing is stored. The result's ModTime may be zero (S3 does not report
	// it on upload); Stat has it.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error)
	// PutFile uploads the file at path, as Put with its size.
	PutFile(ctx context.Context, key, path string, opts PutOptions) (ObjectInfo, error)
	// Get opens the object. When its SHA-256 is known the reader verifies
	// it: the final Read returns ErrChecksumMismatch instead of io.EOF if the
	// bytes do not match.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	// GetRange opens n bytes of the object starting at off; n = -1 reads to
	// the end, and a range past the end is cut short. off at or beyond the
	// end fails with ErrInvalidRange.
	GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
	// Stat describes the object, or fails with ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// DeletePrefix removes every object whose key starts with prefix, which
	// must end in "/" so that deleting asset "a1/" never touches "a10/".
	DeletePrefix(ctx context.Context, prefix string) error
	// List calls fn for every object whose key starts with prefix, in
	// lexical (byte) order, fetching pages under the hood. An error from fn
	// stops the listing and is returned as is. On S3 the ObjectInfo carries
	// Key, Size, ETag and ModTime only; Stat has the rest.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// PresignGet returns a URL that reads the object without credentials
	// until ttl has passed.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
	// PresignPut returns a URL that accepts an HTTP PUT of the object until
	// ttl has passed, under the conditions of opts, which the signature
	// binds: the request must carry the returned headers, and a request
	// that breaks a condition is refused (403 or 412) and stores nothing.
	PresignPut(ctx context.Context, key string, ttl time.Duration, opts PresignPutOptions) (PresignedPut, error)
	// Close releases the store's connections or directory handle.
	Close() error
}

// PresignPutOptions are the conditions a presigned PUT is bound to.
type PresignPutOptions struct {
	// ContentType, when set, is the exact Content-Type the PUT must carry.
	ContentType string
	// Size, when above zero, is the exact Content-Length the PUT must
	// carry; a body of another length is refused. It is how an upload is
	// bound to a size limit on S3, whose presigned PUTs have no "at most".
	Size int64
	// Once makes the URL write-once: a PUT is refused (412) when an
	// object exists under the key, so a second PUT of the same URL, or of
	// any URL onto an object that is already there, changes nothing
	// (S3: a signed If-None-Match: *).
	Once bool
}

// PresignedPut is a presigned upload: the URL and the headers the PUT must
// send with it (besides the Content-Length of its body).
type PresignedPut struct {
	URL    string
	Header http.Header
}

var (
	_ Store = (*Local)(nil)
	_ Store = (*S3)(nil)
)

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key  string
	Size int64
	// ETag is the backend's opaque entity tag, without quotes.
	ETag string
	// SHA256 is the lower-case hex SHA-256 of the content, or "" when the
	// backend does not know it (an object written by another tool or through
	// an S3 presigned PUT).
	SHA256      string
	ContentType string
	ModTime     time.Time
}

// PutOptions are the optional attributes of a write.
type PutOptions struct {
	// ContentType defaults to the type of the key's extension among the
	// media the platform stores (see ContentTypeFor), else
	// application/octet-stream — S3 would store a default anyway, and this
	// way both stores agree.
	ContentType  string
	CacheControl string
	// SHA256 is the hex SHA-256 of the content if the caller knows it. The
	// write fails with ErrChecksumMismatch, storing nothing, if the bytes
	// read do not match; on S3 the server checks it too.
	SHA256 string
}

var (
	// ErrNotFound means there is no object under the key.
	ErrNotFound = errors.New("object not found")
	// ErrInvalidKey means a key or prefix broke the rules of ValidateKey.
	ErrInvalidKey = errors.New("invalid object key")
	// ErrChecksumMismatch means content did not hash to the expected SHA-256.
	ErrChecksumMismatch = errors.New("sha256 mismatch")
	// ErrSizeMismatch means a reader yielded a different length than declared.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrExists means a write-once write found an object under its key.
	ErrExists = errors.New("object exists")
	// ErrInvalidRange means a range starts at or beyond the end of the object.
	ErrInvalidRange = errors.New("range not satisfiable")
)

// MaxPresignTTL is the longest validity of a presigned URL (S3's limit,
// applied to Local too so that both behave the same).
const MaxPresignTTL = 7 * 24 * time.Hour

func checkTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > MaxPresignTTL {
		return fmt.Errorf("presign ttl %s: must be between 1s and %s", ttl, MaxPresignTTL)
	}
	return nil
}

// normalizeSHA256 checks that s is empty or 64 hex digits and returns it in
// lower case.
func normalizeSHA256(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) != sha256.Size*2 {
		return "", fmt.Errorf("PutOptions.SHA256 %q: want %d hex digits", s, sha256.Size*2)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("PutOptions.SHA256 %q: not hex", s)
	}
	return strings.ToLower(s), nil
}

// ContentTypeFor returns the content type a key gets when PutOptions does
// not say: by extension for what the platform stores, from a fixed table so
// that it does not depend on the host's MIME database.
func ContentTypeFor(key string) string {
	if t, ok := contentTypes[strings.ToLower(path.Ext(key))]; ok {
		return t
	}
	return "application/octet-stream"
}

var contentTypes = map[string]string{
	".mp4":  "video/mp4",
	".m4s":  "video/iso.segment",
	".m4a":  "audio/mp4",
	".ts":   "video/mp2t",
	".m3u8": "application/vnd.apple.mpegurl",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".png":  "image/png",
	".webp": "image/webp",
	".vtt":  "text/vtt",
	".json": "application/json",
}

// withDefaults fills the content type in.
func (o PutOptions) withDefaults(key string) PutOptions {
	if o.ContentType == "" {
		o.ContentType = ContentTypeFor(key)
	}
	return o
}

func checkSize(size int64) error {
	if size < -1 {
		return fmt.Errorf("size %d: want the length or -1 for unknown", size)
	}
	return nil
}

func checkRange(off, n int64) error {
	if off < 0 || n == 0 || n < -1 {
		return fmt.Errorf("range offset %d length %d: want offset >= 0 and length > 0 or -1", off, n)
	}
	return nil
}

// ctxReader stops a copy between reads once ctx is done. It cannot
// interrupt a Read that is already blocked.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// verifyReader hashes what it passes on and, at the end, turns io.EOF into
// an error if the length or checksum is not what the metadata promised.
type verifyReader struct {
	rc         io.ReadCloser
	h          hash.Hash
	wantSHA256 string
	wantSize   int64
	n          int64
	where      string
}

func newVerifyReader(rc io.ReadCloser, size int64, sum, where string) io.ReadCloser {
	if sum == "" || size < 0 {
		return rc
	}
	return &verifyReader{rc: rc, h: sha256.New(), wantSHA256: sum, wantSize: size, where: where}
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if v.n != v.wantSize {
			return n, fmt.Errorf("get %s: read %d bytes, stored size is %d: %w", v.where, v.n, v.wantSize, ErrSizeMismatch)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.wantSHA256 {
			return n, fmt.Errorf("get %s: content hashes to %s, stored sha256 is %s: %w", v.where, got, v.wantSHA256, ErrChecksumMismatch)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.rc.Close() }

// hashFile returns the hex SHA-256 of f's content from its current offset.
func hashFile(ctx context.Context, f *os.File) (string, error) {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
