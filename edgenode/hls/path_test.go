package hls

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	ok := []struct {
		path, pid, name string
		kind            kind
	}{
		{"/hls/abc/master.m3u8", "abc", "master.m3u8", kindPlaylist},
		{"/hls/abc/720p.m3u8", "abc", "720p.m3u8", kindPlaylist},
		{"/hls/abc/480p/index.m3u8", "abc", "480p/index.m3u8", kindPlaylist},
		{"/hls/abc/720p/init_0.mp4", "abc", "720p/init_0.mp4", kindInit},
		{"/hls/abc/init.mp4", "abc", "init.mp4", kindInit},
		{"/hls/abc/720p/seg_00001.m4s", "abc", "720p/seg_00001.m4s", kindSegment},
		{"/hls/abc/seg-1.ts", "abc", "seg-1.ts", kindSegment},
		{"/hls/abc/subs/en.vtt", "abc", "subs/en.vtt", kindText},
		{"/hls/abc/thumb.jpg", "abc", "thumb.jpg", kindImage},
		{"/hls/A_b-9/x.y.m4s", "A_b-9", "x.y.m4s", kindSegment},
		{"/hls/" + strings.Repeat("p", 64) + "/master.m3u8", strings.Repeat("p", 64), "master.m3u8", kindPlaylist},
	}
	for _, tc := range ok {
		obj, good := parsePath(tc.path)
		if !good || obj.playbackID != tc.pid || obj.name != tc.name || obj.kind != tc.kind {
			t.Errorf("parsePath(%q) = %+v, %v; want %s %s %d", tc.path, obj, good, tc.pid, tc.name, tc.kind)
		}
	}

	bad := map[string]string{
		"no prefix":                "/abc/master.m3u8",
		"other prefix":             "/hlsx/abc/master.m3u8",
		"prefix only":              "/hls/",
		"no file":                  "/hls/abc",
		"empty file":               "/hls/abc/",
		"empty playback id":        "/hls//master.m3u8",
		"playback id too long":     "/hls/" + strings.Repeat("p", 65) + "/master.m3u8",
		"playback id with dot":     "/hls/a.b/master.m3u8",
		"playback id dot-dot":      "/hls/../master.m3u8",
		"dot-dot file":             "/hls/abc/..",
		"dot-dot dir":              "/hls/abc/../x.m3u8",
		"dot-dot nested":           "/hls/abc/720p/../../etc.m3u8",
		"dot dir":                  "/hls/abc/./master.m3u8",
		"two directories":          "/hls/abc/a/b/seg.m4s",
		"empty dir":                "/hls/abc//seg.m4s",
		"trailing slash":           "/hls/abc/720p/",
		"hidden file":              "/hls/abc/.master.m3u8",
		"hidden dir":               "/hls/abc/.git/x.m3u8",
		"tmp file":                 "/hls/abc/720p/index.m3u8.tmp",
		"segment tmp file":         "/hls/abc/720p/seg_00001.m4s.tmp",
		"unknown extension":        "/hls/abc/x.mp3",
		"no extension":             "/hls/abc/master",
		"upper-case extension":     "/hls/abc/MASTER.M3U8",
		"go file":                  "/hls/abc/origin.go",
		"backslash":                "/hls/abc/..\\x.m3u8",
		"backslash dir":            "/hls/abc/a\\b.m4s",
		"nul":                      "/hls/abc/x\x00.m3u8",
		"space":                    "/hls/abc/x y.m3u8",
		"percent":                  "/hls/abc/x%2e.m3u8",
		"colon":                    "/hls/abc/c:x.m3u8",
		"absolute after prefix":    "/hls//etc/passwd.m3u8",
		"non-ascii":                "/hls/abc/é.m3u8",
		"component too long":       "/hls/abc/" + strings.Repeat("s", 125) + ".m4s",
		"file only extension":      "/hls/abc/.m3u8",
		"playback id with newline": "/hls/a\nb/master.m3u8",
	}
	for name, p := range bad {
		if obj, good := parsePath(p); good {
			t.Errorf("%s: parsePath(%q) = %+v, want refused", name, p, obj)
		}
	}
}

func TestParsePathAllocates(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { parsePath("/hls/abc/720p/seg_00001.m4s") })
	if allocs != 0 {
		t.Errorf("parsePath allocates %.0f times", allocs)
	}
}

func FuzzParsePath(f *testing.F) {
	for _, p := range []string{"/hls/abc/master.m3u8", "/hls/abc/720p/seg_00001.m4s", "/hls/abc/../x.m3u8", "/hls/a/b/c/d.ts", "/hls/a/.x.jpg", "/hls/a/x.m4s.tmp"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		obj, ok := parsePath(p)
		if !ok {
			return
		}
		// Whatever is accepted stays inside the stream's directory, is at
		// most one level deep, is not hidden and has a served extension.
		if !filepath.IsLocal(obj.name) || strings.Count(obj.name, "/") > 1 || strings.Contains(obj.name, "\\") {
			t.Fatalf("%q accepted as %q", p, obj.name)
		}
		for _, c := range strings.Split(obj.name, "/") {
			if c == "" || c[0] == '.' {
				t.Fatalf("%q accepted with component %q", p, c)
			}
		}
		if !validPlaybackID(obj.playbackID) || !strings.HasSuffix(obj.name, obj.ext) || extKind(obj.ext) == 0 {
			t.Fatalf("%q accepted as %+v", p, obj)
		}
		if pathPrefix+obj.playbackID+"/"+obj.name != p {
			t.Fatalf("%q accepted as %+v", p, obj)
		}
	})
}
