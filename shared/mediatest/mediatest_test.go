package mediatest

import (
	"os"
	"slices"
	"testing"
)

func TestPublishArgs(t *testing.T) {
	args := Live{Spec: Spec{Width: 640, Height: 360, Seconds: 5, Audio: true}, Format: "mpegts"}.PublishArgs("srt://x")
	for _, want := range []string{"-re", "testsrc2=size=640x360:rate=30", "sine=frequency=440:sample_rate=48000", "-g", "60", "mpegts", "srt://x"} {
		if !slices.Contains(args, want) {
			t.Fatalf("args %q lack %q", args, want)
		}
	}
}

func TestFileIsMadeOnceAndReused(t *testing.T) {
	spec := Spec{Width: 160, Height: 90, Seconds: 1, Audio: true}
	p := File(t, spec)
	fi, err := os.Stat(p)
	if err != nil || fi.Size() == 0 {
		t.Fatalf("stat %s: %v", p, err)
	}
	if again := File(t, spec); again != p {
		t.Fatalf("second File = %s, want %s", again, p)
	}
}

func TestRemuxed(t *testing.T) {
	spec := Spec{Width: 160, Height: 90, Seconds: 1, Audio: true}
	for format, magic := range map[string]string{"flv": "FLV", "mpegts": "\x47"} {
		p := Remuxed(t, spec, format)
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 188 || string(b[:len(magic)]) != magic {
			t.Fatalf("%s: %s: %v, starts %q", format, p, err, b[:min(len(b), 4)])
		}
	}
}
