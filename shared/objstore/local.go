package objstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Local keeps objects as plain files under a directory: the store of
// `livestreams dev` and of single-machine installs. Inside the directory:
//
//	{key}        the object's bytes, a plain file
//	.meta/{key}  JSON: size, sha256, content type, cache control, and the
//	             data file's mtime, which binds the record to that file
//	.tmp/        files being written, renamed into place once complete
//
// A write goes to .tmp, is fsynced and renamed over {key}, then its metadata
// the same way, so no reader ever sees a partial object under its final
// name. A crash between the two renames leaves the new data beside the old
// metadata; the mtime binding notices, and Stat reports the checksum as
// unknown ("") rather than wrong.
//
// Unlike S3, a key cannot be both an object and a prefix of other keys ("a"
// and "a/b"); Put reports the conflict. The asset layout never does this.
// One process owns a directory: locking is in memory.
type Local struct {
	dir       string
	root      *os.Root
	baseURL   string
	secret    []byte
	maxUpload int64
	log       *slog.Logger
	now       func() time.Time

	// tree is held shared by writers that create directories and
	// exclusively by whatever removes directories, so a Put never renames
	// into a directory that is being pruned away.
	tree sync.RWMutex
	// keys serializes the two renames of a commit against other commits,
	// deletes and readers of the same key (striped by hash).
	keys [64]sync.RWMutex
}

// LocalConfig configures a Local store.
type LocalConfig struct {
	// Dir holds the objects; it is created if missing.
	Dir string
	// PublicBaseURL is where Handler is reachable from clients, such as
	// "http://127.0.0.1:8080"; presigned URLs are
	// PublicBaseURL + "/objects/" + key + "?exp=…&sig=…". Empty disables
	// presigning.
	PublicBaseURL string
	// SigningSecret keys the HMAC-SHA256 of presigned URLs; at least 16
	// bytes. Empty with a PublicBaseURL uses the secret kept in the
	// directory (.signing-secret, mode 0600, made on first use), so that
	// URLs handed out stay valid across restarts; empty without one
	// disables presigning.
	SigningSecret []byte
	// MaxUploadBytes limits one presigned PUT (default DefaultMaxUploadBytes).
	MaxUploadBytes int64
	// Logger receives the handler's server-side errors (default: discarded).
	Logger *slog.Logger
}

// DefaultMaxUploadBytes is the default limit of a presigned PUT to Local.
const DefaultMaxUploadBytes = 16 << 30

const (
	metaDir   = ".meta"
	tmpDir    = ".tmp"
	staleTemp = time.Hour
)

// NewLocal opens a Local store in dir with the default limits; see
// OpenLocal and LocalConfig.
func NewLocal(dir, publicBaseURL string, signingSecret []byte) (*Local, error) {
	return OpenLocal(LocalConfig{Dir: dir, PublicBaseURL: publicBaseURL, SigningSecret: signingSecret})
}

// OpenLocal opens (creating if needed) a Local store. Temporary files older
// than an hour, left by a crash, are removed.
func OpenLocal(cfg LocalConfig) (*Local, error) {
	if cfg.Dir == "" {
		return nil, errors.New("local object store: directory not set")
	}
	base, err := checkBaseURL(cfg.PublicBaseURL)
	if err != nil {
		return nil, err
	}
	if n := len(cfg.SigningSecret); n > 0 && n < 16 {
		return nil, fmt.Errorf("local object store: signing secret of %d bytes, want at least 16", n)
	}
	if cfg.MaxUploadBytes < 0 {
		return nil, fmt.Errorf("local object store: max upload bytes %d: want > 0, or 0 for the default", cfg.MaxUploadBytes)
	}
	if cfg.MaxUploadBytes == 0 {
		cfg.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("local object store %s: %w", cfg.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local object store: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("local object store: %w", err)
	}
	l := &Local{
		dir:       dir,
		root:      root,
		baseURL:   base,
		secret:    slices.Clone(cfg.SigningSecret),
		maxUpload: cfg.MaxUploadBytes,
		log:       cfg.Logger,
		now:       time.Now,
	}
	for _, d := range []string{metaDir, tmpDir} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			root.Close()
			return nil, fmt.Errorf("local object store: %w", err)
		}
	}
	if err := l.cleanTemp(); err != nil {
		root.Close()
		return nil, fmt.Errorf("local object store: %w", err)
	}
	if len(l.secret) == 0 && l.baseURL != "" {
		if l.secret, err = l.keptSecret(); err != nil {
			root.Close()
			return nil, fmt.Errorf("local object store: signing secret: %w", err)
		}
	}
	return l, nil
}

// secretFile holds the signing secret in the store's directory. Its name
// starts with a dot, which no key can, so no URL reaches it.
const secretFile = ".signing-secret"

