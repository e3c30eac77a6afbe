package objstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Presigned URLs of a Local store look like
//
//	{PublicBaseURL}/objects/{key}?exp={unix seconds}[&ct={content type}][&len={bytes}][&once=1]&sig={mac}
//
// where mac is the unpadded base64url HMAC-SHA256, under the signing
// secret, of "objstore-v2\n{GET|PUT}\n{key}\n{exp}\n{ct}\n{len}\n{once}".
// The method is signed so that a download link cannot be used to upload;
// len (the exact Content-Length) and once (refuse a PUT onto an existing
// object) so that an upload URL cannot be stretched to more bytes or
// replayed.
const (
	objectsPath = "/objects/"
	sigVersion  = "objstore-v2"
)

// PresignGet implements Store.
func (l *Local) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return l.presign(http.MethodGet, key, ttl, PresignPutOptions{})
}

// PresignPut implements Store. The conditions travel in the URL: the PUT
// needs no header besides the signed content type.
func (l *Local) PresignPut(ctx context.Context, key string, ttl time.Duration, opts PresignPutOptions) (PresignedPut, error) {
	if opts.Size < 0 || opts.Size > l.maxUpload {
		return PresignedPut{}, l.fail("presign put", key, fmt.Errorf("size %d: want 0 to %d bytes", opts.Size, l.maxUpload))
	}
	u, err := l.presign(http.MethodPut, key, ttl, opts)
	if err != nil {
		return PresignedPut{}, err
	}
	h := http.Header{}
	if opts.ContentType != "" {
		h.Set("Content-Type", opts.ContentType)
	}
	return PresignedPut{URL: u, Header: h}, nil
}

func (l *Local) presign(method, key string, ttl time.Duration, opts PresignPutOptions) (string, error) {
	op := "presign " + strings.ToLower(method)
	if err := ValidateKey(key); err != nil {
		return "", l.fail(op, key, err)
	}
	if err := checkTTL(ttl); err != nil {
		return "", l.fail(op, key, err)
	}
	if l.baseURL == "" || len(l.secret) == 0 {
		return "", l.fail(op, key, errors.New("presigning needs a public base URL and a signing secret"))
	}
	// Round the expiry up so that a URL is never valid for less than ttl.
	exp := strconv.FormatInt(l.now().Add(ttl+time.Second-1).Unix(), 10)
	q := url.Values{"exp": {exp}}
	c := signedConds{contentType: opts.ContentType}
	if opts.ContentType != "" {
		q.Set("ct", opts.ContentType)
	}
	if opts.Size > 0 {
		c.size = strconv.FormatInt(opts.Size, 10)
		q.Set("len", c.size)
	}
	if opts.Once {
		c.once = "1"
		q.Set("once", c.once)
	}
	q.Set("sig", l.sign(method, key, exp, c))
	return l.baseURL + objectsPath + escapeKey(key) + "?" + q.Encode(), nil
}

// signedConds are the conditions of a presigned URL, as its query has them.
type signedConds struct {
	contentType, size, once string
}

