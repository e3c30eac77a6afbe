package mediajobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

// checkAsset checks everything a prepared asset must have, as a player
// and the edge would use it.
func checkAsset(t *testing.T, store *objstore.Local, prefix string, res protocol.MediaResult, wantDuration float64, wantRenditions []string, audio bool) {
	t.Helper()
	if math.Abs(res.Duration-wantDuration) > 0.2 {
		t.Errorf("duration %v, want about %v", res.Duration, wantDuration)
	}
	var names []string
	for _, r := range res.Renditions {
		names = append(names, r.Name)
		if r.Width <= 0 || r.Height <= 0 || r.Bandwidth <= 0 {
			t.Errorf("rendition %+v: want size and bandwidth", r)
		}
	}
	if !slices.Equal(names, wantRenditions) {
		t.Errorf("renditions %v, want %v", names, wantRenditions)
	}
	var hasVideo, hasAudio bool
	for _, tr := range res.Tracks {
		hasVideo = hasVideo || tr.Type == "video" && tr.Width > 0
		hasAudio = hasAudio || tr.Type == "audio" && tr.SampleRate > 0
	}
	if !hasVideo || hasAudio != audio {
		t.Errorf("tracks %+v: want video, audio %v", res.Tracks, audio)
	}

	// The master playlist lists the renditions, each a finished VOD
	// playlist whose files are all stored.
	if res.Playlist != prefix+"hls/master.m3u8" {
		t.Errorf("playlist key %q", res.Playlist)
	}
	variants, err := parseMaster(getObject(t, store, res.Playlist))
	if err != nil {
		t.Fatal(err)
	}
	if len(variants) != len(wantRenditions) {
		t.Fatalf("master lists %d variants, want %d", len(variants), len(wantRenditions))
	}
	keys := listKeys(t, store, prefix)
	for _, v := range variants {
		dir := path.Dir(v.URI)
		media := string(getObject(t, store, prefix+"hls/"+v.URI))
		if !strings.Contains(media, "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.Contains(media, "#EXT-X-ENDLIST") {
			t.Errorf("%s is not a finished VOD playlist:\n%s", v.URI, media)
		}
		for line := range strings.Lines(media) {
			line = strings.TrimSpace(line)
			ref := line
			if after, ok := strings.CutPrefix(line, `#EXT-X-MAP:URI="`); ok {
				ref = strings.TrimSuffix(after, `"`)
			} else if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !slices.Contains(keys, "hls/"+dir+"/"+ref) {
				t.Errorf("%s references %s, which is not stored", v.URI, ref)
			}
		}
	}
	// Segments are served as immutable.
	var segment string
	for _, k := range keys {
		if strings.HasSuffix(k, ".m4s") {
			segment = k
			break
		}
	}
	url, err := store.PresignGet(t.Context(), prefix+segment, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("segment %s Cache-Control %q, want immutable", segment, cc)
	}

	// ffprobe reads the VOD from the store's directory.
	local := filepath.Join(store.Dir(), filepath.FromSlash(res.Playlist))
	if d := probeDuration(t, local); math.Abs(d-wantDuration) > 0.5 {
		t.Errorf("ffprobe reads %v s of the VOD, want about %v", d, wantDuration)
	}

	// The thumbnail is a JPEG at most 640 wide.
	if res.Thumbnail != prefix+objstore.ThumbnailFile {
		t.Errorf("thumbnail key %q", res.Thumbnail)
	}
	thumb := getObject(t, store, res.Thumbnail)
	if !bytes.HasPrefix(thumb, []byte{0xFF, 0xD8}) {
		t.Errorf("thumbnail is not a JPEG: % x", thumb[:min(len(thumb), 8)])
	}
	if w, _ := probeSize(t, filepath.Join(store.Dir(), filepath.FromSlash(res.Thumbnail))); w > DefaultThumbnailWidth {
		t.Errorf("thumbnail %d wide", w)
	}

	checkStoryboard(t, store, prefix, res, wantDuration)
}

