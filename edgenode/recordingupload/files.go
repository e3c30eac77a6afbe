package recordingupload

// An item may carry more files than its main one: the live renditions of
// a recording (package livevod stages them) go up with it, under the same
// durable item, so that the item's OnUploaded — the registration with the
// control plane — runs only once every one of them is confirmed in the
// store, a restart resumes with the ones not yet there, and nothing is
// deleted here before the store has it. They are companions, not the
// point: if one of them vanishes before the store has it, the item goes on
// without its Files (emptied, and the reason logged), and OnUploaded sees
// an item without Files (a recording then transcoded again), rather than
// holding the main file back forever.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/livestreams/livestreams/shared/objstore"
)

// File is one companion file of an item.
type File struct {
	Path string `json:"path"`
	// Key is its object key, checked by objstore.ValidateKey.
	Key string `json:"key"`
	// Size and SHA256 are filled by Enqueue when zero.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// CacheControl is stored with the object ("" for none).
	CacheControl string `json:"cache_control,omitempty"`
}

// fileWorkers is how many of an item's Files go up at once: an object
// store answers each PUT with latency, and ten minutes of a ladder are
// nearly a thousand segments.
const fileWorkers = 4

// describeFiles checks each companion file and fills in its size and
// checksum.
func describeFiles(files []File) error {
	seen := make(map[string]bool, len(files))
	for i := range files {
		f := &files[i]
		if err := objstore.ValidateKey(f.Key); err != nil {
			return fmt.Errorf("file %d: %w", i, err)
		}
		if seen[f.Key] {
			return fmt.Errorf("file %d: key %s twice", i, f.Key)
		}
		seen[f.Key] = true
		p, err := filepath.Abs(f.Path)
		if err != nil {
			return fmt.Errorf("file %d: %w", i, err)
		}
		it := Item{LocalPath: p, Size: f.Size, SHA256: f.SHA256}
		if err := describe(&it); err != nil {
			return err
		}
		f.Path, f.Size, f.SHA256 = p, it.Size, it.SHA256
	}
	return nil
}

// deliverFiles stores every companion file the store does not have yet,
// several at a time, the last one after all the others (a playlist after
// what it lists). A file gone here and absent there is errLocalGone.
func (q *Queue) deliverFiles(ctx context.Context, files []File) error {
	if len(files) == 0 {
		return nil
	}
	if err := q.putFiles(ctx, files[:len(files)-1]); err != nil {
		return err
	}
	return q.putFiles(ctx, files[len(files)-1:])
}

func (q *Queue) putFiles(ctx context.Context, files []File) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan File)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range min(fileWorkers, len(files)) {
		wg.Go(func() {
			for f := range next {
				if err := q.putFile(ctx, f); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					cancel()
				}
			}
		})
	}
feed:
	for _, f := range files {
		select {
		case next <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	// A lost file decides the outcome over the cancellations it caused.
	for _, err := range errs {
		if errors.Is(err, errLocalGone) {
			return err
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return ctx.Err()
}

// putFile stores one companion file unless the store has it already.
func (q *Queue) putFile(ctx context.Context, f File) error {
	ref := Item{LocalPath: f.Path, Key: f.Key, Size: f.Size, SHA256: f.SHA256}
	info, err := q.store.Stat(ctx, f.Key)
	switch {
	case err == nil && confirms(info, ref):
		return nil
	case err != nil && !errors.Is(err, objstore.ErrNotFound):
		return fmt.Errorf("stat object %s: %w", f.Key, err)
	}
	fi, err := os.Stat(f.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", f.Path, errLocalGone)
	case err != nil:
		return fmt.Errorf("stat local file: %w", err)
	case fi.Size() != f.Size:
		return fmt.Errorf("%s is %d bytes, %d when queued: changed after Enqueue", f.Path, fi.Size(), f.Size)
	}
	if _, err := q.store.PutFile(ctx, f.Key, f.Path, objstore.PutOptions{SHA256: f.SHA256, CacheControl: f.CacheControl}); err != nil {
		return fmt.Errorf("upload %s: %w", f.Key, err)
	}
	if info, err = q.store.Stat(ctx, f.Key); err != nil {
		return fmt.Errorf("confirm upload of %s: %w", f.Key, err)
	}
	if !confirms(info, ref) {
		return fmt.Errorf("confirm upload of %s: %w", f.Key, objstore.ErrChecksumMismatch)
	}
	return nil
}

// dropFiles records that it goes on without its companion files, one of
// which vanished before the store had it. The files left are removed.
func (q *Queue) dropFiles(it *Item, cause error) {
	files := it.Files
	q.mu.Lock()
	if cur, ok := q.items[it.ID]; ok {
		upd := cur.clone()
		upd.Files = nil
		if err := saveItem(q.db, &upd); err != nil {
			q.log.Error("record dropped companion files", "item_id", it.ID, "err", err)
		}
		*cur = upd
	}
	q.mu.Unlock()
	it.Files = nil
	q.log.Error("a companion file vanished before the store had it; going on with the main file alone",
		"item_id", it.ID, "files", len(files), "err", cause)
	removeFiles(q, it.ID, files)
}

// removeFiles deletes companion files once their item is done (or they
// are dropped), then the directories they leave empty.
func removeFiles(q *Queue, id string, files []File) {
	dirs := map[string]bool{}
	for _, f := range files {
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			q.log.Error("remove uploaded file", "item_id", id, "path", f.Path, "err", err)
		}
		dirs[filepath.Dir(f.Path)] = true
	}
	list := make([]string, 0, len(dirs))
	for d := range dirs {
		list = append(list, d)
		// A parent that holds only these directories goes too.
		if p := filepath.Dir(d); !dirs[p] {
			list = append(list, p)
		}
	}
	// Deepest first; os.Remove leaves a directory that is not empty.
	slices.SortFunc(list, func(a, b string) int {
		return cmp.Compare(strings.Count(b, string(filepath.Separator)), strings.Count(a, string(filepath.Separator)))
	})
	for _, d := range list {
		os.Remove(d)
	}
}
