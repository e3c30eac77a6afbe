package transcode

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPipesOutput(t *testing.T) {
	p := Params{Input: "pipe:0", InputFormat: "flv", Mode: Live, Latency: Low, OutDir: "/hls", Tag: "s1", Pipes: true,
		Window: 6 * time.Second, RecordPath: "/rec.mp4",
		Source: Source{Width: 1280, Height: 720, FrameRate: 30, HasAudio: true, HasVideo: true, AudioCodec: "aac"}}
	args, err := Build(p)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(args, " ")
	if slices.Contains(args, "hls") || strings.Contains(joined, "-hls_") {
		t.Fatalf("piped output still uses the HLS muxer: %s", joined)
	}
	i := slices.Index(args, "tee")
	if i < 1 || args[i-1] != "-f" {
		t.Fatalf("no tee output: %s", joined)
	}
	slaves := strings.Split(args[i+1], "|")
	want := []string{
		`[select=\'v:0,a:0\':f=mp4:movflags=+frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets:frag_duration=1:flush_packets=1]pipe\:3`,
		`[select=\'v:1,a:1\':f=mp4:movflags=+frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets:frag_duration=1:flush_packets=1]pipe\:4`,
		`[select=\'v:2,a:2\':f=mp4:movflags=+frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets:frag_duration=1:flush_packets=1]pipe\:5`,
	}
	if !slices.Equal(slaves, want) {
		t.Fatalf("tee slaves\n%q\nwant\n%q", slaves, want)
	}
	if args[i-2] != "+global_header" || !strings.HasSuffix(joined, "/rec.mp4") {
		t.Fatalf("global headers or the recording missing: %s", joined)
	}

	plan, err := p.Packaging()
	if err != nil {
		t.Fatal(err)
	}
	if plan.Part != PartTarget || plan.Segment != time.Second || plan.Window != 6 || len(plan.Renditions) != 3 ||
		plan.Renditions[0] != (Rendition{Name: "720p", Bandwidth: (3210 + 128) * 1000}) {
		t.Fatalf("low plan %+v", plan)
	}

	// Standard latency: also a fragment per frame, for 1 s parts; no
	// audio, no a:N.
	p.Latency, p.Source.HasAudio = Standard, false
	args, err = Build(p)
	if err != nil {
		t.Fatal(err)
	}
	i = slices.Index(args, "tee")
	if s := strings.Split(args[i+1], "|")[0]; s != `[select=\'v:0\':f=mp4:movflags=+frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets:frag_duration=1:flush_packets=1]pipe\:3` {
		t.Fatalf("standard slave %s", s)
	}
	if plan, _ := p.Packaging(); plan.Part != StandardPartTarget || plan.Segment != 2*time.Second || plan.Window != 3 || plan.Renditions[0].Bandwidth != 3210000 {
		t.Fatalf("standard plan %+v", plan)
	}
	// VOD ignores Pipes.
	p.Mode = VOD
	if args, _ := Build(p); !slices.Contains(args, "hls") {
		t.Fatal("a VOD transcode lost its HLS output")
	}
}