// checkStoryboard checks that the cues cover the duration without gaps
// and that every tile lies inside the sprite's real pixels.
func checkStoryboard(t *testing.T, store *objstore.Local, prefix string, res protocol.MediaResult, duration float64) {
	t.Helper()
	sb := res.Storyboard
	if sb == nil || sb.Image != prefix+objstore.StoryboardImageFile || sb.VTT != prefix+objstore.StoryboardVTTFile {
		t.Fatalf("storyboard %+v", sb)
	}
	if sb.TileWidth != 160 || sb.TileHeight%2 != 0 || sb.Interval < 1 || sb.Columns < 1 || sb.Columns > 10 {
		t.Errorf("storyboard geometry %+v", sb)
	}
	img := getObject(t, store, sb.Image)
	if !bytes.HasPrefix(img, []byte{0xFF, 0xD8}) {
		t.Errorf("storyboard image is not a JPEG")
	}
	sw, sh := probeSize(t, filepath.Join(store.Dir(), filepath.FromSlash(sb.Image)))
	cues := parseVTT(t, getObject(t, store, sb.VTT))
	if len(cues) == 0 {
		t.Fatal("no cues")
	}
	var prevEnd time.Duration
	for i, c := range cues {
		if c.image != objstore.StoryboardImageFile {
			t.Errorf("cue %d image %q, want the relative %q", i, c.image, objstore.StoryboardImageFile)
		}
		if c.start != prevEnd || c.end <= c.start {
			t.Errorf("cue %d [%v, %v) after one ending at %v", i, c.start, c.end, prevEnd)
		}
		prevEnd = c.end
		if c.x < 0 || c.y < 0 || c.x+c.w > sw || c.y+c.h > sh || c.w != sb.TileWidth || c.h != sb.TileHeight {
			t.Errorf("cue %d tile %d,%d,%d,%d outside the %dx%d sprite", i, c.x, c.y, c.w, c.h, sw, sh)
		}
	}
	if want := time.Duration(math.Round(res.Duration*1000)) * time.Millisecond; prevEnd != want {
		t.Errorf("last cue ends at %v, want the duration %v", prevEnd, want)
	}
	if math.Abs(prevEnd.Seconds()-duration) > 0.2 {
		t.Errorf("cues cover %v, want about %v s", prevEnd, duration)
	}
	// Every cue is one interval long but the last, which runs to the end:
	// when the video stops a little before the audio, the tile that would
	// start after the last frame does not exist.
	interval := time.Duration(sb.Interval * float64(time.Second))
	for i, c := range cues {
		if d := c.end - c.start; i < len(cues)-1 && d != interval || i == len(cues)-1 && d >= 2*interval {
			t.Errorf("cue %d lasts %v; the interval is %v", i, d, interval)
		}
	}
}

func TestVOD(t *testing.T) {
	src := mediatest.File(t, mediatest.Spec{Width: 640, Height: 360, Seconds: 8, Audio: true})
	store := newStore(t)
	r := newRunner(t, store)
	prefix := assetPrefix(t, "ast_vod")
	info := putFile(t, store, prefix+objstore.SourceFile, src)

	var rec recorder
	start := time.Now()
	res, err := r.Run(t.Context(), job(t, protocol.JobVOD, protocol.VODJob{
		SourceKey: prefix + objstore.SourceFile, Prefix: prefix, MaxSourceBytes: 100 << 20, DeleteRejected: true,
	}), rec.add)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("vod of 8 s 640x360 took %v", time.Since(start).Round(time.Millisecond))
	checkAsset(t, store, prefix, res, 8, []string{"360p"}, true)
	rec.check(t)
	if res.SourceKey != prefix+objstore.SourceFile || res.Size != info.Size || res.SHA256 != info.SHA256 {
		t.Errorf("source %q %d %q, want %q %d %q", res.SourceKey, res.Size, res.SHA256, info.Key, info.Size, info.SHA256)
	}
	if sb := res.Storyboard; sb.Interval != 1 || sb.Columns != 8 || sb.Rows != 1 || sb.TileHeight != 90 {
		t.Errorf("storyboard of 8 s: %+v, want 8 tiles of 160x90 every 1 s in one row", sb)
	}
	if entries, _ := os.ReadDir(r.workDir); len(entries) != 0 {
		t.Errorf("work dir not cleaned: %v", entries)
	}
}

