package objstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"
)

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return l.fail("delete", key, err)
	}
	if err := l.delete(key); err != nil {
		return l.fail("delete", key, err)
	}
	l.prune(path.Dir(key))
	return nil
}

func (l *Local) delete(key string) error {
	mu := l.lock(key)
	mu.Lock()
	defer mu.Unlock()
	// Metadata goes first: a crash in between leaves data without a
	// checksum, never a checksum without its data.
	if err := l.root.Remove(path.Join(metaDir, key)); err != nil && !isNotExist(err) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		return err
	}
	fi, err := l.root.Lstat(key)
	if isNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil // a prefix of other keys, not an object
	}
	return l.root.Remove(key)
}

// prune removes dir and its parents while they are empty, in the data
// tree and the metadata tree.
func (l *Local) prune(dir string) {
	l.tree.Lock()
	defer l.tree.Unlock()
	for _, base := range []string{"", metaDir} {
		for d := dir; d != "." && d != "/" && d != ""; d = path.Dir(d) {
			p := path.Join(base, d)
			if fi, err := l.root.Lstat(p); err != nil || !fi.IsDir() || l.root.Remove(p) != nil {
				break
			}
		}
	}
}

// DeletePrefix implements Store. The prefix's directories are renamed into
// .tmp at once and removed from there, so the objects disappear together.
func (l *Local) DeletePrefix(ctx context.Context, prefix string) error {
	if err := checkDeletePrefix(prefix); err != nil {
		return fmt.Errorf("delete prefix: %w", err)
	}
	dir := strings.TrimSuffix(prefix, "/")
	trash := tmpDir + "/trash-" + rand.Text()
	if err := l.root.Mkdir(trash, 0o700); err != nil {
		return l.fail("delete prefix", dir, err)
	}
	l.tree.Lock()
	var errs []error
	for i, src := range []string{path.Join(metaDir, dir), dir} {
		if fi, err := l.root.Lstat(src); err != nil || !fi.IsDir() {
			continue
		}
		if err := l.root.Rename(src, fmt.Sprintf("%s/%d", trash, i)); err != nil {
			errs = append(errs, err)
		}
	}
	l.tree.Unlock()
	if err := l.root.RemoveAll(trash); err != nil {
		errs = append(errs, err)
	}
	l.prune(path.Dir(dir))
	if err := errors.Join(errs...); err != nil {
		return l.fail("delete prefix", dir, err)
	}
	return nil
}

func checkDeletePrefix(prefix string) error {
	if err := ValidatePrefix(prefix); err != nil {
		return err
	}
	if !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("prefix %s: %w: must end in / (and not be empty)", quoteKey(prefix), ErrInvalidKey)
	}
	return nil
}

// List implements Store. It walks the directory tree, sorting each
// directory's entries as their keys sort: a directory "a" as "a/", so that
// "a.txt" (0x2E) comes before "a/b" (0x2F) as it does on S3.
func (l *Local) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	start := prefix[:strings.LastIndexByte(prefix, '/')+1]
	return l.walk(ctx, start, prefix, fn)
}

func (l *Local) walk(ctx context.Context, dirKey, prefix string, fn func(ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := strings.TrimSuffix(dirKey, "/")
	if dir == "" {
		dir = "."
	}
	d, err := l.root.Open(dir)
	if isNotExist(err) {
		return nil
	} else if err != nil {
		return l.fail("list", dir, err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return l.fail("list", dir, err)
	}
	sortName := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(sortName(a), sortName(b)) })
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		key := dirKey + e.Name()
		switch {
		case e.IsDir():
			sub := key + "/"
			if strings.HasPrefix(sub, prefix) || strings.HasPrefix(prefix, sub) {
				if err := l.walk(ctx, sub, prefix, fn); err != nil {
					return err
				}
			}
		case e.Type().IsRegular() && strings.HasPrefix(key, prefix):
			if ValidateKey(key) != nil {
				continue // put there by hand under a name no Put could use
			}
			info, err := l.Stat(ctx, key)
			if errors.Is(err, ErrNotFound) {
				continue // deleted since ReadDir
			} else if err != nil {
				return err
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}
