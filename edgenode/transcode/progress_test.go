package transcode

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func collect(t *testing.T, r io.Reader) []Progress {
	t.Helper()
	var got []Progress
	if err := ParseProgress(r, func(p Progress) { got = append(got, p) }); err != nil {
		t.Fatalf("ParseProgress: %v", err)
	}
	return got
}

// strip makes blocks comparable by dropping the wall-clock time.
func strip(ps []Progress) []Progress {
	out := make([]Progress, len(ps))
	for i, p := range ps {
		if p.At.IsZero() {
			p.Frame = -1 // At must always be set
		}
		out[i] = Progress{Frame: p.Frame, FPS: p.FPS, Speed: p.Speed, BitrateKbps: p.BitrateKbps,
			OutTimeMS: p.OutTimeMS, TotalSize: p.TotalSize, Done: p.Done}
	}
	return out
}

func TestParseProgressFFmpegOutput(t *testing.T) {
	data, err := os.ReadFile("testdata/progress.txt") // ffmpeg 5.1, -progress pipe:1
	if err != nil {
		t.Fatal(err)
	}
	want := []Progress{
		{Frame: 2, TotalSize: 48},
		{Frame: 60, BitrateKbps: 489.6, TotalSize: 120354, OutTimeMS: 1966, Speed: 9.27, Done: true},
	}
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(data),
		"one byte": iotest.OneByteReader(bytes.NewReader(data)),
		"crlf":     strings.NewReader(strings.ReplaceAll(string(data), "\n", "\r\n")),
	} {
		got := strip(collect(t, r))
		if len(got) != len(want) {
			t.Fatalf("%s: %d blocks, want %d: %+v", name, len(got), len(want), got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: block %d = %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
}

func TestParseProgressFields(t *testing.T) {
	tests := []struct {
		name, in string
		want     Progress
	}{
		{"all fields", "frame=181\nfps=41.12\nbitrate=1234.5kbits/s\ntotal_size=999\nout_time_us=6037333\nout_time_ms=6037333\nout_time=00:00:06.037333\nspeed=1.37x\nprogress=continue\n",
			Progress{Frame: 181, FPS: 41.12, BitrateKbps: 1234.5, TotalSize: 999, OutTimeMS: 6037, Speed: 1.37}},
		{"N/A everywhere", "frame=N/A\nfps=N/A\nbitrate=N/A\ntotal_size=N/A\nout_time_us=N/A\nout_time_ms=N/A\nout_time=N/A\nspeed=N/A\nprogress=continue\n",
			Progress{}},
		{"only out_time", "out_time=01:02:03.500000\nprogress=end\n", Progress{OutTimeMS: 3723500, Done: true}},
		{"out_time_ms is microseconds", "out_time_ms=2500000\nprogress=continue\n", Progress{OutTimeMS: 2500}},
		{"out_time_us wins whatever the order", "out_time_us=1000000\nout_time=00:00:09.000000\nprogress=continue\n", Progress{OutTimeMS: 1000}},
		{"bad out_time_us falls back", "out_time_us=garbage\nout_time=00:00:09.000000\nprogress=continue\n", Progress{OutTimeMS: 9000}},
		{"negative times are zero", "out_time_us=-577014\nout_time=-00:00:00.577014\nprogress=continue\n", Progress{}},
		{"negative and non-finite values are zero", "frame=-3\nfps=NaN\nspeed=+Inf\nbitrate=-1kbits/s\ntotal_size=99999999999999999999\nprogress=continue\n", Progress{}},
		{"spaces", "  frame = 12 \nspeed=   1x\nbitrate=  89.1kbits/s\nprogress= continue\n", Progress{Frame: 12, Speed: 1, BitrateKbps: 89.1}},
		{"no trailing newline", "frame=7\nprogress=end", Progress{Frame: 7, Done: true}},
		{"unknown progress value counts as a block", "frame=7\nprogress=what\n", Progress{Frame: 7}},
		{"garbage lines ignored", "\x00\xff\n=\n==\nframe\nframe=5=6\nstream_0_0_q=28.0\nframe=5\nprogress=continue\n", Progress{Frame: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strip(collect(t, strings.NewReader(tc.in)))
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("got %+v, want [%+v]", got, tc.want)
			}
		})
	}
}

func TestParseProgressBlocksAreIndependent(t *testing.T) {
	got := strip(collect(t, strings.NewReader("frame=10\nfps=30\nprogress=continue\nframe=20\nprogress=continue\nframe=30\n")))
	want := []Progress{{Frame: 10, FPS: 30}, {Frame: 20}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v (a block without progress= is not reported)", got, want)
	}
}

func TestParseProgressLongLines(t *testing.T) {
	long := strings.Repeat("x", 10*maxProgressLine)
	in := "frame=" + long + "\nframe=3\n" + long + "\nprogress=continue\n" + long // the last one unterminated
	got := strip(collect(t, strings.NewReader(in)))
	if len(got) != 1 || got[0].Frame != 3 {
		t.Fatalf("got %+v", got)
	}
	// Memory stays bounded on a huge line without newline.
	r := io.LimitReader(neverNewline{}, 64<<20)
	if got := collect(t, r); len(got) != 0 {
		t.Fatalf("blocks from garbage: %+v", got)
	}
}

type neverNewline struct{}

func (neverNewline) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestParseProgressReadError(t *testing.T) {
	boom := errors.New("boom")
	var n int
	err := ParseProgress(io.MultiReader(strings.NewReader("frame=1\nprogress=continue\n"), iotest.ErrReader(boom)),
		func(Progress) { n++ })
	if !errors.Is(err, boom) || n != 1 {
		t.Fatalf("err %v after %d blocks, want boom after 1", err, n)
	}
	if err := ParseProgress(strings.NewReader("progress=end\n"), nil); err != nil {
		t.Fatalf("nil fn: %v", err)
	}
}

func FuzzParseProgress(f *testing.F) {
	if data, err := os.ReadFile("testdata/progress.txt"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("frame=1\nfps=N/A\nbitrate=N/A\nout_time_us=N/A\nout_time=N/A\nspeed=N/A\nprogress=continue\n"))
	f.Add([]byte("out_time=99:59:59.999999\nout_time_ms=-1\nprogress=end"))
	f.Add([]byte("speed=1e308x\nbitrate=1e400kbits/s\nfps=0x1p-2\ntotal_size=9223372036854775807\nprogress=continue\r\n"))
	f.Add([]byte("\n\n\r\r==progress=\n" + strings.Repeat("k", maxProgressLine+1) + "\nprogress=end\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		blocks := 0
		err := ParseProgress(bytes.NewReader(data), func(p Progress) {
			blocks++
			for _, v := range []float64{p.FPS, p.Speed, p.BitrateKbps} {
				if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("bad rate in %+v", p)
				}
			}
			if p.Frame < 0 || p.OutTimeMS < 0 || p.TotalSize < 0 || p.At.IsZero() {
				t.Fatalf("bad value in %+v", p)
			}
		})
		if err != nil {
			t.Fatalf("ParseProgress on a bytes.Reader: %v", err)
		}
		if max := bytes.Count(data, []byte("progress")); blocks > max {
			t.Fatalf("%d blocks from %d progress keys", blocks, max)
		}
	})
}