// TestRecordingVOD prepares a recording as the live path writes it
// (fragmented MP4, here without audio) twice, as a lapsed lease would:
// the second run overwrites the first's objects and adds none.
func TestRecordingVOD(t *testing.T) {
	src := mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 6, Fragmented: true})
	store := newStore(t)
	r := newRunner(t, store)
	prefix := assetPrefix(t, "ast_rec")
	putFile(t, store, prefix+objstore.SourceFile, src)
	j := job(t, protocol.JobRecordingVOD, protocol.VODJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix, StoryboardInterval: 2.5})

	res, err := r.Run(t.Context(), j, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkAsset(t, store, prefix, res, 6, []string{"180p"}, false)
	if sb := res.Storyboard; sb.Interval != 2.5 || sb.Columns != 3 {
		t.Errorf("storyboard every 2.5 s of 6 s: %+v, want 3 tiles", sb)
	}
	first := listKeys(t, store, prefix)

	res2, err := r.Run(t.Context(), j, nil)
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if second := listKeys(t, store, prefix); !slices.Equal(first, second) {
		t.Errorf("second run changed the objects:\n%v\n%v", first, second)
	}
	if res2.Playlist != res.Playlist || len(res2.Renditions) != len(res.Renditions) {
		t.Errorf("second run result %+v, first %+v", res2, res)
	}
}

// TestRotatedSource prepares a phone video held upright: stored
// landscape, displayed portrait. Everything is made the way it is shown.
func TestRotatedSource(t *testing.T) {
	src := mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 4, Audio: true, Rotate: 90})
	store := newStore(t)
	r := newRunner(t, store)
	prefix := assetPrefix(t, "ast_rot")
	putFile(t, store, prefix+objstore.SourceFile, src)
	res, err := r.Run(t.Context(), job(t, protocol.JobVOD, protocol.VODJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix}), nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkAsset(t, store, prefix, res, 4, []string{"320p"}, true)
	if r := res.Renditions[0]; r.Width != 180 || r.Height != 320 {
		t.Errorf("rendition %+v, want 180x320", r)
	}
	if w, h := probeSize(t, filepath.Join(store.Dir(), filepath.FromSlash(res.Thumbnail))); w != 180 || h != 320 {
		t.Errorf("thumbnail %dx%d, want 180x320", w, h)
	}
	if sb := res.Storyboard; sb.TileWidth != 160 || sb.TileHeight != 284 {
		t.Errorf("storyboard tiles %dx%d, want 160x284", sb.TileWidth, sb.TileHeight)
	}
}

func TestRejectedSources(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	text := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(text, []byte("this is not a video\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	video := mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 6, Audio: true})
	audio := mediatest.File(t, mediatest.Spec{Seconds: 3, NoVideo: true, Audio: true})

	tests := []struct {
		name       string
		file       string // "" stores no source
		payload    func(prefix string) protocol.VODJob
		wantErr    string
		wantGone   bool // the asset's objects were deleted
		typ        string
		rawPayload string
	}{
		{name: "text deleted", file: text, wantErr: "source is not a media file (ffprobe: Invalid data found when processing input)", wantGone: true,
			payload: func(p string) protocol.VODJob {
				return protocol.VODJob{SourceKey: p + "source.mp4", Prefix: p, DeleteRejected: true}
			}},
		{name: "text kept", file: text, wantErr: "source is not a media file",
			payload: func(p string) protocol.VODJob { return protocol.VODJob{SourceKey: p + "source.mp4", Prefix: p} }},
		{name: "audio only", file: audio, wantErr: "audio only", wantGone: true,
			payload: func(p string) protocol.VODJob {
				return protocol.VODJob{SourceKey: p + "source.mp4", Prefix: p, DeleteRejected: true}
			}},
		{name: "too large", file: video, wantErr: "over the upload limit of 100 kB", wantGone: true,
			payload: func(p string) protocol.VODJob {
				return protocol.VODJob{SourceKey: p + "source.mp4", Prefix: p, DeleteRejected: true, MaxSourceBytes: 100_000}
			}},
		{name: "missing", wantErr: "not found",
			payload: func(p string) protocol.VODJob { return protocol.VODJob{SourceKey: p + "source.mp4", Prefix: p} }},
		{name: "prefix without slash", file: video, wantErr: "bad payload",
			payload: func(p string) protocol.VODJob {
				return protocol.VODJob{SourceKey: p + "source.mp4", Prefix: strings.TrimSuffix(p, "/")}
			}},
		{name: "negative interval", file: video, wantErr: "bad payload",
			payload: func(p string) protocol.VODJob {
				return protocol.VODJob{SourceKey: p + "source.mp4", Prefix: p, StoryboardInterval: -1}
			}},
		{name: "another organization's source", file: video, wantErr: "not under the organization's orgs/org1/",
			payload: func(p string) protocol.VODJob {
				return protocol.VODJob{SourceKey: "orgs/org2/assets/a/source.mp4", Prefix: p}
			}},
		{name: "payload not json", file: video, wantErr: "bad vod job payload", rawPayload: "{"},
		{name: "unknown type", file: video, wantErr: `job type "restream" is not a media job`, typ: "restream",
			payload: func(p string) protocol.VODJob { return protocol.VODJob{SourceKey: p + "source.mp4", Prefix: p} }},
	}
	store := newStore(t)
	r := newRunner(t, store)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := assetPrefix(t, "ast_rej"+string(rune('a'+i)))
			if tt.file != "" {
				putFile(t, store, prefix+objstore.SourceFile, tt.file)
			}
			typ := tt.typ
			if typ == "" {
				typ = protocol.JobVOD
			}
			var j protocol.Job
			if tt.rawPayload != "" {
				j = job(t, typ, nil)
				j.Payload = []byte(tt.rawPayload)
			} else {
				j = job(t, typ, tt.payload(prefix))
			}
			_, err := r.Run(t.Context(), j, nil)
			if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run: %v (permanent %v), want a permanent error with %q", err, IsPermanent(err), tt.wantErr)
			}
			if msg := err.Error(); strings.Contains(msg, "sig=") || strings.Contains(msg, "http") {
				t.Errorf("error shows a URL: %s", msg)
			}
			left := listKeys(t, store, prefix)
			if tt.wantGone && len(left) != 0 {
				t.Errorf("objects left after a rejected upload: %v", left)
			}
			if !tt.wantGone && tt.file != "" && !slices.Contains(left, objstore.SourceFile) {
				t.Errorf("source deleted although DeleteRejected is not set: %v", left)
			}
		})
	}
}

