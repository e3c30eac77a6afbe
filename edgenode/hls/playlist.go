package hls

import (
	"bytes"
	"strings"
)

// RewritePlaylist returns the playlist src with query (URL-encoded, e.g.
// "token=…") added to the query string of every child URI: each URI line
// and each URI="…" attribute of a tag (#EXT-X-MAP, #EXT-X-MEDIA,
// #EXT-X-I-FRAME-STREAM-INF, #EXT-X-PART, #EXT-X-PRELOAD-HINT,
// #EXT-X-RENDITION-REPORT, #EXT-X-KEY, …). Everything else, line endings
// included, is copied byte for byte, so a playlist without URIs comes back
// unchanged. It is pure and never fails: input it does not understand is
// copied.
//
// Only relative references are rewritten (a path, a root-relative path or
// a query); absolute URLs (with a scheme such as https: or data:, or
// starting with "//") point somewhere else, and a token must not leak
// there.
//
// A parameter of the URI with the same name as one in query is replaced,
// not repeated, so rewriting is idempotent: rewriting the output again with
// the same query changes nothing, and with another token replaces the old
// one. Empty parameters ("a?&b") are dropped on the way.
//
// When query is empty src itself is returned.
func RewritePlaylist(src []byte, query string) []byte {
	if query == "" {
		return src
	}
	lines := bytes.Count(src, []byte{'\n'}) + 1
	out := make([]byte, 0, len(src)+lines*(len(query)+1))
	for len(src) > 0 {
		var line []byte
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i+1], src[i+1:]
		} else {
			line, src = src, nil
		}
		out = rewriteLine(out, line, query)
	}
	return out
}

// rewriteLine appends line (with its line ending) to out, rewritten.
func rewriteLine(out, line []byte, query string) []byte {
	end := len(line)
	if end > 0 && line[end-1] == '\n' {
		end--
	}
	start := 0
	for start < end && isBlank(line[start]) {
		start++
	}
	for end > start && isBlank(line[end-1]) {
		end--
	}
	content := line[start:end]
	switch {
	case len(content) == 0:
		return append(out, line...)
	case content[0] != '#':
		out = append(out, line[:start]...)
		out = appendURI(out, content, query)
		return append(out, line[end:]...)
	case bytes.HasPrefix(content, []byte("#EXT")) && !bytes.HasPrefix(content, []byte("#EXTINF:")):
		// A tag; #EXTINF's value is a duration and a free-form title, not
		// an attribute list.
		out = append(out, line[:start]...)
		out = rewriteAttributes(out, content, query)
		return append(out, line[end:]...)
	default:
		return append(out, line...) // a comment
	}
}

// isBlank reports whether c is whitespace around a line's content. A lone
// '\r' (not before '\n') counts, so that it never becomes a URI.
func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// rewriteAttributes appends the tag, with its URI="…" attributes
// rewritten. It walks the attribute list (RFC 8216 4.2) so that a quoted
// value that happens to contain `URI="` is not taken for an attribute; on
// a list it cannot parse it copies the rest unchanged.
func rewriteAttributes(out, tag []byte, query string) []byte {
	colon := bytes.IndexByte(tag, ':')
	if colon < 0 {
		return append(out, tag...)
	}
	copied := 0 // tag[:copied] is already in out
	for pos := colon + 1; pos < len(tag); {
		eq := pos
		for eq < len(tag) && tag[eq] != '=' && tag[eq] != ',' {
			eq++
		}
		if eq == len(tag) {
			break
		}
		if tag[eq] == ',' { // a name without a value: skip it
			pos = eq + 1
			continue
		}
		name := bytes.TrimSpace(tag[pos:eq])
		v := eq + 1
		if v < len(tag) && tag[v] == '"' {
			closing := bytes.IndexByte(tag[v+1:], '"')
			if closing < 0 {
				break
			}
			valStart, valEnd := v+1, v+1+closing
			if string(name) == "URI" {
				out = append(out, tag[copied:valStart]...)
				out = appendURI(out, tag[valStart:valEnd], query)
				copied = valEnd
			}
			pos = valEnd + 1
		} else {
			pos = v
			for pos < len(tag) && tag[pos] != ',' {
				pos++
			}
		}
		// Past the value: skip to the next attribute.
		for pos < len(tag) && tag[pos] != ',' {
			pos++
		}
		pos++
	}
	return append(out, tag[copied:]...)
}

