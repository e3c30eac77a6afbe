package captions

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Cue is one piece of timed text, in the time of the whole source.
type Cue struct {
	Start, End time.Duration
	Text       string
}

// Chunk is a piece of the source's audio handed to an Engine: a 16 kHz
// mono s16le WAV file, where it starts in the source and how long it is.
type Chunk struct {
	Path     string
	Offset   time.Duration
	Duration time.Duration
}

// Engine transcribes one chunk of speech in the given language (an ISO 639-1
// code such as "en"; empty lets the engine choose). The cues it returns are
// in the time of the source: the chunk's Offset is already added.
type Engine interface {
	Transcribe(ctx context.Context, audio Chunk, lang string) ([]Cue, error)
}

// ErrUnsupportedLanguage is returned by an engine that has no model for the
// asked language.
var ErrUnsupportedLanguage = errors.New("unsupported language")

// Layout limits how much text one cue holds so it reads on a screen: at most
// MaxLines lines of at most MaxLineChars characters, shown for at most
// MaxDuration. A pause longer than MaxGap between words starts a new cue.
type Layout struct {
	MaxDuration  time.Duration
	MaxLineChars int
	MaxLines     int
	MaxGap       time.Duration
}

// DefaultLayout is the usual broadcast layout: two lines of 42 characters,
// up to 7 seconds.
var DefaultLayout = Layout{MaxDuration: 7 * time.Second, MaxLineChars: 42, MaxLines: 2, MaxGap: 1500 * time.Millisecond}

func (l Layout) withDefaults() Layout {
	if l.MaxDuration <= 0 {
		l.MaxDuration = DefaultLayout.MaxDuration
	}
	if l.MaxLineChars <= 0 {
		l.MaxLineChars = DefaultLayout.MaxLineChars
	}
	if l.MaxLines <= 0 {
		l.MaxLines = DefaultLayout.MaxLines
	}
	if l.MaxGap <= 0 {
		l.MaxGap = DefaultLayout.MaxGap
	}
	return l
}

// Word is one recognised word with its time, as engines that time words
// (pocketsphinx) give it.
type Word struct {
	Start, End time.Duration
	Text       string
}

// group lays words out as cues: a cue ends when the next word would make it
// longer than the layout allows, or after a pause.
func (l Layout) group(words []Word) []Cue {
	l = l.withDefaults()
	var cues []Cue
	var cur []Word
	flush := func() {
		if len(cur) == 0 {
			return
		}
		cues = append(cues, Cue{Start: cur[0].Start, End: cur[len(cur)-1].End, Text: l.wrap(cur)})
		cur = cur[:0]
	}
	for _, w := range words {
		if w.Text == "" {
			continue
		}
		if len(cur) > 0 {
			last := cur[len(cur)-1]
			tooLong := w.End-cur[0].Start > l.MaxDuration
			paused := w.Start-last.End > l.MaxGap
			if tooLong || paused || !l.fits(append(cur, w)) {
				flush()
			}
		}
		cur = append(cur, w)
	}
	flush()
	return cues
}

// lines breaks words greedily into lines of at most MaxLineChars (a single
// longer word gets a line of its own).
func (l Layout) lines(words []Word) []string {
	var lines []string
	var b strings.Builder
	for _, w := range words {
		if b.Len() > 0 && b.Len()+1+len(w.Text) > l.MaxLineChars {
			lines = append(lines, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w.Text)
	}
	if b.Len() > 0 {
		lines = append(lines, b.String())
	}
	return lines
}

func (l Layout) fits(words []Word) bool { return len(l.lines(words)) <= l.MaxLines }

func (l Layout) wrap(words []Word) string { return strings.Join(l.lines(words), "\n") }

// split lays out a cue that is too long for the screen (a Whisper segment
// can last 30 seconds) as several, giving each word a share of the cue's
// time in proportion to its length.
func (l Layout) split(c Cue) []Cue {
	l = l.withDefaults()
	fields := strings.Fields(c.Text)
	if len(fields) == 0 {
		return nil
	}
	total := 0
	for _, f := range fields {
		total += len(f) + 1
	}
	span := c.End - c.Start
	if span < 0 {
		span = 0
	}
	words := make([]Word, 0, len(fields))
	at := 0
	for _, f := range fields {
		start := c.Start + time.Duration(int64(span)*int64(at)/int64(total))
		at += len(f) + 1
		end := c.Start + time.Duration(int64(span)*int64(at)/int64(total))
		words = append(words, Word{Start: start, End: end, Text: f})
	}
	nl := l
	nl.MaxGap = span + time.Second // no pauses inside one segment
	return nl.group(words)
}

// fitsLayout reports whether a cue needs no splitting.
func (l Layout) fitsLayout(c Cue) bool {
	l = l.withDefaults()
	if c.End-c.Start > l.MaxDuration {
		return false
	}
	for _, line := range strings.Split(c.Text, "\n") {
		if len(line) > l.MaxLineChars {
			return false
		}
	}
	return strings.Count(c.Text, "\n") < l.MaxLines
}

// relayout splits the cues that do not fit the layout.
func (l Layout) relayout(cues []Cue) []Cue {
	var out []Cue
	for _, c := range cues {
		if l.fitsLayout(c) {
			out = append(out, c)
			continue
		}
		out = append(out, l.split(c)...)
	}
	return out
}