// keptSecret reads the directory's signing secret, making it on first use.
// Whoever protects the objects protects the secret: it is worth no more
// than the directory it signs for.
func (l *Local) keptSecret() ([]byte, error) {
	for range 2 {
		b, err := l.root.ReadFile(secretFile)
		if err == nil {
			if len(b) < 16 {
				return nil, fmt.Errorf("%s holds %d bytes, want at least 16 (delete it to make a new one)", filepath.Join(l.dir, secretFile), len(b))
			}
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		secret := make([]byte, 32)
		rand.Read(secret)
		// Written aside and linked into place, so that a reader never
		// sees a half-written secret and two processes opening the
		// directory at once agree on one.
		tmp := tmpDir + "/secret-" + rand.Text()
		f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		_, werr := f.Write(secret)
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			l.root.Remove(tmp)
			return nil, err
		}
		err = l.root.Link(tmp, secretFile)
		l.root.Remove(tmp)
		if err == nil {
			return secret, l.syncDir(".")
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, errors.New("the secret file keeps changing")
}

func checkBaseURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("local object store: public base URL %q: want http(s)://host[:port][/path]", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// Dir returns the directory the store keeps its objects in.
func (l *Local) Dir() string { return l.dir }

// Close releases the directory handle.
func (l *Local) Close() error { return l.root.Close() }

// localMeta is the .meta/{key} record.
type localMeta struct {
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	ContentType  string `json:"content_type,omitempty"`
	CacheControl string `json:"cache_control,omitempty"`
	// ModTimeNS is the data file's mtime when it was committed: metadata
	// whose ModTimeNS and Size do not match the file describes other bytes.
	ModTimeNS int64 `json:"mtime_ns"`
}

func (l *Local) where(key string) string { return filepath.Join(l.dir, filepath.FromSlash(key)) }

// fail wraps err with the operation and, for a valid key, the file's path.
func (l *Local) fail(op, key string, err error) error {
	if errors.Is(err, ErrInvalidKey) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s %s: %w", op, l.where(key), err)
}

func (l *Local) lock(key string) *sync.RWMutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &l.keys[h.Sum32()%uint32(len(l.keys))]
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error) {
	info, err := l.put(ctx, key, r, size, opts, false)
	if err != nil {
		return ObjectInfo{}, l.fail("put", key, err)
	}
	return info, nil
}

// put writes an object; with once it fails with ErrExists, storing
// nothing, when an object is already under key.
func (l *Local) put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions, once bool) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	want, err := normalizeSHA256(opts.SHA256)
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := checkSize(size); err != nil {
		return ObjectInfo{}, err
	}
	dataTmp := tmpDir + "/" + rand.Text()
	f, err := l.root.OpenFile(dataTmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return ObjectInfo{}, err
	}
	var metaTmp string
	committed := false
	defer func() {
		if !committed {
			f.Close()
			l.root.Remove(dataTmp)
			if metaTmp != "" {
				l.root.Remove(metaTmp)
			}
		}
	}()

	h := sha256.New()
	n, err := copyExact(ctx, io.MultiWriter(f, h), r, size)
	if err != nil {
		return ObjectInfo{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if want != "" && sum != want {
		return ObjectInfo{}, fmt.Errorf("content hashes to %s, want %s: %w", sum, want, ErrChecksumMismatch)
	}
	// Stamp the file with the full-resolution clock: the kernel's own
	// mtime ticks in milliseconds, and the metadata's binding to this file
	// is only as good as the mtime is unique.
	now := time.Now()
	if err := l.root.Chtimes(dataTmp, now, now); err != nil {
		return ObjectInfo{}, err
	}
	if err := f.Sync(); err != nil {
		return ObjectInfo{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := f.Close(); err != nil {
		return ObjectInfo{}, err
	}
	opts = opts.withDefaults(key)
	meta := localMeta{Size: n, SHA256: sum, ContentType: opts.ContentType, CacheControl: opts.CacheControl, ModTimeNS: fi.ModTime().UnixNano()}
	metaTmp = tmpDir + "/" + rand.Text()
	if err := l.writeSync(metaTmp, meta); err != nil {
		return ObjectInfo{}, err
	}
	if err := l.commit(key, dataTmp, metaTmp, once); err != nil {
		return ObjectInfo{}, err
	}
	committed = true
	return localInfo(key, fi, meta), nil
}

// copyExact copies r to w; with size >= 0 it insists on exactly size bytes.
func copyExact(ctx context.Context, w io.Writer, r io.Reader, size int64) (int64, error) {
	src := ctxReader{ctx, r}
	buf := make([]byte, 256<<10)
	if size < 0 {
		return io.CopyBuffer(w, src, buf)
	}
	n, err := io.CopyBuffer(w, io.LimitReader(src, size), buf)
	if err != nil {
		return n, err
	}
	if n < size {
		return n, fmt.Errorf("reader ended after %d of %d bytes: %w", n, size, ErrSizeMismatch)
	}
	var one [1]byte
	if m, err := io.ReadFull(src, one[:]); m > 0 {
		return n, fmt.Errorf("reader has more than the declared %d bytes: %w", size, ErrSizeMismatch)
	} else if err != io.EOF {
		return n, err
	}
	return n, nil
}

func (l *Local) writeSync(name string, meta localMeta) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	f, err := l.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// commit renames the finished data and then its metadata into place; with
// once, only if nothing is under key (checked under the key's lock, so
// two write-once commits of one key cannot both succeed).
func (l *Local) commit(key, dataTmp, metaTmp string, once bool) error {
	l.tree.RLock()
	defer l.tree.RUnlock()
	mu := l.lock(key)
	mu.Lock()
	defer mu.Unlock()
	if once {
		if _, err := l.root.Lstat(key); err == nil {
			return ErrExists
		} else if !isNotExist(err) {
			return err
		}
	}
	dir := path.Dir(key)
	if err := l.root.MkdirAll(dir, 0o755); err != nil {
		return conflict(err)
	}
	if err := l.root.MkdirAll(path.Join(metaDir, dir), 0o755); err != nil {
		return conflict(err)
	}
	if err := l.root.Rename(dataTmp, key); err != nil {
		return conflict(err)
	}
	if err := l.syncDir(dir); err != nil {
		return err
	}
	if err := l.root.Rename(metaTmp, path.Join(metaDir, key)); err != nil {
		return err
	}
	return l.syncDir(path.Join(metaDir, dir))
}

func conflict(err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) || errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("key is both an object and a prefix of other objects, which a local store cannot hold: %w", err)
	}
	return err
}

// syncDir makes a rename in dir durable.
func (l *Local) syncDir(dir string) error {
	d, err := l.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// cleanTemp removes what crashed writes and deletes left in .tmp.
func (l *Local) cleanTemp() error {
	d, err := l.root.Open(tmpDir)
	if err != nil {
		return err
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if strings.HasPrefix(e.Name(), "trash-") || l.now().Sub(fi.ModTime()) > staleTemp {
			if err := l.root.RemoveAll(tmpDir + "/" + e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

// localInfo describes the data file fi under key, using meta only if it
// was written for that very file.
func localInfo(key string, fi fs.FileInfo, meta localMeta) ObjectInfo {
	info := ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	if meta.SHA256 != "" && meta.Size == fi.Size() && meta.ModTimeNS == fi.ModTime().UnixNano() {
		info.SHA256 = meta.SHA256
		info.ContentType = meta.ContentType
		info.ETag = meta.SHA256
	} else {
		info.ETag = fmt.Sprintf("%x-%x", fi.Size(), fi.ModTime().UnixNano())
	}
	return info
}

func (l *Local) readMeta(key string) localMeta {
	var m localMeta
	b, err := l.root.ReadFile(path.Join(metaDir, key))
	if err != nil || json.Unmarshal(b, &m) != nil {
		return localMeta{}
	}
	return m
}

// open opens the data file and reads its metadata under the key's lock,
// so the two agree.
func (l *Local) open(key string) (*os.File, ObjectInfo, localMeta, error) {
	if err := ValidateKey(key); err != nil {
		return nil, ObjectInfo{}, localMeta{}, err
	}
	mu := l.lock(key)
	mu.RLock()
	defer mu.RUnlock()
	f, err := l.root.Open(key)
	if isNotExist(err) {
		return nil, ObjectInfo{}, localMeta{}, ErrNotFound
	} else if err != nil {
		return nil, ObjectInfo{}, localMeta{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, ObjectInfo{}, localMeta{}, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, ObjectInfo{}, localMeta{}, ErrNotFound
	}
	meta := l.readMeta(key)
	return f, localInfo(key, fi, meta), meta, nil
}

// PutFile implements Store.
func (l *Local) PutFile(ctx context.Context, key, name string, opts PutOptions) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, l.fail("put", key, err)
	}
	f, size, err := openRegular(name)
	if err != nil {
		return ObjectInfo{}, l.fail("put", key, err)
	}
	defer f.Close()
	return l.Put(ctx, key, f, size, opts)
}

func openRegular(name string) (*os.File, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is not a regular file", name)
	}
	return f, fi.Size(), nil
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	f, info, _, err := l.open(key)
	if err != nil {
		return nil, ObjectInfo{}, l.fail("get", key, err)
	}
	return newVerifyReader(f, info.Size, info.SHA256, l.where(key)), info, nil
}

// GetRange implements Store.
func (l *Local) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := checkRange(off, n); err != nil {
		return nil, l.fail("get", key, err)
	}
	f, info, _, err := l.open(key)
	if err != nil {
		return nil, l.fail("get", key, err)
	}
	if off >= info.Size {
		f.Close()
		return nil, l.fail("get", key, fmt.Errorf("offset %d of %d bytes: %w", off, info.Size, ErrInvalidRange))
	}
	end := info.Size
	if n >= 0 && n < end-off {
		end = off + n
	}
	return sectionReadCloser{io.NewSectionReader(f, off, end-off), f}, nil
}

type sectionReadCloser struct {
	*io.SectionReader
	io.Closer
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, l.fail("stat", key, err)
	}
	mu := l.lock(key)
	mu.RLock()
	defer mu.RUnlock()
	fi, err := l.root.Lstat(key)
	if isNotExist(err) || err == nil && !fi.Mode().IsRegular() {
		return ObjectInfo{}, l.fail("stat", key, ErrNotFound)
	} else if err != nil {
		return ObjectInfo{}, l.fail("stat", key, err)
	}
	return localInfo(key, fi, l.readMeta(key)), nil
}
