package hls

import "strings"

// pathPrefix is where the edge mounts the origin; ServeHTTP expects the
// full request path, not one with the prefix stripped.
const pathPrefix = "/hls/"

const (
	maxPlaybackIDLen = 64
	maxComponentLen  = 128
)

// kind is what a file extension says about an object.
type kind int

const (
	kindPlaylist kind = iota + 1
	kindInit          // fMP4 init segment
	kindSegment       // media segment (fMP4 or MPEG-TS)
	kindText          // WebVTT subtitles
	kindImage         // thumbnails, storyboards
)

// object is one file a request names: a playback id and a slash-separated
// name relative to the stream's directory.
type object struct {
	playbackID string
	name       string // "master.m3u8", "720p/seg_00001.m4s"
	ext        string // ".m4s"
	kind       kind
}

// parsePath validates the request path /hls/{playback_id}/{file} or
// /hls/{playback_id}/{variant}/{file}. It accepts only what ffmpeg's HLS
// muxer writes: a known extension, no hidden files, no "..", no more than
// one directory, and a small byte set that leaves out '/', '\\', NUL, '%'
// and anything a file system or a shell might read specially. It
// allocates nothing: the parts are slices of p.
func parsePath(p string) (object, bool) {
	rest, ok := strings.CutPrefix(p, pathPrefix)
	if !ok {
		return object{}, false
	}
	pid, name, ok := strings.Cut(rest, "/")
	if !ok || !validPlaybackID(pid) {
		return object{}, false
	}
	file := name
	if dir, f, ok := strings.Cut(name, "/"); ok {
		if !validComponent(dir) {
			return object{}, false
		}
		file = f // a second '/' in f fails validComponent below
	}
	if !validComponent(file) {
		return object{}, false
	}
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		return object{}, false
	}
	ext := file[dot:]
	k := extKind(ext)
	if k == 0 {
		return object{}, false
	}
	return object{playbackID: pid, name: name, ext: ext, kind: k}, true
}

// extKind maps the extensions the origin serves; anything else, including
// ffmpeg's *.tmp files, is not served.
func extKind(ext string) kind {
	switch ext {
	case ".m3u8":
		return kindPlaylist
	case ".mp4":
		return kindInit
	case ".m4s", ".ts":
		return kindSegment
	case ".vtt":
		return kindText
	case ".jpg":
		return kindImage
	}
	return 0
}

// validPlaybackID reports whether s is 1-64 letters, digits, '_' or '-'.
func validPlaybackID(s string) bool {
	if s == "" || len(s) > maxPlaybackIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return false
		}
	}
	return true
}

// validComponent reports whether s is one file or directory name of the
// shapes ffmpeg writes: 1-128 letters, digits, '_', '-' or '.', not
// starting with '.', so neither hidden files nor "." and "..".
func validComponent(s string) bool {
	if s == "" || len(s) > maxComponentLen || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !idByte(c) && c != '.' {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// SplitPath validates a request path /hls/{playback_id}/{file} (or with
// one variant directory) exactly as the origin does, and returns the
// playback id and the file's name relative to the stream's directory.
// Whatever sits in front of the origin (a relay filling a cache) uses it
// so that both agree on what is a valid object.
func SplitPath(p string) (playbackID, name string, playlist, ok bool) {
	o, ok := parsePath(p)
	return o.playbackID, o.name, o.kind == kindPlaylist, ok
}
