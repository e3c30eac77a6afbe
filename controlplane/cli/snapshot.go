package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func snapshotSave(ctx context.Context, e *env, args []string) error {
	c := e.command("snapshot save", "FILE", `
Write the whole cluster state to FILE. The file appears only once the
snapshot is complete and on disk: the data goes to FILE.tmp first, then is
synced and renamed. It holds password hashes and sealed keys: the file is
created readable by you only. Needs a cluster admin.`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	path := c.pos[0]
	cl, err := c.client()
	if err != nil {
		return err
	}
	snap, err := cl.Cluster().Snapshot(ctx)
	if err != nil {
		return err
	}
	defer snap.Close()
	n, err := writeAtomic(path, snap)
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	if c.g.json {
		return c.printValue(map[string]any{"file": path, "bytes": n})
	}
	fmt.Fprintf(c.stdout, "Wrote %d bytes to %s\n", n, path)
	return nil
}

// writeAtomic copies r to path through path.tmp, so that path holds either
// nothing new or the complete data: a failed or interrupted copy removes the
// temporary file and leaves path as it was.
func writeAtomic(path string, r io.Reader) (n int64, err error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if n, err = io.Copy(f, r); err != nil {
		return n, fmt.Errorf("after %d bytes: %w", n, err)
	}
	if err = f.Sync(); err != nil {
		return n, err
	}
	if err = f.Close(); err != nil {
		return n, err
	}
	if err = os.Rename(tmp, path); err != nil {
		return n, err
	}
	// The rename is durable only once the directory is synced; failing that
	// the file is complete, so this error is not worth reporting.
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}

func snapshotRestore(ctx context.Context, e *env, args []string) error {
	c := e.command("snapshot restore", "FILE", `
Replace the whole cluster state (orgs, users, keys, streams, sessions) with
a file written by 'livestreams snapshot save'. Everything changed since the
snapshot is lost, so the command asks for --yes. Needs a cluster admin.`)
	var yes bool
	c.fs.BoolVar(&yes, "yes", false, "confirm that the current state is to be replaced")
	c.fs.BoolVar(&yes, "y", false, "short for --yes")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	path := c.pos[0]
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if st.IsDir() {
		return fmt.Errorf("restore snapshot: %s is a directory", path)
	}
	if !yes {
		return c.usage("this replaces the entire cluster state with %s (%d bytes); run again with --yes to confirm", path, st.Size())
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	// Every address tried reads the file from the start.
	raw := func() (io.Reader, int64, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, 0, err
		}
		return io.NopCloser(f), st.Size(), nil
	}
	if err := cl.Cluster().Restore(ctx, raw); err != nil {
		return err
	}
	if !c.g.json {
		fmt.Fprintf(c.stdout, "Restored the cluster state from %s (%d bytes)\n", path, st.Size())
	}
	return nil
}
