package livevod

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/shared/mediatest"
)

// liveSession runs the live ladder (as the edge does, with a session tag
// and the recording) over a synthetic 10 s source with audio and returns
// its HLS directory and recording, made once per test binary and copied
// for each test so that tests may break their copy.
func liveSession(t *testing.T) (dir, recording string) {
	t.Helper()
	session.once.Do(func() { session.dir, session.err = makeSession(t) })
	if session.err != nil {
		t.Fatal(session.err)
	}
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(session.dir)); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dst, "hls"), filepath.Join(dst, "rec.mp4")
}

var session struct {
	once sync.Once
	dir  string
	err  error
}

func makeSession(t *testing.T) (string, error) {
	src := mediatest.File(t, mediatest.Spec{Width: 640, Height: 360, Seconds: 10, Audio: true})
	dir, err := os.MkdirTemp("", "livevod-test-*")
	if err != nil {
		return "", err
	}
	args, err := transcode.Build(transcode.Params{Input: src, Mode: transcode.Live, OutDir: filepath.Join(dir, "hls"),
		Source:     transcode.Source{Width: 640, Height: 360, FrameRate: 30, HasAudio: true, HasVideo: true, AudioCodec: "aac"},
		Ladder:     []transcode.Rung{{Name: "360p", Width: 640, Height: 360, VideoKbps: 500}, {Name: "180p", Width: 320, Height: 180, VideoKbps: 200}},
		RecordPath: filepath.Join(dir, "rec.mp4"), Tag: "ses_test", Window: 4 * time.Second})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		return "", &exec.ExitError{Stderr: out}
	}
	return dir, nil
}

func TestCheckWholeLadder(t *testing.T) {
	t.Parallel()
	dir, rec := liveSession(t)
	l, err := Check(dir, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Rungs) != 2 || l.Rungs[0].Name != "360p" || l.Rungs[0].Width != 640 || l.Rungs[0].Bandwidth <= 0 {
		t.Fatalf("rungs %+v", l.Rungs)
	}
	if l.Recording < 9.5 || l.Recording > 10.5 || l.Duration < 9.5 || l.Duration > 10.5 {
		t.Errorf("recording %.3fs, ladder %.3fs: want about 10s", l.Recording, l.Duration)
	}
	// The live playlist is a sliding window by now; Check lists every
	// segment of the session anyway.
	live, _ := os.ReadFile(filepath.Join(dir, "360p", "index.m3u8"))
	if n := strings.Count(string(live), "#EXTINF"); n >= len(l.Rungs[0].Segments) {
		t.Errorf("the live playlist lists %d segments, the ladder %d: want the window to have slid", n, len(l.Rungs[0].Segments))
	}

	stage := t.TempDir()
	files, err := l.Stage(stage)
	if err != nil {
		t.Fatal(err)
	}
	if last := files[len(files)-1]; last.Rel != "master.m3u8" {
		t.Errorf("last staged file %s, want the master playlist", last.Rel)
	}
	for _, f := range files {
		if !f.Immutable {
			continue
		}
		a, _ := os.ReadFile(f.Path)
		b, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Rel)))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("staged %s differs from the live file", f.Rel)
		}
	}
	pl, _ := os.ReadFile(filepath.Join(stage, "360p", "index.m3u8"))
	for _, want := range []string{"#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-ENDLIST", `#EXT-X-MAP:URI="init_ses_test_`} {
		if !bytes.Contains(pl, []byte(want)) {
			t.Errorf("VOD playlist lacks %s:\n%s", want, pl)
		}
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type,width",
		"-of", "compact", filepath.Join(stage, "master.m3u8")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "codec_type=audio") || !strings.Contains(string(out), "width=640") {
		t.Fatalf("the staged VOD does not probe: %v: %s", err, out)
	}
	t.Logf("staged %d files; ffprobe: %s", len(files), strings.ReplaceAll(string(out), "\n", " | "))
}

func TestCheckRefuses(t *testing.T) {
	t.Parallel()
	for name, breakIt := range map[string]func(t *testing.T, dir, rec string){
		"missing segment": func(t *testing.T, dir, rec string) {
			segs, _ := filepath.Glob(filepath.Join(dir, "180p", "seg_*.m4s"))
			if len(segs) < 3 {
				t.Fatalf("only %d segments", len(segs))
			}
			os.Remove(segs[1])
		},
		"missing last segment": func(t *testing.T, dir, rec string) {
			segs, _ := filepath.Glob(filepath.Join(dir, "360p", "seg_*.m4s"))
			os.Remove(segs[len(segs)-1])
		},
		"missing first segment": func(t *testing.T, dir, rec string) {
			segs, _ := filepath.Glob(filepath.Join(dir, "360p", "seg_*.m4s"))
			os.Remove(segs[0])
		},
		"no init": func(t *testing.T, dir, rec string) {
			inits, _ := filepath.Glob(filepath.Join(dir, "180p", "init*.mp4"))
			os.Remove(inits[0])
		},
		"no master": func(t *testing.T, dir, rec string) { os.Remove(filepath.Join(dir, "master.m3u8")) },
		"truncated segment": func(t *testing.T, dir, rec string) {
			segs, _ := filepath.Glob(filepath.Join(dir, "360p", "seg_*.m4s"))
			os.Truncate(segs[1], 100)
		},
		"no recording": func(t *testing.T, dir, rec string) { os.Remove(rec) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir, rec := liveSession(t)
			breakIt(t, dir, rec)
			if l, err := Check(dir, rec); err == nil {
				t.Fatalf("Check accepted it: %+v", l.Rungs)
			} else {
				t.Logf("refused: %v", err)
			}
		})
	}
}

// FuzzReadSpan feeds the box readers arbitrary bytes (the seed is a tiny
// fMP4 init segment followed by a media segment, as ffmpeg writes them).
func FuzzReadSpan(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "init_and_segment.mp4"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{0, 0, 0, 8, 'm', 'o', 'o', 'f'})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := readInit(bytes.NewReader(b))
		if err != nil {
			tr = track{id: 1, timescale: 90000, defaultDur: 3000}
		}
		readSpan(bytes.NewReader(b), tr)
	})
}

func TestSeedSpan(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "init_and_segment.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := readInit(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	s, err := readSpan(bytes.NewReader(b), tr)
	if err != nil || s.fragments == 0 {
		t.Fatalf("span %+v, %v", s, err)
	}
	if d := float64(s.end-s.start) / float64(tr.timescale); d < 0.4 || d > 0.6 {
		t.Errorf("the seed segment covers %.3fs, want 0.5s", d)
	}
}
