package captions

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func TestWriteVTTEscapesAndFormats(t *testing.T) {
	var b bytes.Buffer
	err := WriteVTT(&b, []Cue{
		{Start: ms(1500), End: ms(3250), Text: "Tom & Jerry <i>live</i>"},
		{Start: ms(4000), End: ms(5000), Text: "an arrow --> here"},
		{Start: ms(5000), End: ms(6000), Text: "  two\n\n lines  \r\n"},
		{Start: ms(6000), End: ms(7000), Text: " \n "},
		{Start: ms(3723004), End: ms(3600000), Text: "end before start"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "WEBVTT\n" +
		"\n00:00:01.500 --> 00:00:03.250\nTom &amp; Jerry &lt;i&gt;live&lt;/i&gt;\n" +
		"\n00:00:04.000 --> 00:00:05.000\nan arrow --&gt; here\n" +
		"\n00:00:05.000 --> 00:00:06.000\ntwo\nlines\n" +
		"\n01:02:03.004 --> 01:02:03.004\nend before start\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestParseVTT(t *testing.T) {
	// As whisper.cpp and faster-whisper-server answer, plus what the spec
	// allows around cues.
	src := "\xef\xbb\xbfWEBVTT - made by a server\r\nKind: captions\r\n\r\n" +
		"NOTE this is\na note --> not a cue\n\n" +
		"STYLE\n::cue { color: red }\n\n" +
		"1\n00:00:00.000 --> 00:00:02.500 align:start position:10%\n<v Speaker 1>Hello &amp; <i>welcome</i></v>\nto the show\n\n" +
		"02:03.5 --> 02:04.000\nshort form &lt;b&gt;\n\n" +
		"00:00:05,250 --> 00:00:06,000\nsrt comma\n\n" +
		"00:00:07.000 --> 00:00:06.000\nends before it starts\n\n" +
		"00:00:08.000 --> 00:00:09.000\n\n" +
		"00:61:00.000 --> 00:62:00.000\nbad minutes\n\n" +
		"100:00:00.000 --> 100:00:01.000\nlong hours <00:00:01.000>karaoke\n"
	cues, err := ParseVTT([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Cue{
		{Start: 0, End: ms(2500), Text: "Hello & welcome\nto the show"},
		{Start: ms(123500), End: ms(124000), Text: "short form <b>"},
		{Start: ms(5250), End: ms(6000), Text: "srt comma"},
		{Start: 100 * time.Hour, End: 100*time.Hour + time.Second, Text: "long hours karaoke"},
	}
	if !reflect.DeepEqual(cues, want) {
		t.Errorf("got %#v\nwant %#v", cues, want)
	}
	for _, bad := range []string{"", "WEBVTTX\n", "1\n00:00.000 --> 00:01.000\nx", "{\"text\":\"x\"}"} {
		if _, err := ParseVTT([]byte(bad)); !errors.Is(err, ErrNotVTT) {
			t.Errorf("ParseVTT(%q) = %v, want ErrNotVTT", bad, err)
		}
	}
}

func TestVTTRoundTrip(t *testing.T) {
	cues := []Cue{
		{Start: ms(10), End: ms(2000), Text: "a < b && c > d"},
		{Start: ms(2000), End: ms(4000), Text: "two\nlines &amp; an entity"},
		{Start: 26 * time.Hour, End: 26*time.Hour + ms(1), Text: "late"},
	}
	var b bytes.Buffer
	if err := WriteVTT(&b, cues); err != nil {
		t.Fatal(err)
	}
	got, err := ParseVTT(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cues) {
		t.Errorf("round trip:\n%s\ngot %#v", b.String(), got)
	}
}

// FuzzParseVTT feeds the parser what a Whisper server might answer: it
// must not panic, its cues must be sane, and writing them and reading them
// back must give the same cues.
func FuzzParseVTT(f *testing.F) {
	f.Add([]byte("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhello\n"))
	f.Add([]byte("WEBVTT\n\n1\n00:01.000 --> 00:02.000 line:0\n<v A>x &amp; y</v>\n\nNOTE n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cues, err := ParseVTT(data)
		if err != nil {
			return
		}
		for _, c := range cues {
			if c.Start < 0 || c.End < c.Start || strings.TrimSpace(c.Text) == "" || strings.Contains(c.Text, "\n\n") {
				t.Fatalf("bad cue %#v", c)
			}
		}
		var b bytes.Buffer
		if err := WriteVTT(&b, cues); err != nil {
			t.Fatal(err)
		}
		again, err := ParseVTT(b.Bytes())
		if err != nil {
			t.Fatalf("written VTT does not parse: %v\n%s", err, b.String())
		}
		if len(cues) == 0 {
			cues = nil
		}
		if !reflect.DeepEqual(again, cues) {
			t.Fatalf("round trip changed cues:\n%#v\n%#v\n%s", cues, again, b.String())
		}
	})
}
