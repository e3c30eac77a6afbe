package mediajobs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/livestreams/livestreams/protocol"
)

// ffmpegMaster is a master playlist as ffmpeg 5.1 writes it for two rungs.
const ffmpegMaster = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-STREAM-INF:BANDWIDTH=3440800,RESOLUTION=1280x720,CODECS="avc1.4d401f,mp4a.40.2"
720p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=903200,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
360p/index.m3u8

`

func TestParseMaster(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []variant
		wantErr string
	}{
		{name: "ffmpeg", in: ffmpegMaster, want: []variant{
			{URI: "720p/index.m3u8", Bandwidth: 3440800, Width: 1280, Height: 720},
			{URI: "360p/index.m3u8", Bandwidth: 903200, Width: 640, Height: 360},
		}},
		{name: "crlf, attributes in any order, no resolution", in: "#EXTM3U\r\n#EXT-X-STREAM-INF:CODECS=\"mp4a.40.2,avc1\",BANDWIDTH=100\r\n#comment\r\naudio/index.m3u8\r\n",
			want: []variant{{URI: "audio/index.m3u8", Bandwidth: 100}}},
		{name: "no variants", in: "#EXTM3U\n#EXT-X-VERSION:7\n", want: nil},
		{name: "not a playlist", in: "<html>", wantErr: "#EXTM3U"},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "no bandwidth", in: "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=2x2\na/index.m3u8\n", wantErr: "without BANDWIDTH"},
		{name: "bad resolution", in: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=2by2\na/index.m3u8\n", wantErr: "RESOLUTION"},
		{name: "no uri", in: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", wantErr: "without a URI"},
		{name: "line too long", in: "#EXTM3U\n" + strings.Repeat("x", maxPlaylistLine+1), wantErr: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMaster([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseMaster(f *testing.F) {
	f.Add([]byte(ffmpegMaster))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"a,b\nx\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=0x0\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vs, err := parseMaster(data)
		if err != nil {
			return
		}
		for _, v := range vs {
			if v.Bandwidth <= 0 || v.URI == "" || strings.HasPrefix(v.URI, "#") {
				t.Fatalf("variant %+v", v)
			}
			if v.Width < 0 || v.Height < 0 || v.Width > maxDimension || v.Height > maxDimension {
				t.Fatalf("variant size %dx%d", v.Width, v.Height)
			}
		}
	})
}

func TestReadLadder(t *testing.T) {
	const finished = "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.0,\nseg_00000.m4s\n#EXT-X-ENDLIST\n"
	write := func(t *testing.T, dir, name, body string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("finished", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "master.m3u8", ffmpegMaster)
		write(t, dir, "720p/index.m3u8", finished)
		write(t, dir, "360p/index.m3u8", finished)
		got, err := readLadder(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := []protocol.Rendition{{Name: "720p", Width: 1280, Height: 720, Bandwidth: 3440800}, {Name: "360p", Width: 640, Height: 360, Bandwidth: 903200}}
		if !slices.Equal(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	for _, tt := range []struct {
		name, master, media, want string
	}{
		{"event playlist", ffmpegMaster, strings.Replace(finished, "VOD", "EVENT", 1), "not a finished VOD"},
		{"no endlist", ffmpegMaster, strings.Replace(finished, "#EXT-X-ENDLIST\n", "", 1), "not a finished VOD"},
		{"uri outside", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../x/index.m3u8\n", finished, "unexpected rendition URI"},
		{"no renditions", "#EXTM3U\n", finished, "no renditions"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "master.m3u8", tt.master)
			write(t, dir, "720p/index.m3u8", tt.media)
			write(t, dir, "360p/index.m3u8", tt.media)
			if _, err := readLadder(dir); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
}