// appendURI appends u with query added, unless u is empty or absolute.
func appendURI(out, u []byte, query string) []byte {
	if len(u) == 0 || isAbsoluteURI(u) {
		return append(out, u...)
	}
	base, frag := u, []byte(nil)
	if i := bytes.IndexByte(u, '#'); i >= 0 {
		base, frag = u[:i], u[i:]
	}
	path, params, _ := bytes.Cut(base, []byte{'?'})
	out = append(out, path...)
	out = append(out, '?')
	for len(params) > 0 {
		var p []byte
		if i := bytes.IndexByte(params, '&'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, nil
		}
		if len(p) == 0 || inQuery(p, query) {
			continue
		}
		out = append(out, p...)
		out = append(out, '&')
	}
	out = append(out, query...)
	return append(out, frag...)
}

// inQuery reports whether the name of parameter p is also the name of a
// parameter of query.
func inQuery(p []byte, query string) bool {
	name, _, _ := bytes.Cut(p, []byte{'='})
	for query != "" {
		var q string
		q, query, _ = strings.Cut(query, "&")
		qname, _, _ := strings.Cut(q, "=")
		if qname == string(name) {
			return true
		}
	}
	return false
}

// isAbsoluteURI reports whether u is a network-path reference ("//host/…")
// or has a scheme (RFC 3986 3.1: a letter, then letters, digits, '+', '-'
// or '.', then ':' before any '/', '?' or '#').
func isAbsoluteURI(u []byte) bool {
	if len(u) >= 2 && u[0] == '/' && u[1] == '/' {
		return true
	}
	if len(u) == 0 || !(u[0] >= 'a' && u[0] <= 'z' || u[0] >= 'A' && u[0] <= 'Z') {
		return false
	}
	for _, c := range u[1:] {
		switch {
		case c == ':':
			return true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '+', c == '-', c == '.':
		default:
			return false
		}
	}
	return false
}

// RewriteStoryboard returns a storyboard's WebVTT src with query added to
// each cue payload that is a relative image reference
// ("storyboard.jpg#xywh=0,0,160,90" becomes
// "storyboard.jpg?token=…#xywh=0,0,160,90"), so a player fetching the
// tiles of a signed asset carries the viewer's token. Headers, timings,
// NOTE blocks and anything that is not a single URI-shaped word are
// copied unchanged.
func RewriteStoryboard(src []byte, query string) []byte {
	if query == "" {
		return src
	}
	out := make([]byte, 0, len(src)+bytes.Count(src, []byte{'\n'})*(len(query)+1))
	for len(src) > 0 {
		var line []byte
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i+1], src[i+1:]
		} else {
			line, src = src, nil
		}
		content := bytes.TrimRight(line, "\r\n")
		if !cueImageRef(content) {
			out = append(out, line...)
			continue
		}
		out = appendURI(out, content, query)
		out = append(out, line[len(content):]...)
	}
	return out
}

// cueImageRef reports whether a WebVTT line is an image reference of a
// storyboard cue: one word naming a .jpg/.png/.webp, with or without a
// fragment, and not a header, timing or note.
func cueImageRef(l []byte) bool {
	if len(l) == 0 || bytes.ContainsAny(l, " \t") || bytes.Contains(l, []byte("-->")) || bytes.HasPrefix(l, []byte("WEBVTT")) {
		return false
	}
	base, _, _ := bytes.Cut(l, []byte{'#'})
	base, _, _ = bytes.Cut(base, []byte{'?'})
	return bytes.HasSuffix(base, []byte(".jpg")) || bytes.HasSuffix(base, []byte(".png")) || bytes.HasSuffix(base, []byte(".webp"))
}
