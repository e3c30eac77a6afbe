package edge

// On-demand playback. A playback id that is neither live here nor relayed
// is asked of the control plane (answers cached briefly); an asset's is
// served from object storage through a bounded cache (package relay with
// the store as its upstream), under the same token rules as live.
// thumbnail.jpg?time=T is made on demand from the asset's source with
// ffmpeg and cached as any other object: T is snapped to whole seconds
// (thumbGridMS), the cache makes each frame once however many ask at once,
// and the ffmpeg runs go through the edge's request pool (package
// workpool: a few at a time, niced, the rest refused with 503 and
// Retry-After), so no flood of viewers' requests can starve a live ladder.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/livestreams/livestreams/edgenode/hls"
	"github.com/livestreams/livestreams/edgenode/relay"
	"github.com/livestreams/livestreams/edgenode/workpool"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/token"
)

const (
	vodInfoTTL = 10 * time.Second
	vodMissTTL = 2 * time.Second
	// vodPlaylistTTL bounds how long a VOD playlist is served from the
	// cache: a master playlist gains a subtitles rendition when captions
	// are added, and viewers should see it within a minute.
	vodPlaylistTTL = time.Minute
	// thumbPrefix names thumbnails at a time inside the cache:
	// thumbnail.jpg?time=12.5 is cached as thumb_t12500.jpg.
	thumbPrefix = "thumb_t"
	thumbWidth  = 640
	// thumbGridMS is the grid ?time= snaps to: a second is close enough
	// for a poster or a preview (seek previews use the storyboard), and
	// an hour of media has at most 3600 distinct frames to make and cache.
	thumbGridMS = 1000
)

type vodInfo struct {
	asset  *protocol.AssetPlayback // nil: not an asset
	signed bool
	keys   token.Keys
	at     time.Time
}

// vodServing is the edge's on-demand side.
type vodServing struct {
	n     *Node
	cache *relay.Relay
	// work bounds the ffmpeg runs requests start (thumbnails at a time).
	work *workpool.Pool

	mu   sync.Mutex
	info map[string]vodInfo
}

func newVODServing(n *Node) *vodServing {
	v := &vodServing{n: n, info: map[string]vodInfo{}, work: workpool.New(n.cfg.RequestWork)}
	v.cache = relay.New(relay.Config{CacheDir: filepath.Join(n.cfg.DataDir, "vodcache"), Logger: n.cfg.Logger,
		PlaylistTTL: vodPlaylistTTL, Timeout: 30 * time.Second, PlaylistTimeout: 10 * time.Second, Open: v.open})
	return v
}

// lookup returns what the control plane says of pid, cached.
func (v *vodServing) lookup(ctx context.Context, pid string) (vodInfo, bool) {
	v.mu.Lock()
	info, ok := v.info[pid]
	v.mu.Unlock()
	ttl := vodInfoTTL
	if ok && info.asset == nil {
		ttl = vodMissTTL
	}
	if ok && time.Since(info.at) < ttl {
		return info, info.asset != nil
	}
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var reply protocol.PlaybackInfoReply
	err := v.n.client.Call(ictx, protocol.TypePlaybackInfo, protocol.PlaybackInfoRequest{PlaybackID: pid}, &reply)
	var pe *protocol.Error
	if err != nil && !(errors.As(err, &pe) && pe.Code == protocol.CodeNotFound) {
		v.n.log.Warn("vod: playback info", "playback_id", pid, "err", err)
		if ok {
			return info, info.asset != nil // the last answer beats none while the control plane is away
		}
		return vodInfo{}, false
	}
	info = vodInfo{at: time.Now()}
	if err == nil && reply.Asset != nil {
		info.asset, info.signed, info.keys = reply.Asset, reply.PlaybackPolicy == protocol.PlaybackSigned, v.n.verifyKeys(reply.SigningKeys)
	}
	v.mu.Lock()
	if len(v.info) > 10000 {
		clear(v.info) // a crude bound against ids probed at random
	}
	v.info[pid] = info
	v.mu.Unlock()
	return info, info.asset != nil
}