func (l *Local) sign(method, key, exp string, c signedConds) string {
	m := hmac.New(sha256.New, l.secret)
	fmt.Fprintf(m, "%s\n%s\n%s\n%s\n%s\n%s\n%s", sigVersion, method, key, exp, c.contentType, c.size, c.once)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// escapeKey escapes each segment of key for a URL path.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// verify reports whether q carries a valid, unexpired signature of method
// on key.
func (l *Local) verify(method, key string, q url.Values) bool {
	if len(l.secret) == 0 {
		return false
	}
	exp := q.Get("exp")
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || l.now().Unix() > e {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if err != nil {
		return false
	}
	want, _ := base64.RawURLEncoding.DecodeString(l.sign(method, key, exp, signedConds{q.Get("ct"), q.Get("len"), q.Get("once")}))
	return hmac.Equal(got, want)
}

// Handler serves the store's presigned URLs: GET and HEAD (with Range and
// conditional requests) and PUT, each only with a valid, unexpired
// signature for that method and key; anything else is 403. Mount it at
// "/objects/" of the server that PublicBaseURL points to:
//
//	mux.Handle("/objects/", local.Handler())
func (l *Local) Handler() http.Handler {
	return http.HandlerFunc(l.serveHTTP)
}

func (l *Local) serveHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, objectsPath)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if ValidateKey(key) != nil {
		http.Error(w, "invalid object key", http.StatusBadRequest)
		return
	}
	method := r.Method
	switch method {
	case http.MethodGet, http.MethodHead:
		method = http.MethodGet
	case http.MethodPut:
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	if !l.verify(method, key, q) {
		http.Error(w, "signature invalid or expired", http.StatusForbidden)
		return
	}
	if method == http.MethodPut {
		l.servePut(w, r, key, q)
		return
	}
	f, info, meta, err := l.open(key)
	if errors.Is(err, ErrNotFound) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		l.log.Error("serve object", "key", key, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("ETag", strconv.Quote(info.ETag))
	if info.ContentType != "" {
		h.Set("Content-Type", info.ContentType)
	} else {
		h.Set("Content-Type", ContentTypeFor(key))
	}
	if info.SHA256 != "" && meta.CacheControl != "" {
		h.Set("Cache-Control", meta.CacheControl)
	}
	if info.SHA256 != "" {
		h.Set("X-Amz-Meta-Sha256", info.SHA256)
	}
	http.ServeContent(w, r, "", info.ModTime, f)
}

// servePut stores the request body under the URL's signed conditions
// (q): its content type, exact length and write-once. An
// x-amz-checksum-sha256 header (as a client would send to S3) is verified.
func (l *Local) servePut(w http.ResponseWriter, r *http.Request, key string, q url.Values) {
	contentType := r.Header.Get("Content-Type")
	if signedType := q.Get("ct"); signedType != "" && contentType != signedType {
		http.Error(w, "content type does not match the signed one", http.StatusForbidden)
		return
	}
	limit := l.maxUpload
	if s := q.Get("len"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			http.Error(w, "bad signed length", http.StatusForbidden)
			return
		}
		if r.ContentLength != n {
			http.Error(w, fmt.Sprintf("Content-Length must be the signed %d bytes", n), http.StatusForbidden)
			return
		}
		limit = n
	}
	if r.ContentLength > limit {
		http.Error(w, fmt.Sprintf("object larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
		return
	}
	once := q.Get("once") == "1"
	if once {
		// Refused before the body is read; put checks again at commit.
		if _, err := l.Stat(r.Context(), key); err == nil {
			http.Error(w, "an object exists under this key: the URL writes once", http.StatusPreconditionFailed)
			return
		}
	}
	opts := PutOptions{ContentType: contentType}
	if c := r.Header.Get("X-Amz-Checksum-Sha256"); c != "" {
		sum, err := base64.StdEncoding.DecodeString(c)
		if err != nil || len(sum) != sha256.Size {
			http.Error(w, "x-amz-checksum-sha256: want the base64 of 32 bytes", http.StatusBadRequest)
			return
		}
		opts.SHA256 = hex.EncodeToString(sum)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	info, err := l.put(r.Context(), key, body, r.ContentLength, opts, once)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, fmt.Sprintf("object larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
	case errors.Is(err, ErrExists):
		http.Error(w, "an object exists under this key: the URL writes once", http.StatusPreconditionFailed)
	case errors.Is(err, ErrChecksumMismatch):
		http.Error(w, "body does not match x-amz-checksum-sha256", http.StatusBadRequest)
	case errors.Is(err, ErrSizeMismatch):
		http.Error(w, "body length does not match Content-Length", http.StatusBadRequest)
	case err != nil:
		if r.Context().Err() == nil {
			l.log.Error("store uploaded object", "key", key, "err", err)
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
	default:
		w.Header().Set("ETag", strconv.Quote(info.ETag))
		w.WriteHeader(http.StatusOK)
	}
}
