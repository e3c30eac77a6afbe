package recordingupload

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// diskStatus is the last look at the free space.
type diskStatus struct {
	free     int64
	at       time.Time
	low      bool
	critical bool
}

// watchDisk checks the free space now and every DiskCheckInterval until
// ctx ends.
func (q *Queue) watchDisk(ctx context.Context) {
	t := time.NewTicker(q.cfg.DiskCheckInterval)
	defer t.Stop()
	for {
		q.checkDisk()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkDisk records the free space and logs when it crosses a level, once
// per crossing rather than at every check.
func (q *Queue) checkDisk() {
	free, err := freeBytes(q.cfg.DiskPath)
	if err != nil {
		q.log.Warn("check free disk space", "path", q.cfg.DiskPath, "err", err)
		return
	}
	now := q.now()
	q.mu.Lock()
	prev := q.disk
	q.disk = diskStatus{free: free, at: now, low: free < q.cfg.WarnFreeBytes, critical: free < q.cfg.MinFreeBytes}
	cur := q.disk
	var pending int64
	for _, it := range q.items {
		if it.active() {
			pending += it.bytes()
		}
	}
	q.mu.Unlock()
	args := []any{"path", q.cfg.DiskPath, "free_bytes", free, "bytes_pending", pending}
	switch {
	case cur.critical && !prev.critical:
		q.log.Error("disk nearly full: recordings may be cut short and queue writes may fail",
			append(args, "min_free_bytes", q.cfg.MinFreeBytes)...)
	case cur.low && !prev.low:
		q.log.Warn("disk filling up", append(args, "warn_free_bytes", q.cfg.WarnFreeBytes)...)
	case !cur.low && prev.low:
		q.log.Info("disk space back above the warning level", append(args, "warn_free_bytes", q.cfg.WarnFreeBytes)...)
	}
}

// freeBytes is the space an unprivileged process may still use on the
// filesystem holding path.
func freeBytes(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