// resolve serves a ready asset's playback id.
func (v *vodServing) resolve(ctx context.Context, pid string) (hls.Stream, bool) {
	info, ok := v.lookup(ctx, pid)
	if !ok || !info.asset.Ready || info.asset.Prefix == "" {
		return hls.Stream{}, false
	}
	a := info.asset
	return hls.Stream{PlaybackID: pid, Signed: info.signed, Keys: info.keys,
		Fetch: func(ctx context.Context, name string) (string, error) { return v.cache.Fetch(ctx, a.Prefix, pid, name) }}, true
}

// objectKey maps a name the origin serves to the asset's object: the
// ladder (and the subtitles renditions) lives under hls/, the poster,
// storyboard and whole captions files (captions/{lang}.vtt) beside it.
func objectKey(prefix, name string) string {
	switch name {
	case objstore.ThumbnailFile, objstore.StoryboardImageFile, objstore.StoryboardVTTFile:
		return prefix + name
	}
	if strings.HasPrefix(name, objstore.CaptionsDir+"/") {
		return prefix + name
	}
	return prefix + objstore.HLSDir + "/" + name
}

// open is the cache's upstream: the object store, or ffmpeg for a
// thumbnail at a time.
func (v *vodServing) open(ctx context.Context, prefix, pid, name string) (io.ReadCloser, error) {
	if ms, ok := thumbTime(name); ok {
		return v.thumbnailAt(ctx, pid, float64(ms)/1000)
	}
	rc, _, err := v.n.cfg.ObjectStore.Get(ctx, objectKey(prefix, name))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return rc, err
}

func thumbTime(name string) (int64, bool) {
	s, ok := strings.CutPrefix(name, thumbPrefix)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".jpg")
	if !ok {
		return 0, false
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	return ms, err == nil && ms >= 0
}

func (v *vodServing) thumbnailAt(ctx context.Context, pid string, at float64) (io.ReadCloser, error) {
	v.mu.Lock()
	info := v.info[pid]
	v.mu.Unlock()
	if info.asset == nil || info.asset.SourceKey == "" || v.n.cfg.Runner == nil {
		return nil, fmt.Errorf("thumbnail: %w", fs.ErrNotExist)
	}
	if d := info.asset.Duration; d > 0 && at > d {
		return nil, fmt.Errorf("thumbnail at %.3fs is past the end (%.3fs): %w", at, d, fs.ErrNotExist)
	}
	var jpg []byte
	err := v.work.Do(ctx, func(ctx context.Context) error {
		src, err := v.n.cfg.ObjectStore.PresignGet(ctx, info.asset.SourceKey, 15*time.Minute)
		if err != nil {
			return fmt.Errorf("thumbnail source: %w", err)
		}
		jpg, err = v.n.cfg.Runner.Thumbnail(ctx, src, at, thumbWidth)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("thumbnail at %.3fs: %w", at, err)
	}
	return io.NopCloser(bytes.NewReader(jpg)), nil
}

// rewriteThumbnail turns /hls/PID/thumbnail.jpg?time=T into the cache name
// of that frame, so the origin checks the token and serves it like any
// other object. A bad time is a 400.
func rewriteThumbnail(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasSuffix(r.URL.Path, "/"+objstore.ThumbnailFile) {
		return true
	}
	t := r.URL.Query().Get("time")
	if t == "" {
		return true
	}
	sec, err := strconv.ParseFloat(t, 64)
	if err != nil || sec < 0 || sec > 7*24*3600 || math.IsNaN(sec) {
		http.Error(w, "time must be a number of seconds from the start", http.StatusBadRequest)
		return false
	}
	ms := int64(math.Round(sec*1000/thumbGridMS)) * thumbGridMS
	r.URL.Path = strings.TrimSuffix(r.URL.Path, objstore.ThumbnailFile) + thumbPrefix + strconv.FormatInt(ms, 10) + ".jpg"
	return true
}