func TestClip(t *testing.T) {
	src := mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 10, Audio: true})
	store := newStore(t)
	r := newRunner(t, store)
	from := assetPrefix(t, "ast_long")
	putFile(t, store, from+objstore.SourceFile, src)

	for _, tt := range []struct {
		name      string
		reencode  bool
		tolerance float64
		start     float64
	}{
		{"copy", false, 2, 2}, // one GOP
		{"copy mid-GOP", false, 2, 3},
		{"reencode", true, 0.1, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prefix := assetPrefix(t, "ast_clip_"+strings.ReplaceAll(tt.name, " ", "_"))
			var rec recorder
			res, err := r.Run(t.Context(), job(t, protocol.JobClip, protocol.ClipJob{
				SourceKey: from + objstore.SourceFile, Prefix: prefix, Start: tt.start, End: 7, Reencode: tt.reencode,
			}), rec.add)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			rec.check(t)
			want := 7 - tt.start
			if math.Abs(res.Duration-want) > tt.tolerance {
				t.Errorf("clip [%v, 7) lasts %v s, want %v ± %v", tt.start, res.Duration, want, tt.tolerance)
			}
			cut := filepath.Join(store.Dir(), filepath.FromSlash(prefix+objstore.SourceFile))
			if d := probeDuration(t, cut); math.Abs(d-want) > tt.tolerance {
				t.Errorf("stored clip lasts %v s", d)
			}
			if res.SourceKey != prefix+objstore.SourceFile || res.SHA256 == "" || res.Size <= 0 {
				t.Errorf("clip source %q %d %q", res.SourceKey, res.Size, res.SHA256)
			}
			checkAsset(t, store, prefix, res, res.Duration, []string{"180p"}, true)
		})
	}

	for _, tt := range []struct {
		name       string
		start, end float64
		prefix     string
		want       string
	}{
		{"negative start", -1, 3, "", "want 0 <= start < end"},
		{"empty", 3, 3, "", "want 0 <= start < end"},
		{"past the end", 8, 12, "", "outside the source"},
		{"after the end", 10.2, 10.4, "", "outside the source"},
		{"onto its own source", 1, 2, from, "overwrite its own source"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prefix := tt.prefix
			if prefix == "" {
				prefix = assetPrefix(t, "ast_bad_clip")
			}
			_, err := r.Run(t.Context(), job(t, protocol.JobClip, protocol.ClipJob{
				SourceKey: from + objstore.SourceFile, Prefix: prefix, Start: tt.start, End: tt.end,
			}), nil)
			if !IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run: %v, want a permanent error with %q", err, tt.want)
			}
		})
	}
}

