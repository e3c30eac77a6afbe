package mediajobs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/livestreams/livestreams/protocol"
)

// variant is one #EXT-X-STREAM-INF entry of a multivariant playlist.
type variant struct {
	URI           string
	Bandwidth     int
	Width, Height int
}

// maxPlaylistLine bounds one playlist line; longer ones are an error.
const maxPlaylistLine = 64 << 10

// parseMaster reads the variants of a multivariant playlist, in order.
func parseMaster(data []byte) ([]variant, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxPlaylistLine)
	var (
		out     []variant
		pending *variant
		first   = true
	)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			if line != "#EXTM3U" {
				return nil, errors.New("playlist does not start with #EXTM3U")
			}
			first = false
			continue
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			v, err := parseStreamInf(strings.TrimPrefix(line, "#EXT-X-STREAM-INF:"))
			if err != nil {
				return nil, err
			}
			pending = &v
		case strings.HasPrefix(line, "#"):
		case pending != nil:
			pending.URI = line
			out = append(out, *pending)
			pending = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read playlist: %w", err)
	}
	if first {
		return nil, errors.New("playlist is empty")
	}
	if pending != nil {
		return nil, errors.New("#EXT-X-STREAM-INF without a URI")
	}
	return out, nil
}

func parseStreamInf(attrs string) (variant, error) {
	var v variant
	for _, a := range splitAttributes(attrs) {
		name, value, _ := strings.Cut(a, "=")
		switch name {
		case "BANDWIDTH":
			n, err := strconv.Atoi(value)
			if err != nil || n <= 0 {
				return v, fmt.Errorf("EXT-X-STREAM-INF: BANDWIDTH %q", value)
			}
			v.Bandwidth = n
		case "RESOLUTION":
			w, h, ok := strings.Cut(value, "x")
			wi, err1 := strconv.Atoi(w)
			hi, err2 := strconv.Atoi(h)
			if !ok || err1 != nil || err2 != nil || wi <= 0 || hi <= 0 || wi > maxDimension || hi > maxDimension {
				return v, fmt.Errorf("EXT-X-STREAM-INF: RESOLUTION %q", value)
			}
			v.Width, v.Height = wi, hi
		}
	}
	if v.Bandwidth == 0 {
		return v, errors.New("EXT-X-STREAM-INF without BANDWIDTH")
	}
	return v, nil
}

// splitAttributes splits an attribute list at the commas that are not
// inside a quoted string (CODECS="avc1.4d401f,mp4a.40.2").
func splitAttributes(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// readLadder reads what ffmpeg wrote to dir: the renditions of
// master.m3u8, each checked to be a finished VOD playlist
// (#EXT-X-PLAYLIST-TYPE:VOD and #EXT-X-ENDLIST, so players can seek).
func readLadder(dir string) ([]protocol.Rendition, error) {
	data, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	if err != nil {
		return nil, fmt.Errorf("read master playlist: %w", err)
	}
	variants, err := parseMaster(data)
	if err != nil {
		return nil, fmt.Errorf("master playlist: %w", err)
	}
	if len(variants) == 0 {
		return nil, errors.New("master playlist lists no renditions")
	}
	out := make([]protocol.Rendition, 0, len(variants))
	for _, v := range variants {
		name, file := path.Split(v.URI)
		name = strings.TrimSuffix(name, "/")
		if file != "index.m3u8" || name == "" || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			return nil, fmt.Errorf("master playlist: unexpected rendition URI %q", v.URI)
		}
		media, err := os.ReadFile(filepath.Join(dir, name, file))
		if err != nil {
			return nil, fmt.Errorf("rendition %s: %w", name, err)
		}
		if !isFinishedVOD(media) {
			return nil, fmt.Errorf("rendition %s: playlist is not a finished VOD playlist", name)
		}
		out = append(out, protocol.Rendition{Name: name, Width: v.Width, Height: v.Height, Bandwidth: v.Bandwidth})
	}
	return out, nil
}

func isFinishedVOD(playlist []byte) bool {
	var vod, end bool
	for line := range strings.Lines(string(playlist)) {
		switch strings.TrimSpace(line) {
		case "#EXT-X-PLAYLIST-TYPE:VOD":
			vod = true
		case "#EXT-X-ENDLIST":
			end = true
		}
	}
	return vod && end
}
