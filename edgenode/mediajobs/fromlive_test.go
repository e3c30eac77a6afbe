package mediajobs

import (
	"bytes"
	"strings"
	"testing"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
)

// TestRecordingVODFromLive: a recording-vod job whose live renditions are
// in the store keeps them (its result says from_live and lists them) and
// writes only the thumbnail and storyboard: no ladder object is written
// or overwritten. With the live playlist missing from the store, the same
// job transcodes as before.
func TestRecordingVODFromLive(t *testing.T) {
	src := mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 12, Fragmented: true, Audio: true})
	store := newStore(t)
	r := newRunner(t, store)
	prefix := assetPrefix(t, "ast_live")
	putFile(t, store, prefix+objstore.SourceFile, src)
	master := []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180\n180p/index.m3u8\n")
	if _, err := store.Put(t.Context(), prefix+"hls/master.m3u8", bytes.NewReader(master), int64(len(master)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	live := &protocol.LiveRenditions{Playlist: prefix + "hls/master.m3u8", Duration: 12, Segments: 6,
		Renditions: []protocol.Rendition{{Name: "180p", Width: 320, Height: 180, Bandwidth: 300000}}}

	var rec recorder
	res, err := r.Run(t.Context(), job(t, protocol.JobRecordingVOD, protocol.VODJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix, Live: live}), rec.add)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	rec.check(t)
	if !res.FromLive || res.Playlist != live.Playlist || len(res.Renditions) != 1 || res.Renditions[0] != live.Renditions[0] {
		t.Errorf("result %+v: want the live renditions kept", res)
	}
	if res.Thumbnail != prefix+objstore.ThumbnailFile || res.Storyboard == nil || res.Storyboard.Columns == 0 || res.Duration < 11.9 {
		t.Errorf("result %+v: want a thumbnail, a storyboard and the duration", res)
	}
	var hls []string
	for _, k := range listKeys(t, store, prefix) {
		if strings.HasPrefix(k, "hls/") {
			hls = append(hls, k)
		}
	}
	if len(hls) != 1 || !bytes.Equal(getObject(t, store, prefix+"hls/master.m3u8"), master) {
		t.Errorf("hls objects after a from-live job: %v; want the live master alone, untouched", hls)
	}

	// The live renditions never arrived: the job transcodes.
	other := assetPrefix(t, "ast_gone")
	putFile(t, store, other+objstore.SourceFile, src)
	gone := *live
	gone.Playlist = other + "hls/master.m3u8"
	res, err = r.Run(t.Context(), job(t, protocol.JobRecordingVOD, protocol.VODJob{SourceKey: other + objstore.SourceFile, Prefix: other, Live: &gone}), nil)
	if err != nil {
		t.Fatalf("Run without the live renditions: %v", err)
	}
	checkAsset(t, store, other, res, 12, []string{"180p"}, true)
	if res.FromLive {
		t.Error("from_live set on a transcode")
	}

	// A playlist outside the asset is refused, for good.
	bad := *live
	bad.Playlist = other + "hls/master.m3u8"
	if _, err := r.Run(t.Context(), job(t, protocol.JobRecordingVOD, protocol.VODJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix, Live: &bad}), nil); !IsPermanent(err) {
		t.Errorf("another asset's playlist: %v, want a permanent error", err)
	}
}
