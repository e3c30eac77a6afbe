package transcode

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestFinalizeRecording(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		path     string
		kept     bool
		remains  bool
		wantFail bool
	}{
		{"missing", filepath.Join(dir, "none.mp4"), false, false, false},
		{"missing directory", filepath.Join(dir, "no", "such.mp4"), false, false, false},
		{"empty", write("empty.mp4", 0), false, false, false},
		{"short", write("short.mp4", MinRecordingBytes-1), false, false, false},
		{"just enough", write("enough.mp4", MinRecordingBytes), true, true, false},
		{"long", write("long.mp4", 3*MinRecordingBytes), true, true, false},
		{"directory", dir, false, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kept, err := FinalizeRecording(tc.path)
			if (err != nil) != tc.wantFail || kept != tc.kept {
				t.Fatalf("FinalizeRecording = %v, %v; want kept %v, error %v", kept, err, tc.kept, tc.wantFail)
			}
			_, statErr := os.Stat(tc.path)
			if remains := statErr == nil; remains != tc.remains {
				t.Fatalf("file remains %v, want %v (%v)", remains, tc.remains, statErr)
			}
			if !tc.remains && !errors.Is(statErr, fs.ErrNotExist) {
				t.Fatalf("stat: %v", statErr)
			}
		})
	}
}
