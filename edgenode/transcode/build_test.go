package transcode

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var hd = Source{Width: 1280, Height: 720, FrameRate: 30, HasAudio: true, HasVideo: true}

func params(mod func(*Params)) Params {
	p := Params{Input: "pipe:0", InputFormat: "flv", Source: hd, Mode: Live, OutDir: "/hls/abc", Progress: true}
	if mod != nil {
		mod(&p)
	}
	return p
}

func build(t *testing.T, p Params) []string {
	t.Helper()
	args, err := Build(p)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return args
}

// flagValues returns the value after every occurrence of flag.
func flagValues(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args)-1; i++ {
		if args[i] == flag {
			out = append(out, args[i+1])
		}
	}
	return out
}

// flagValue returns the value after the only occurrence of flag.
func flagValue(t *testing.T, args []string, flag string) string {
	t.Helper()
	v := flagValues(args, flag)
	if len(v) != 1 {
		t.Fatalf("%s occurs %d times in %q", flag, len(v), args)
	}
	return v[0]
}

func has(args []string, flag string) bool { return slices.Contains(args, flag) }

func TestBuildDefaultLive(t *testing.T) {
	args := build(t, params(nil))
	want := []string{
		"-hide_banner", "-loglevel", "warning", "-nostdin", "-y",
		"-progress", "pipe:1", "-nostats",
		"-fflags", "+genpts", "-f", "flv", "-i", "pipe:0",
		"-filter_complex", "[0:v]split=3[v0][v1][v2]" +
			";[v0]scale=w=1280:h=720,setsar=1[v0o]" +
			";[v1]scale=w=854:h=480,setsar=1[v1o]" +
			";[v2]scale=w=640:h=360,setsar=1[v2o]",
		"-map", "[v0o]", "-map", "0:a:0", "-map", "[v1o]", "-map", "0:a:0", "-map", "[v2o]", "-map", "0:a:0",
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
		"-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)",
		"-b:v:0", "3000k", "-maxrate:v:0", "3210k", "-bufsize:v:0", "4500k",
		"-b:v:1", "1400k", "-maxrate:v:1", "1498k", "-bufsize:v:1", "2100k",
		"-b:v:2", "800k", "-maxrate:v:2", "856k", "-bufsize:v:2", "1200k",
		"-c:a", "aac", "-ar", "48000", "-ac", "2", "-b:a:0", "128k", "-b:a:1", "96k", "-b:a:2", "64k",
		"-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
		"-hls_list_size", "150", "-hls_flags", "independent_segments+temp_file",
		"-hls_segment_filename", "/hls/abc/%v/seg_%05d.m4s", "-master_pl_name", "master.m3u8",
		"-var_stream_map", "v:0,a:0,name:720p v:1,a:1,name:480p v:2,a:2,name:360p",
		"/hls/abc/%v/index.m3u8",
	}
	if !slices.Equal(args, want) {
		t.Fatalf("args:\n%q\nwant:\n%q", args, want)
	}
}

