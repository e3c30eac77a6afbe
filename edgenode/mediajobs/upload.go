package mediajobs

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/livestreams/livestreams/shared/objstore"
)

// immutable is the Cache-Control of objects whose bytes never change under
// their key: segments and init segments.
const immutable = "public, max-age=31536000, immutable"

// uploadWorkers is how many objects go up at once: object stores answer
// each PUT with latency, and an hour of VOD is thousands of segments.
const uploadWorkers = 4

// upload is one file to store.
type upload struct {
	key, path    string
	size         int64
	cacheControl string
}

// hlsUploads lists what ffmpeg wrote under dir as objects under keyPrefix,
// in three waves: media (segments, init segments), then the renditions'
// playlists, then the master playlist, so that no playlist is stored
// before what it references.
func hlsUploads(dir, keyPrefix string) ([3][]upload, error) {
	var waves [3][]upload
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		u := upload{key: keyPrefix + filepath.ToSlash(rel), path: p, size: info.Size()}
		switch {
		case rel == "master.m3u8":
			waves[2] = append(waves[2], u)
		case strings.HasSuffix(rel, ".m3u8"):
			waves[1] = append(waves[1], u)
		default:
			u.cacheControl = immutable
			waves[0] = append(waves[0], u)
		}
		return nil
	})
	if err != nil {
		return waves, fmt.Errorf("list hls output: %w", err)
	}
	return waves, nil
}

// uploadAll stores each wave's files (a few at a time) before the next
// wave's, reporting the bytes done through ph.
func (r *Runner) uploadAll(ctx context.Context, waves [][]upload, ph phase) error {
	var total int64
	for _, w := range waves {
		for _, u := range w {
			total += u.size
		}
	}
	var done atomic.Int64
	for _, w := range waves {
		if err := r.uploadWave(ctx, w, func(n int64) {
			ph.set(float64(done.Add(n)) / float64(max(total, 1)))
		}); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) uploadWave(ctx context.Context, files []upload, uploaded func(int64)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan upload)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range min(uploadWorkers, len(files)) {
		wg.Go(func() {
			for u := range next {
				_, err := r.store.PutFile(ctx, u.key, u.path, objstore.PutOptions{CacheControl: u.cacheControl})
				if err != nil {
					once.Do(func() {
						firstErr = fmt.Errorf("upload %s: %w", u.key, err)
						cancel()
					})
					continue
				}
				uploaded(u.size)
			}
		})
	}
feed:
	for _, u := range files {
		select {
		case next <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
