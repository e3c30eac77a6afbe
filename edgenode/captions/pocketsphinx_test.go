package captions

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A real output of `pocketsphinx_continuous -infile X.wav -time yes`.
const pocketsphinxOutput = `friend center
<s> 1.880 2.000 1.000000
friend 2.010 2.570 0.709397
<sil> 2.580 2.790 1.000000
center 2.800 3.340 0.189306
</s> 3.350 3.740 1.000000
we're right
<s> 10.740 10.870 0.999800
we're 10.880 11.360 0.938092
[NOISE] 11.370 11.620 0.999700
++COUGH++ 11.630 11.750 0.736213
right(2) 11.760 12.250 0.955897
</s> 12.260 12.730 1.000000
one two three four
bad -1.0 2.0 1.0
worse 3.0 2.0 1.0
huge 1e300 1e301 1
nan NaN NaN 1
`

func TestParsePocketsphinx(t *testing.T) {
	got := ParsePocketsphinx([]byte(pocketsphinxOutput))
	want := []Word{
		{Start: ms(2010), End: ms(2570), Text: "friend"},
		{Start: ms(2800), End: ms(3340), Text: "center"},
		{Start: ms(10880), End: ms(11360), Text: "we're"},
		{Start: ms(11760), End: ms(12250), Text: "right"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
}

func FuzzParsePocketsphinx(f *testing.F) {
	f.Add([]byte(pocketsphinxOutput))
	f.Fuzz(func(t *testing.T, out []byte) {
		for _, w := range ParsePocketsphinx(out) {
			if w.Start < 0 || w.End < w.Start || w.Text == "" || filler(w.Text) || strings.ContainsAny(w.Text, " \t\n") {
				t.Fatalf("bad word %#v", w)
			}
		}
	})
}

func TestLayoutGroupsWordsIntoCues(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	var words []Word
	// 20 words of 0.5 s, no pauses: cues must stay within 7 s and two
	// lines of 42 characters.
	for i := 0; i < 20; i++ {
		words = append(words, Word{Start: sec(float64(i) * 0.5), End: sec(float64(i)*0.5 + 0.45), Text: "wordy"})
	}
	// A pause of 3 s, then a word too long for a line.
	words = append(words, Word{Start: sec(13), End: sec(14), Text: strings.Repeat("x", 50)})
	words = append(words, Word{Start: sec(14), End: sec(14.5), Text: "tail"})
	cues := DefaultLayout.group(words)
	for _, c := range cues {
		if c.End-c.Start > 7*time.Second {
			t.Errorf("cue %#v lasts over 7s", c)
		}
		lines := strings.Split(c.Text, "\n")
		if len(lines) > 2 {
			t.Errorf("cue %q has %d lines", c.Text, len(lines))
		}
		for _, l := range lines {
			if len(l) > 42 && strings.Contains(l, " ") {
				t.Errorf("line %q over 42 characters", l)
			}
		}
	}
	var all []string
	for _, c := range cues {
		all = append(all, strings.Fields(c.Text)...)
	}
	if len(all) != len(words) {
		t.Errorf("cues hold %d words, want %d: %q", len(all), len(words), all)
	}
	last := cues[len(cues)-1]
	if last.Start != sec(13) || last.Text != strings.Repeat("x", 50)+"\ntail" {
		t.Errorf("after the pause: %#v", last)
	}
}

func TestLayoutSplitsLongSegments(t *testing.T) {
	text := strings.TrimSpace(strings.Repeat("the quick brown fox jumps over the lazy dog ", 6))
	cues := DefaultLayout.relayout([]Cue{{Start: 10 * time.Second, End: 40 * time.Second, Text: text}, {Start: 40 * time.Second, End: 41 * time.Second, Text: "short"}})
	if len(cues) < 5 {
		t.Fatalf("30 s segment split into %d cues", len(cues))
	}
	if cues[0].Start != 10*time.Second || cues[len(cues)-2].End != 40*time.Second || cues[len(cues)-1].Text != "short" {
		t.Errorf("split cues do not cover the segment: %s", dumpCues(cues))
	}
	var words []string
	for i, c := range cues[:len(cues)-1] {
		if !DefaultLayout.fitsLayout(c) {
			t.Errorf("cue %d does not fit: %#v", i, c)
		}
		if i > 0 && c.Start < cues[i-1].End {
			t.Errorf("cue %d overlaps the one before", i)
		}
		words = append(words, strings.Fields(c.Text)...)
	}
	if strings.Join(words, " ") != text {
		t.Errorf("text changed: %q", strings.Join(words, " "))
	}
}

func TestPocketsphinxLanguages(t *testing.T) {
	p := &Pocketsphinx{models: map[string]PocketsphinxModel{"fr": {HMM: "/m/fr", Dict: "/m/fr.dict"}}}
	for _, lang := range []string{"", "en", "EN-us"} {
		if args, err := p.args("a.wav", lang); err != nil || !reflect.DeepEqual(args, []string{"-infile", "a.wav", "-time", "yes"}) {
			t.Errorf("%q: %v %v", lang, args, err)
		}
	}
	if args, err := p.args("a.wav", "fr"); err != nil || !reflect.DeepEqual(args, []string{"-infile", "a.wav", "-time", "yes", "-hmm", "/m/fr", "-dict", "/m/fr.dict"}) {
		t.Errorf("fr: %v %v", args, err)
	}
	if _, err := p.args("a.wav", "de"); !errors.Is(err, ErrUnsupportedLanguage) {
		t.Errorf("de: %v, want ErrUnsupportedLanguage", err)
	}
	if _, err := NewPocketsphinx(PocketsphinxConfig{Binary: "no-such-pocketsphinx"}); err == nil || !strings.Contains(err.Error(), "pocketsphinx-en-us") {
		t.Errorf("missing binary: %v", err)
	}
}