func TestBuildLadder(t *testing.T) {
	tests := []struct {
		name      string
		src       Source
		ladder    []Rung
		wantNames string // var_stream_map names, in order
		wantScale []string
		wantVideo []string // -b:v:i values
	}{
		{"1080p gets the whole ladder", Source{Width: 1920, Height: 1080, HasVideo: true}, nil,
			"720p 480p 360p", []string{"w=1280:h=720", "w=854:h=480", "w=640:h=360"}, []string{"3000k", "1400k", "800k"}},
		{"720p gets 854x480, not ffmpeg's 852", Source{Width: 1280, Height: 720, HasVideo: true}, nil,
			"720p 480p 360p", []string{"w=1280:h=720", "w=854:h=480", "w=640:h=360"}, nil},
		{"480p never upscales", Source{Width: 854, Height: 480, HasVideo: true}, nil,
			"480p 360p", []string{"w=854:h=480", "w=640:h=360"}, []string{"1400k", "800k"}},
		{"4:3 640x480", Source{Width: 640, Height: 480, HasVideo: true}, nil,
			"480p 360p", []string{"w=640:h=480", "w=480:h=360"}, nil},
		{"between rungs", Source{Width: 1000, Height: 562, HasVideo: true}, nil,
			"480p 360p", nil, nil},
		{"360p gets one rung", Source{Width: 640, Height: 360, HasVideo: true}, nil,
			"360p", []string{"w=640:h=360"}, []string{"800k"}},
		{"portrait 720x1280 fits every box", Source{Width: 720, Height: 1280, HasVideo: true}, nil,
			"720p 480p 360p", []string{"w=406:h=720", "w=270:h=480", "w=202:h=360"}, nil},
		{"tiny source gets its own size", Source{Width: 320, Height: 240, HasVideo: true}, nil,
			"240p", []string{"w=320:h=240"}, []string{"266k"}},
		{"odd tiny source is made even", Source{Width: 321, Height: 181, HasVideo: true}, nil,
			"180p", []string{"w=320:h=180"}, []string{"200k"}},
		{"very tiny source keeps a floor bitrate", Source{Width: 16, Height: 16, HasVideo: true}, nil,
			"16p", []string{"w=16:h=16"}, []string{"100k"}},
		{"custom ladder is sorted tallest first", Source{Width: 1920, Height: 1080, HasVideo: true},
			[]Rung{{Name: "low", Width: 426, Height: 240, VideoKbps: 400}, {Name: "full", Width: 1920, Height: 1080, VideoKbps: 6000}},
			"full low", []string{"w=1920:h=1080", "w=426:h=240"}, []string{"6000k", "400k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := build(t, params(func(p *Params) { p.Source, p.Ladder = tc.src, tc.ladder }))
			var names []string
			for _, v := range strings.Fields(flagValue(t, args, "-var_stream_map")) {
				names = append(names, v[strings.LastIndex(v, ":")+1:])
			}
			if got := strings.Join(names, " "); got != tc.wantNames {
				t.Fatalf("rungs %q, want %q", got, tc.wantNames)
			}
			graph := flagValue(t, args, "-filter_complex")
			n := len(names)
			if !strings.HasPrefix(graph, "[0:v]split="+itoa(n)) || strings.Count(graph, "scale=") != n {
				t.Fatalf("graph %q does not split into %d scales", graph, n)
			}
			for i, s := range tc.wantScale {
				if !strings.Contains(graph, "[v"+itoa(i)+"]scale="+s+",") {
					t.Errorf("graph %q lacks rung %d scale %s", graph, i, s)
				}
			}
			maps := flagValues(args, "-map")
			if len(maps) != n {
				t.Errorf("maps %q, want %d (no audio)", maps, n)
			}
			for i, v := range tc.wantVideo {
				if got := flagValue(t, args, "-b:v:"+itoa(i)); got != v {
					t.Errorf("-b:v:%d = %s, want %s", i, got, v)
				}
			}
			if has(args, "-b:v:"+itoa(n)) {
				t.Errorf("a bitrate for a rung that does not exist: %q", args)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestBuildKeyframes(t *testing.T) {
	tests := []struct {
		fps      float64
		latency  Latency
		gop, seg string
	}{
		{30, Standard, "60", "2"},
		{30, "", "60", "2"},
		{29.97, Standard, "60", "2"},
		{23.976, Standard, "48", "2"},
		{25, Standard, "50", "2"},
		{59.94, Standard, "120", "2"},
		{0, Standard, "60", "2"},
		{-5, Standard, "60", "2"},
		{1e9, Standard, "240", "2"},
		{0.2, Standard, "2", "2"},
		{30, Low, "30", "1"},
		{60, Low, "60", "1"},
	}
	for _, tc := range tests {
		args := build(t, params(func(p *Params) { p.Source.FrameRate, p.Latency = tc.fps, tc.latency }))
		if g, k := flagValue(t, args, "-g"), flagValue(t, args, "-keyint_min"); g != tc.gop || k != tc.gop {
			t.Errorf("fps %v %q: -g %s -keyint_min %s, want %s", tc.fps, tc.latency, g, k, tc.gop)
		}
		if got := flagValue(t, args, "-hls_time"); got != tc.seg {
			t.Errorf("fps %v %q: -hls_time %s, want %s", tc.fps, tc.latency, got, tc.seg)
		}
		if got, want := flagValue(t, args, "-force_key_frames"), "expr:gte(t,n_forced*"+tc.seg+")"; got != want {
			t.Errorf("-force_key_frames %s, want %s", got, want)
		}
		if got := flagValue(t, args, "-sc_threshold"); got != "0" {
			t.Errorf("-sc_threshold %s", got)
		}
		lowTune := slices.Equal(flagValues(args, "-tune"), []string{"zerolatency"})
		if lowTune != (tc.latency == Low) || (!lowTune && has(args, "-tune")) {
			t.Errorf("latency %q: -tune %q", tc.latency, flagValues(args, "-tune"))
		}
	}
}

func TestBuildModes(t *testing.T) {
	live := build(t, params(nil))
	vod := build(t, params(func(p *Params) { p.Mode, p.Input, p.InputFormat = VOD, "/rec/a.mp4", "" }))
	if has(live, "-hls_playlist_type") {
		t.Errorf("live playlist has a type (a sliding window has none): %q", live)
	}
	if has(vod, "-hls_list_size") {
		t.Errorf("vod playlist has a list size: %q", vod)
	}
	if got := flagValue(t, live, "-hls_flags"); got != "independent_segments+temp_file" {
		t.Errorf("live hls_flags %s", got)
	}
	if got := flagValue(t, vod, "-hls_playlist_type"); got != "vod" {
		t.Errorf("vod playlist type %s", got)
	}
	if got := flagValue(t, vod, "-hls_flags"); got != "independent_segments" {
		t.Errorf("vod hls_flags %s", got)
	}
	if got := flagValue(t, vod, "-preset"); got != "medium" {
		t.Errorf("vod preset %s", got)
	}
	if has(vod, "-fflags") || has(vod, "-re") || has(live, "-re") {
		t.Errorf("unexpected input flags: live %q vod %q", live, vod)
	}
	// Without InputFormat ffmpeg probes: the only -f is the output's.
	if got := flagValues(vod, "-f"); !slices.Equal(got, []string{"hls"}) {
		t.Errorf("vod -f %q", got)
	}
	if i := slices.Index(vod, "-i"); vod[i+1] != "/rec/a.mp4" {
		t.Errorf("vod input %q", vod[i+1])
	}
	// -f flv must be an input option: right before -i.
	if i := slices.Index(live, "-i"); live[i-2] != "-f" || live[i-1] != "flv" {
		t.Errorf("input format not before -i: %q", live)
	}
}

func TestBuildWindow(t *testing.T) {
	for _, tc := range []struct {
		window  time.Duration
		latency Latency
		want    string
	}{
		{0, Standard, "150"},             // 5 min of 2 s segments
		{0, Low, "300"},                  // 5 min of 1 s segments
		{6 * time.Second, Low, "6"},      // the brief's short window
		{6 * time.Second, Standard, "3"}, // 3 segments of 2 s
		{7 * time.Second, Standard, "4"}, // rounded up to whole segments
		{time.Second, Standard, "3"},     // never fewer than 3 segments
		{time.Hour, Standard, "1800"},    // 1 h of 2 s segments
		{6 * time.Hour, Low, "21600"},    // the largest window
		{24 * time.Hour, Low, "21600"},   // capped at MaxWindow
		{24 * time.Hour, Standard, "10800"},
	} {
		args := build(t, params(func(p *Params) { p.Window, p.Latency = tc.window, tc.latency }))
		if got := flagValue(t, args, "-hls_list_size"); got != tc.want {
			t.Errorf("window %v latency %s: -hls_list_size %s, want %s", tc.window, tc.latency, got, tc.want)
		}
		if has(args, "-hls_playlist_type") || strings.Contains(flagValue(t, args, "-hls_flags"), "delete_segments") {
			t.Errorf("window %v: %q", tc.window, args)
		}
	}
	// VOD lists everything, whatever the window says.
	vod := build(t, params(func(p *Params) { p.Mode, p.Window = VOD, time.Minute }))
	if has(vod, "-hls_list_size") || flagValue(t, vod, "-hls_playlist_type") != "vod" {
		t.Errorf("vod with a window: %q", vod)
	}
	if _, err := Build(params(func(p *Params) { p.Window = -time.Second })); err == nil {
		t.Error("negative window accepted")
	}
}

func TestBuildNoAudio(t *testing.T) {
	args := build(t, params(func(p *Params) { p.Source.HasAudio = false }))
	for _, a := range args {
		if strings.Contains(a, "0:a") || strings.HasPrefix(a, "-b:a") || a == "-c:a" || a == "-ar" {
			t.Errorf("audio argument %q in %q", a, args)
		}
	}
	if got := flagValue(t, args, "-var_stream_map"); got != "v:0,name:720p v:1,name:480p v:2,name:360p" {
		t.Errorf("var_stream_map %q", got)
	}
	if got := flagValues(args, "-map"); !slices.Equal(got, []string{"[v0o]", "[v1o]", "[v2o]"}) {
		t.Errorf("maps %q", got)
	}
}

func TestBuildRecording(t *testing.T) {
	args := build(t, params(func(p *Params) { p.RecordPath = "/rec/s1.mp4" }))
	hlsOut := slices.Index(args, "/hls/abc/%v/index.m3u8")
	if hlsOut < 0 || args[len(args)-1] != "/rec/s1.mp4" {
		t.Fatalf("outputs missing or misordered: %q", args)
	}
	rec := args[hlsOut+1:]
	want := []string{"-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "mp4",
		"-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "2000000", "/rec/s1.mp4"}
	if !slices.Equal(rec, want) {
		t.Fatalf("recording output %q, want %q", rec, want)
	}
	// The HLS output's options all come before its path.
	for _, flag := range []string{"-var_stream_map", "-c:v", "-filter_complex"} {
		if i := slices.Index(args, flag); i > hlsOut {
			t.Errorf("%s after the HLS output", flag)
		}
	}

	// From MPEG-TS, AAC loses its ADTS headers on the way into MP4.
	ts := build(t, params(func(p *Params) { p.RecordPath, p.InputFormat = "/rec/s1.mp4", "mpegts" }))
	if i := slices.Index(ts, "-bsf:a"); i < 0 || ts[i+1] != "aac_adtstoasc" || i < slices.Index(ts, "/hls/abc/%v/index.m3u8") {
		t.Errorf("recording from mpegts without aac_adtstoasc on its output: %q", ts)
	}

	// Opus (WHIP's audio, in MPEG-TS) copies into MP4 as it is: the
	// filter would refuse it. Without audio there is nothing to filter.
	for name, src := range map[string]Source{"opus": {Width: 640, Height: 360, HasVideo: true, HasAudio: true, AudioCodec: "opus"},
		"no audio": {Width: 640, Height: 360, HasVideo: true}} {
		opus := build(t, params(func(p *Params) { p.RecordPath, p.InputFormat, p.Source = "/rec/s1.mp4", "mpegts", src }))
		if has(opus, "-bsf:a") {
			t.Errorf("%s: recording from mpegts with an audio filter: %q", name, opus)
		}
	}
	aac := build(t, params(func(p *Params) {
		p.RecordPath, p.InputFormat = "/rec/s1.mp4", "mpegts"
		p.Source.AudioCodec = "aac"
	}))
	if flagValue(t, aac, "-bsf:a") != "aac_adtstoasc" {
		t.Errorf("aac from mpegts without aac_adtstoasc: %q", aac)
	}

	// A live MPEG-TS input is analyzed for 1 s, not ffmpeg's 5 (that
	// delay would stay in every segment); FLV and VOD inputs keep the
	// default.
	if i := slices.Index(ts, "-analyzeduration"); i < 0 || ts[i+1] != "1000000" || i > slices.Index(ts, "-i") {
		t.Errorf("live mpegts input without -analyzeduration 1000000 before -i: %q", ts)
	}
	if has(build(t, params(nil)), "-analyzeduration") || has(build(t, params(func(p *Params) { p.InputFormat, p.Mode = "mpegts", VOD })), "-analyzeduration") {
		t.Error("-analyzeduration on an flv or VOD input")
	}

	without := build(t, params(nil))
	if has(without, "copy") || has(without, "mp4") {
		t.Errorf("recording output without RecordPath: %q", without)
	}
}

func TestBuildPaths(t *testing.T) {
	tests := []struct{ out, rec, wantSeg, wantRec string }{
		{"/hls/x/", "/r/a.mp4", "/hls/x/%v/seg_%05d.m4s", "/r/a.mp4"},
		{"hls/x", "a:b.mp4", "./hls/x/%v/seg_%05d.m4s", "./a:b.mp4"},
		{"./hls", "./rec/../a.mp4", "./hls/%v/seg_%05d.m4s", "./a.mp4"},
		{"../hls", "../a.mp4", "../hls/%v/seg_%05d.m4s", "../a.mp4"},
	}
	for _, tc := range tests {
		args := build(t, params(func(p *Params) { p.OutDir, p.RecordPath = tc.out, tc.rec }))
		if got := flagValue(t, args, "-hls_segment_filename"); got != tc.wantSeg {
			t.Errorf("OutDir %q: segments %q, want %q", tc.out, got, tc.wantSeg)
		}
		if got := args[len(args)-1]; got != tc.wantRec {
			t.Errorf("RecordPath %q: %q, want %q", tc.rec, got, tc.wantRec)
		}
	}
}

func TestBuildProgressFlag(t *testing.T) {
	args := build(t, params(func(p *Params) { p.Progress = false }))
	if has(args, "-progress") || has(args, "-nostats") {
		t.Errorf("progress flags without Progress: %q", args)
	}
	for _, flag := range []string{"-nostdin", "-y", "-hide_banner"} {
		if !has(args, flag) {
			t.Errorf("missing %s", flag)
		}
	}
}

func TestBuildDoesNotChangeLadder(t *testing.T) {
	ladder := []Rung{{Name: "a", Width: 640, Height: 360, VideoKbps: 800}, {Name: "b", Width: 1280, Height: 720, VideoKbps: 3000}}
	orig := slices.Clone(ladder)
	args := build(t, params(func(p *Params) { p.Ladder = ladder }))
	if !slices.Equal(ladder, orig) {
		t.Fatalf("ladder changed: %+v", ladder)
	}
	// Derived values: maxrate 107 %, bufsize 150 %, audio 128k.
	for flag, want := range map[string]string{"-maxrate:v:0": "3210k", "-bufsize:v:0": "4500k", "-b:a:1": "128k"} {
		if got := flagValue(t, args, flag); got != want {
			t.Errorf("%s = %s, want %s", flag, got, want)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Params)
		want string
	}{
		{"no video", func(p *Params) { p.Source.HasVideo = false }, "no video"},
		{"zero width", func(p *Params) { p.Source.Width = 0 }, "must be positive"},
		{"negative height", func(p *Params) { p.Source.Height = -720 }, "must be positive"},
		{"too small", func(p *Params) { p.Source.Width, p.Source.Height = 1, 1 }, "too small"},
		{"empty out dir", func(p *Params) { p.OutDir = "" }, "output directory is empty"},
		{"percent in out dir", func(p *Params) { p.OutDir = "/hls/100%" }, "contains %"},
		{"bad latency", func(p *Params) { p.Latency = "ultra" }, `latency "ultra"`},
		{"bad mode", func(p *Params) { p.Mode = 7 }, "mode Mode(7)"},
		{"no input", func(p *Params) { p.Input = "" }, "input is empty"},
		{"empty ladder", func(p *Params) { p.Ladder = []Rung{} }, "no rungs"},
		{"bad rung name", func(p *Params) { p.Ladder = []Rung{{Name: "7 20p", Width: 1, Height: 1, VideoKbps: 1}} }, "name must be"},
		{"rung name with comma", func(p *Params) { p.Ladder = []Rung{{Name: "a,b", Width: 1, Height: 1, VideoKbps: 1}} }, "name must be"},
		{"rung path", func(p *Params) { p.Ladder = []Rung{{Name: "../x", Width: 1, Height: 1, VideoKbps: 1}} }, "name must be"},
		{"duplicate rung", func(p *Params) {
			p.Ladder = []Rung{{Name: "a", Width: 2, Height: 2, VideoKbps: 1}, {Name: "a", Width: 4, Height: 4, VideoKbps: 1}}
		}, "used twice"},
		{"rung without size", func(p *Params) { p.Ladder = []Rung{{Name: "a", VideoKbps: 1}} }, "size 0x0"},
		{"rung without bitrate", func(p *Params) { p.Ladder = []Rung{{Name: "a", Width: 2, Height: 2}} }, "bitrates must be positive"},
		{"maxrate below bitrate", func(p *Params) {
			p.Ladder = []Rung{{Name: "a", Width: 2, Height: 2, VideoKbps: 100, MaxrateKbps: 50}}
		}, "below the bitrate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args, err := Build(params(tc.mod))
			if err == nil {
				t.Fatalf("no error; args %q", args)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	// Every problem is reported at once.
	_, err := Build(Params{Latency: "x"})
	for _, want := range []string{"input", "no video", "size", "latency", "output directory"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestBuildTagNamesSegments(t *testing.T) {
	args := build(t, params(func(p *Params) { p.Tag = "ses_1a2b" }))
	if got := flagValue(t, args, "-hls_fmp4_init_filename"); got != "init_ses_1a2b_%v.mp4" {
		t.Errorf("init name %q", got)
	}
	if got := flagValue(t, args, "-hls_segment_filename"); !strings.HasSuffix(got, "/%v/seg_ses_1a2b_%05d.m4s") {
		t.Errorf("segment pattern %q", got)
	}
	if _, err := Build(params(func(p *Params) { p.Tag = "../x" })); err == nil {
		t.Error("a tag with a path in it was accepted")
	}
}

func TestBuildTagOneRung(t *testing.T) {
	args := build(t, params(func(p *Params) {
		p.Tag = "ses_1"
		p.Source = Source{Width: 640, Height: 360, HasVideo: true}
	}))
	if got := flagValue(t, args, "-hls_fmp4_init_filename"); got != "init_ses_1.mp4" {
		t.Errorf("one rung: init name %q, want no %%v (ffmpeg leaves it unexpanded)", got)
	}
}