// TestCancel cancels a job during its transcode: Run returns promptly
// with the context's error, and ffmpeg is gone.
func TestCancel(t *testing.T) {
	src := mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 60, Audio: true})
	store := newStore(t)
	r := newRunner(t, store)
	prefix := assetPrefix(t, "ast_cancel")
	putFile(t, store, prefix+objstore.SourceFile, src)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var rec recorder
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, job(t, protocol.JobVOD, protocol.VODJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix}), rec.add)
		done <- err
	}()

	// Wait until the transcode is under way: progress past the probe.
	var pids []int
	testutil.Eventually(t, 30*time.Second, "the transcode to be under way", func() bool {
		if p, ok := rec.last(); ok && p.Percent > 2 {
			pids = r.PIDs()
		}
		return len(pids) > 0
	})
	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v, want context.Canceled", err)
		}
		t.Logf("Run returned %v after cancel", time.Since(cancelled).Round(time.Millisecond))
	case <-time.After(time.Second):
		t.Fatal("Run did not return within 1 s of cancel")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("ffmpeg pid %d still exists after Run returned (kill 0: %v)", pid, err)
		}
	}
	if left := r.PIDs(); len(left) != 0 {
		t.Errorf("PIDs after cancel: %v", left)
	}
	if entries, _ := os.ReadDir(r.workDir); len(entries) != 0 {
		t.Errorf("work dir not cleaned: %v", entries)
	}
}

// TestJobTimeout stops a job at its TimeoutMS with an error that is not
// permanent (the control plane retries).
func TestJobTimeout(t *testing.T) {
	src := mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 60, Audio: true})
	store := newStore(t)
	r := newRunner(t, store)
	prefix := assetPrefix(t, "ast_timeout")
	putFile(t, store, prefix+objstore.SourceFile, src)
	j := job(t, protocol.JobVOD, protocol.VODJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix})
	j.TimeoutMS = 700
	start := time.Now()
	_, err := r.Run(t.Context(), j, nil)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Run: %v, want a retryable timeout", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Run took %v with a 700 ms timeout", took)
	}
}

func TestThumbnail(t *testing.T) {
	src := mediatest.File(t, mediatest.Spec{Width: 640, Height: 360, Seconds: 8, Audio: true})
	store := newStore(t)
	r := newRunner(t, store)
	key := assetPrefix(t, "ast_thumb") + objstore.SourceFile
	putFile(t, store, key, src)
	url, err := store.PresignGet(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name         string
		input        string
		at           float64
		width        int
		wantW, wantH int
	}{
		{"url default width", url, 3.5, 0, 640, 360},
		{"url narrow", url, 7.9, 160, 160, 90},
		{"never upscaled", url, 0, 1280, 640, 360},
		{"path", src, 5, 320, 320, 180},
	} {
		t.Run(tt.name, func(t *testing.T) {
			jpg, err := r.Thumbnail(t.Context(), tt.input, tt.at, tt.width)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(jpg, []byte{0xFF, 0xD8}) {
				t.Fatalf("not a JPEG: % x", jpg[:min(len(jpg), 8)])
			}
			f := filepath.Join(t.TempDir(), "t.jpg")
			if err := os.WriteFile(f, jpg, 0o644); err != nil {
				t.Fatal(err)
			}
			if w, h := probeSize(t, f); w != tt.wantW || h != tt.wantH {
				t.Errorf("thumbnail %dx%d, want %dx%d", w, h, tt.wantW, tt.wantH)
			}
		})
	}

	if _, err := r.Thumbnail(t.Context(), url, 60, 0); !errors.Is(err, ErrNoFrame) {
		t.Errorf("thumbnail past the end: %v, want ErrNoFrame", err)
	}

	// Neither the error nor ffmpeg's stderr, logged at debug, shows the
	// presigned URL of an object that is not there.
	var logs testutil.SyncBuffer
	debug, err := NewRunner(Config{Store: store, WorkDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer debug.Close()
	missing, err := store.PresignGet(t.Context(), assetPrefix(t, "ast_none")+objstore.SourceFile, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = debug.Thumbnail(t.Context(), missing, 1, 0)
	if err == nil || strings.Contains(err.Error(), "sig=") || strings.Contains(err.Error(), "http") {
		t.Errorf("thumbnail of a missing object: %v, want an error without the URL", err)
	}
	if !strings.Contains(err.Error(), "404") {
		t.Errorf("thumbnail of a missing object: %v, want ffmpeg's reason", err)
	}
	if out := logs.String(); !strings.Contains(out, "ffmpeg stderr") || strings.Contains(out, "sig=") {
		t.Errorf("debug log shows a signature or no stderr:\n%s", out)
	}
}
