package captions

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
)

const silenceLog = `Input #0, wav, from 'audio.wav':
[silencedetect @ 0x55d0c8e0a6c0] silence_start: 0
[silencedetect @ 0x55d0c8e0a6c0] silence_end: 1.98 | silence_duration: 1.98
size=N/A time=00:00:14.36 bitrate=N/A speed=1.2e+03x
[silencedetect @ 0x55d0c8e0a6c0] silence_start: 3.43175
[silencedetect @ 0x55d0c8e0a6c0] silence_end: 6.4 | silence_duration: 2.96825
[silencedetect @ 0x55d0c8e0a6c0] silence_end: 7 | silence_duration: 1
[silencedetect @ 0x55d0c8e0a6c0] silence_start: garbage
[silencedetect @ 0x55d0c8e0a6c0] silence_start: 12.9
`

func TestParseSilences(t *testing.T) {
	got := ParseSilences([]byte(silenceLog), 14*time.Second)
	want := []Silence{{0, ms(1980)}, {ms(3432), ms(6400)}, {ms(12900), 14 * time.Second}}
	// 3.43175 s rounds to the microsecond.
	want[1].Start = 3431750 * time.Microsecond
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func FuzzParseSilences(f *testing.F) {
	f.Add([]byte(silenceLog), int64(14e9))
	f.Fuzz(func(t *testing.T, log []byte, total int64) {
		if total <= 0 {
			return
		}
		var last time.Duration
		for _, s := range ParseSilences(log, time.Duration(total)) {
			if s.Start < last || s.End <= s.Start || s.End > time.Duration(total) {
				t.Fatalf("silence %v after %s in [0, %d]", s, last, total)
			}
			last = s.End
		}
	})
}

func TestPlanChunks(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	cases := []struct {
		name     string
		total    time.Duration
		silences []Silence
		cuts     []time.Duration // where each chunk's owned part ends
	}{
		{"short", sec(20), nil, []time.Duration{sec(20)}},
		{"exactly one chunk", sec(30), nil, []time.Duration{sec(30)}},
		{"no silence: hard cuts", sec(70), nil, []time.Duration{sec(29.5), sec(58.5), sec(70)}},
		{"longest silence wins", sec(50), []Silence{{sec(12), sec(14)}, {sec(20), sec(20.4)}, {sec(25), sec(26)}}, []time.Duration{sec(13), sec(25.5), sec(50)}},
		{"silence too early", sec(40), []Silence{{sec(1), sec(5)}}, []time.Duration{sec(29.5), sec(40)}},
		{"silence beyond a chunk", sec(40), []Silence{{sec(29), sec(35)}}, []time.Duration{sec(29.5), sec(40)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spans := planChunks(c.total, c.silences, sec(30), sec(10), sec(1))
			var cuts []time.Duration
			for i, s := range spans {
				cuts = append(cuts, s.OwnEnd)
				if s.End-s.Start > sec(30) {
					t.Errorf("chunk %d lasts %s", i, s.End-s.Start)
				}
				if s.Start > s.OwnStart || s.End < s.OwnEnd {
					t.Errorf("chunk %d %+v does not hold its owned part", i, s)
				}
				if i > 0 && (s.OwnStart != spans[i-1].OwnEnd || spans[i-1].End-s.Start != sec(1)) {
					t.Errorf("chunk %d %+v does not follow %+v with 1s of overlap", i, s, spans[i-1])
				}
			}
			if spans[0].Start != 0 || spans[len(spans)-1].End != c.total {
				t.Errorf("chunks %+v do not cover [0, %s]", spans, c.total)
			}
			if !reflect.DeepEqual(cuts, c.cuts) {
				t.Errorf("cuts %v, want %v", cuts, c.cuts)
			}
		})
	}
	if spans := planChunks(0, nil, sec(30), sec(10), sec(1)); spans != nil {
		t.Errorf("empty audio: %v", spans)
	}
}

func TestMergeKeepsOwnedCuesInOrderWithoutDuplicates(t *testing.T) {
	s0 := span{Start: 0, End: ms(20500), OwnStart: 0, OwnEnd: ms(20000)}
	s1 := span{Start: ms(19500), End: ms(40000), OwnStart: ms(20000), OwnEnd: ms(40000)}
	c0 := []Cue{{ms(1000), ms(2000), "one"}, {ms(19000), ms(20400), "at the cut"}, {ms(20300), ms(20500), "cut off"}}
	c1 := []Cue{{ms(19500), ms(19800), "tail"}, {ms(19600), ms(20600), "At the cut!"}, {ms(20300), ms(21000), "cut of"}, {ms(30000), ms(31000), "two"}}
	got := merge([][]Cue{owned(c0, s0), owned(c1, s1)})
	want := []Cue{{ms(1000), ms(2000), "one"}, {ms(19000), ms(20300), "at the cut"}, {ms(20300), ms(21000), "cut of"}, {ms(30000), ms(31000), "two"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	// Two engines hearing the same word at the same time: one cue.
	got = merge([][]Cue{{{ms(0), ms(1000), "right"}}, {{ms(100), ms(1200), "Right."}}})
	if want := []Cue{{0, ms(1200), "right"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("duplicate: got %v, want %v", got, want)
	}
}

func TestWAVPartsAndInfo(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "tone.wav")
	// ffmpeg writes a LIST chunk before the data: the reader must walk.
	if msg, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:r=16000:d=3", "-ac", "1", "-c:a", "pcm_s16le", "-metadata", "title=x", src).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	f, info, err := openWAV(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if info.duration() != 3*time.Second {
		t.Errorf("duration %s, want 3s", info.duration())
	}
	part := filepath.Join(dir, "part.wav")
	if err := writeWAVPart(f, info, ms(500), ms(2250), part); err != nil {
		t.Fatal(err)
	}
	pf, pinfo, err := openWAV(part)
	if err != nil {
		t.Fatal(err)
	}
	pf.Close()
	if pinfo.duration() != ms(1750) {
		t.Errorf("part lasts %s, want 1.75s", pinfo.duration())
	}
	if d := wavDuration(t, part); d != ms(1750) {
		t.Errorf("ffprobe says the part lasts %s", d)
	}
	// A part past the end is cut at the end.
	if err := writeWAVPart(f, info, ms(2500), ms(9000), part); err != nil {
		t.Fatal(err)
	}
	if d := wavDuration(t, part); d != ms(500) {
		t.Errorf("part past the end lasts %s, want 0.5s", d)
	}

	stereo := filepath.Join(dir, "stereo.wav")
	if msg, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=r=44100:d=1", "-ac", "2", stereo).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	for path, want := range map[string]string{stereo: "want PCM, 1 channel, 16000 Hz", filepath.Join(dir, "nope.wav"): "no such file"} {
		if f, _, err := openWAV(path); err == nil || !strings.Contains(err.Error(), want) {
			if f != nil {
				f.Close()
			}
			t.Errorf("openWAV(%s) = %v, want %q", path, err, want)
		}
	}
	os.WriteFile(filepath.Join(dir, "junk.wav"), []byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"), 0o600)
	if f, _, err := openWAV(filepath.Join(dir, "junk.wav")); err == nil {
		f.Close()
		t.Error("data before fmt accepted")
	}
}

func TestExtractAudio(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	if got, want := extractArgs("https://s3.example/rec.mp4?X-Amz-Signature=abc", "out.wav"),
		"-nostdin -hide_banner -loglevel error -y -rw_timeout 30000000 -i https://s3.example/rec.mp4?X-Amz-Signature=abc -map 0:a:0 -vn -sn -dn -ac 1 -ar 16000 -c:a pcm_s16le -f wav out.wav"; strings.Join(got, " ") != want {
		t.Errorf("args %q", got)
	}
	if got := redactURL("[https @ 0x1] HTTP error 403 Forbidden\nhttps://s3.example/rec.mp4?X-Amz-Signature=abc: Server returned 403"); strings.Contains(got, "abc") || !strings.Contains(got, "403 Forbidden\nhttps://s3.example/rec.mp4?…") {
		t.Errorf("redact: %q", got)
	}

	dir := t.TempDir()
	video := filepath.Join(dir, "video.mp4")
	if msg, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10:d=1", "-c:v", "libx264", "-preset", "ultrafast", video).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	ctx := context.Background()
	if err := ExtractAudio(ctx, "", video, filepath.Join(dir, "a.wav")); !errors.Is(err, ErrNoAudio) {
		t.Errorf("video without audio: %v, want ErrNoAudio", err)
	}
	if err := ExtractAudio(ctx, "", filepath.Join(dir, "missing.mp4"), filepath.Join(dir, "a.wav")); err == nil || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("missing input: %v", err)
	}
	// A URL, as a presigned object store link: served on loopback.
	tone := filepath.Join(dir, "tone.mp4")
	if msg, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10:d=2", "-f", "lavfi", "-i", "sine=r=48000:d=2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", tone).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.FileServer(http.Dir(dir)))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	out := filepath.Join(dir, "from-url.wav")
	if err := ExtractAudio(ctx, "", srv.URL+"/tone.mp4?X-Amz-Signature=secret", out); err != nil {
		t.Fatalf("extract from a URL: %v", err)
	}
	if d := wavDuration(t, out); d < ms(1900) || d > ms(2100) {
		t.Errorf("audio from the URL lasts %s, want 2s", d)
	}
	err = ExtractAudio(ctx, "", srv.URL+"/gone.mp4?X-Amz-Signature=secret", out)
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing URL: %v, want a 404 without the signature", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := ExtractAudio(cancelled, "", video, filepath.Join(dir, "a.wav")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("no engine accepted")
	}
	if _, err := New(Config{Engine: &Pocketsphinx{}, MaxChunk: 4 * time.Second, Overlap: 2 * time.Second}); err == nil {
		t.Error("overlap longer than half the shortest chunk accepted")
	}
}
