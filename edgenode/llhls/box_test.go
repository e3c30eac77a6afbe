package llhls

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzPackage feeds arbitrary bytes to a rung as ffmpeg's output: it
// must never panic, and whatever it writes stays inside its directory.
func FuzzPackage(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x00\x00\x08ftyp"))
	f.Add([]byte("\x00\x00\x00\x10moov\x00\x00\x00\x08trak"))
	f.Add([]byte("\x00\x00\x00\x01moof\x00\x00\x00\x00\x00\x00\x00\x10"))
	if b, err := os.ReadFile(filepath.Join("testdata", "ll.mp4")); err == nil {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p, err := New(Config{Dir: dir, Tag: "f", Renditions: []Rendition{{Name: "r", Bandwidth: 1}},
			TargetDuration: time.Second, PartTarget: 334 * time.Millisecond, Window: 3})
		if err != nil {
			t.Fatal(err)
		}
		_ = p.Run(t.Context(), []io.Reader{bytes.NewReader(data)})
	})
}

func FuzzParseBoxes(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x0ctkhd\x01\x00\x00\x00"), []byte("\x00\x00\x00\x0ctfhd\x00\x00\x00\x08"))
	f.Fuzz(func(t *testing.T, moov, moof []byte) {
		tracks, _ := parseInit(moov)
		_, _ = parseMoof(moof, tracks)
	})
}

// TestParseFFmpegOutput reads a fragment stream ffmpeg wrote (the tee
// muxer's output of a low-latency rung, testdata/ll.mp4).
func TestParseFFmpegOutput(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "ll.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	var tracks []track
	var video, frames, keyframes int
	var videoTicks uint64
	err = readBoxes(bytes.NewReader(b), func(bx box) error {
		switch bx.typ {
		case "moov":
			var err error
			tracks, err = parseInit(bx.body)
			return err
		case "moof":
			frags, err := parseMoof(bx.body, tracks)
			for _, fr := range frags {
				if fr.trackID == tracks[0].id {
					video++
					frames += fr.samples
					videoTicks += fr.duration
					if fr.sync {
						keyframes++
					}
				}
			}
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tracks) != 2 || tracks[0].handler != handlerVideo || tracks[0].width != 160 || tracks[0].height != 90 ||
		len(tracks[0].codec) != len("avc1.42c00c") || tracks[1].codec != "mp4a.40.2" {
		t.Fatalf("tracks %+v", tracks)
	}
	if frames != 36 || keyframes != 3 || video < 30 {
		t.Fatalf("%d video fragments, %d frames, %d keyframes", video, frames, keyframes)
	}
	if d := float64(videoTicks) / float64(tracks[0].timescale); d < 1.15 || d > 1.25 {
		t.Fatalf("video lasts %v s", d)
	}
}
