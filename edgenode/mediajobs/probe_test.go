package mediajobs

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestParseProbe(t *testing.T) {
	tests := []struct {
		name         string
		file         string // in testdata
		json         string
		wantDuration float64
		wantW, wantH int // 0: no video
		wantFPS      float64
		wantAudio    bool
		wantTracks   int
	}{
		{name: "h264 aac", file: "probe_h264_aac.json", wantDuration: 10, wantW: 320, wantH: 180, wantFPS: 30, wantAudio: true, wantTracks: 2},
		{name: "fragmented recording", file: "probe_fragmented.json", wantDuration: 10.066667, wantW: 320, wantH: 180, wantFPS: 30, wantAudio: true, wantTracks: 2},
		// A phone held upright: stored 320x180, shown (and decoded by
		// ffmpeg) 180x320.
		{name: "rotated", file: "probe_rotated.json", wantDuration: 10, wantW: 180, wantH: 320, wantFPS: 30, wantAudio: true, wantTracks: 2},
		// An mp3's cover art is not video.
		{name: "cover art", file: "probe_cover_art.json", wantDuration: 3.030204, wantAudio: true, wantTracks: 1},
		{name: "empty", json: `{}`},
		{name: "ntsc rate and stream duration", json: `{"streams":[{"codec_type":"video","width":1920,"height":1080,"avg_frame_rate":"30000/1001","duration":"12.5"}],"format":{"duration":"N/A"}}`,
			wantDuration: 12.5, wantW: 1920, wantH: 1080, wantFPS: 30000.0 / 1001, wantTracks: 1},
		{name: "r_frame_rate when avg is unknown", json: `{"streams":[{"codec_type":"video","width":64,"height":64,"avg_frame_rate":"0/0","r_frame_rate":"25/1"}],"format":{"duration":"1"}}`,
			wantDuration: 1, wantW: 64, wantH: 64, wantFPS: 25, wantTracks: 1},
		{name: "absurd values", json: `{"streams":[{"codec_type":"video","width":-4,"height":99999,"avg_frame_rate":"1/0"},{"codec_type":"audio","channels":-2,"sample_rate":"x"}],"format":{"duration":"NaN"}}`,
			wantAudio: true, wantTracks: 2},
		{name: "subtitles and data ignored", json: `{"streams":[{"codec_type":"subtitle"},{"codec_type":"data"}],"format":{"duration":"5"}}`,
			wantDuration: 5},
		{name: "rotation tag", json: `{"streams":[{"codec_type":"video","width":640,"height":360,"tags":{"rotate":"270"}}]}`,
			wantW: 360, wantH: 640, wantTracks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.json)
			if tt.file != "" {
				var err error
				if data, err = os.ReadFile(filepath.Join("testdata", tt.file)); err != nil {
					t.Fatal(err)
				}
			}
			p, err := parseProbe(data)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(p.Duration-tt.wantDuration) > 1e-6 {
				t.Errorf("duration %v, want %v", p.Duration, tt.wantDuration)
			}
			switch {
			case tt.wantW == 0 && p.Video != nil:
				t.Errorf("video %+v, want none", *p.Video)
			case tt.wantW != 0 && p.Video == nil:
				t.Errorf("no video, want %dx%d", tt.wantW, tt.wantH)
			case p.Video != nil && (p.Video.Width != tt.wantW || p.Video.Height != tt.wantH || math.Abs(p.Video.FPS-tt.wantFPS) > 1e-6):
				t.Errorf("video %+v, want %dx%d at %v fps", *p.Video, tt.wantW, tt.wantH, tt.wantFPS)
			}
			if p.HasAudio != tt.wantAudio || len(p.Tracks) != tt.wantTracks {
				t.Errorf("audio %v, %d tracks; want %v, %d", p.HasAudio, len(p.Tracks), tt.wantAudio, tt.wantTracks)
			}
			if src := p.source(); src.HasVideo != (p.Video != nil) || src.HasAudio != p.HasAudio {
				t.Errorf("source %+v", src)
			}
		})
	}
	if _, err := parseProbe([]byte("Invalid data")); err == nil {
		t.Error("parseProbe of text: no error")
	}
}

func FuzzParseProbe(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "probe_*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"streams":[{"codec_type":"video","width":2,"height":2,"side_data_list":[{"rotation":-90}]}],"format":{"duration":"1e308"}}`))
	f.Add([]byte(`{"streams":[{"codec_type":"audio","sample_rate":"-1"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseProbe(data)
		if err != nil {
			return
		}
		if math.IsNaN(p.Duration) || p.Duration < 0 || p.Duration > maxDuration {
			t.Fatalf("duration %v", p.Duration)
		}
		if v := p.Video; v != nil {
			if v.Width <= 0 || v.Height <= 0 || v.Width > maxDimension || v.Height > maxDimension {
				t.Fatalf("video size %dx%d", v.Width, v.Height)
			}
			if math.IsNaN(v.FPS) || v.FPS < 0 || v.FPS > 1000 {
				t.Fatalf("fps %v", v.FPS)
			}
		}
		for _, tr := range p.Tracks {
			if tr.Channels < 0 || tr.SampleRate < 0 {
				t.Fatalf("track %+v", tr)
			}
		}
	})
}

func TestProbeReason(t *testing.T) {
	url := "http://127.0.0.1:4000/objects/orgs/o/assets/a/source.mp4?exp=1&sig=abc"
	red := &redactor{}
	red.add(url, "source")
	tests := []struct {
		input, stderr string
		want          string
		media         bool
	}{
		{"/tmp/x.txt", "file:/tmp/x.txt: Invalid data found when processing input\n", "Invalid data found when processing input", true},
		{"/tmp/x.mp4", "[mov,mp4 @ 0x1] moov atom not found\nfile:/tmp/x.mp4: Invalid data found when processing input", "Invalid data found when processing input", true},
		{url, url + ": Server returned 404 Not Found\n", "Server returned 404 Not Found", false},
		{url, "[tcp @ 0x1] Connection to tcp://127.0.0.1:4000 failed: Connection refused\n" + url + ": Connection refused", "Connection refused", false},
		{url, "[tls @ 0x1] error\nsomething about " + url + " went wrong", "something about source went wrong", true},
	}
	for _, tt := range tests {
		got := probeReason(tt.stderr, tt.input, red)
		if got != tt.want {
			t.Errorf("probeReason(%q) = %q, want %q", tt.stderr, got, tt.want)
		}
		if media := !isAccessError(got); media != tt.media {
			t.Errorf("%q: media problem %v, want %v", got, media, tt.media)
		}
	}
}

func TestParseRatio(t *testing.T) {
	for in, want := range map[string]float64{
		"30/1": 30, "30000/1001": 30000.0 / 1001, "25": 25, "0/0": 0, "1/0": 0, "": 0, "x/1": 0, "-30/1": 0, "5000/1": 0,
	} {
		if got := parseRatio(in); math.Abs(got-want) > 1e-9 {
			t.Errorf("parseRatio(%q) = %v, want %v", in, got, want)
		}
	}
}
