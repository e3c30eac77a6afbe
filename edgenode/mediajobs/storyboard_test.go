package mediajobs

import (
	"strings"
	"testing"
)

func TestPlanStoryboard(t *testing.T) {
	tests := []struct {
		duration, requested float64
		wantMS              int64
	}{
		{10, 0, 1000},           // short: every second
		{0.4, 0, 1000},          // never under a second when picked
		{100, 0, 1000},          // exactly 100 tiles
		{100.5, 0, 2000},        // whole seconds, at most 100 tiles
		{3600, 0, 36000},        // an hour: 100 tiles
		{10, 2.5, 2500},         // as asked
		{10, 0.01, 100},         // not under 100 ms
		{10000, 1, 10000},       // at most 1000 tiles
		{7200, 3600.5, 3600500}, // longer than asked is fine
	}
	for _, tt := range tests {
		if got := planStoryboard(tt.duration, tt.requested).intervalMS; got != tt.wantMS {
			t.Errorf("planStoryboard(%v, %v) = %d ms, want %d", tt.duration, tt.requested, got, tt.wantMS)
		}
	}
}

func TestLayoutStoryboard(t *testing.T) {
	tests := []struct {
		name                  string
		produced              int
		intervalMS            int64
		duration              float64
		wantTiles, cols, rows int
	}{
		{"one extra tile at the end is dropped", 11, 1000, 10, 10, 10, 1},
		{"fewer tiles than intervals", 9, 1000, 10.5, 9, 9, 1},
		{"several rows", 23, 1000, 23, 23, 10, 3},
		{"a single tile", 1, 1000, 0.2, 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := layoutStoryboard(tt.produced, 160, 90, tt.intervalMS, tt.duration)
			if err != nil {
				t.Fatal(err)
			}
			if l.tiles != tt.wantTiles || l.columns != tt.cols || l.rows != tt.rows {
				t.Errorf("layout %+v, want %d tiles in %dx%d", l, tt.wantTiles, tt.cols, tt.rows)
			}
			if w, h := l.size(); w != tt.cols*160 || h != tt.rows*90 {
				t.Errorf("size %dx%d", w, h)
			}
		})
	}
	if _, err := layoutStoryboard(0, 160, 90, 1000, 10); err == nil {
		t.Error("layout of no tiles: no error")
	}
}

func TestWriteVTT(t *testing.T) {
	// Three tiles of 2.5 s over 6.02 s, two columns: the last cue runs to
	// the end.
	l, err := layoutStoryboard(3, 160, 90, 2500, 6.02)
	if err != nil {
		t.Fatal(err)
	}
	l.columns, l.rows = 2, 2
	var b strings.Builder
	if err := l.writeVTT(&b, "storyboard.jpg"); err != nil {
		t.Fatal(err)
	}
	want := `WEBVTT

00:00:00.000 --> 00:00:02.500
storyboard.jpg#xywh=0,0,160,90

00:00:02.500 --> 00:00:05.000
storyboard.jpg#xywh=160,0,160,90

00:00:05.000 --> 00:00:06.020
storyboard.jpg#xywh=0,90,160,90
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	// The parser the end-to-end tests use agrees.
	if cues := parseVTT(t, []byte(b.String())); len(cues) != 3 || cues[2].y != 90 {
		t.Errorf("parsed %+v", cues)
	}
}

func TestVTTTime(t *testing.T) {
	for ms, want := range map[int64]string{
		0:             "00:00:00.000",
		999:           "00:00:00.999",
		3723004:       "01:02:03.004",
		100 * 3600000: "100:00:00.000",
	} {
		if got := vttTime(ms); got != want {
			t.Errorf("vttTime(%d) = %q, want %q", ms, got, want)
		}
	}
}
