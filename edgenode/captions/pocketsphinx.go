package captions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// PocketsphinxConfig configures the offline engine.
type PocketsphinxConfig struct {
	// Binary is the pocketsphinx_continuous program; found on PATH if empty.
	Binary string
	// Models maps a language to the acoustic model, language model and
	// dictionary to use for it. English ("en", "en-us") needs no entry: the
	// program's defaults are Debian's pocketsphinx-en-us.
	Models map[string]PocketsphinxModel
	// Layout shapes the cues made of the recognised words.
	Layout Layout
}

// PocketsphinxModel names the files of one language's model.
type PocketsphinxModel struct {
	HMM, LM, Dict string
}

// Pocketsphinx is the built-in offline Engine: it runs Debian's
// pocketsphinx_continuous on each chunk and lays the recognised words out as
// cues. It is much less accurate than Whisper, but needs no server.
type Pocketsphinx struct {
	bin    string
	models map[string]PocketsphinxModel
	layout Layout
}

// maxRecognizerOutput bounds what is read of the program's output: a word a
// line, a few words a second.
const maxRecognizerOutput = 64 << 20

// NewPocketsphinx finds the program and returns the engine.
func NewPocketsphinx(cfg PocketsphinxConfig) (*Pocketsphinx, error) {
	bin := cfg.Binary
	if bin == "" {
		bin = "pocketsphinx_continuous"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx engine: %w (install the Debian packages pocketsphinx and pocketsphinx-en-us)", err)
	}
	models := map[string]PocketsphinxModel{}
	for lang, m := range cfg.Models {
		models[strings.ToLower(lang)] = m
	}
	return &Pocketsphinx{bin: path, models: models, layout: cfg.Layout}, nil
}

// args returns the program's arguments for one chunk, or
// ErrUnsupportedLanguage.
func (p *Pocketsphinx) args(wav, lang string) ([]string, error) {
	args := []string{"-infile", wav, "-time", "yes"}
	lang = strings.ToLower(lang)
	if m, ok := p.models[lang]; ok {
		for _, kv := range [][2]string{{"-hmm", m.HMM}, {"-lm", m.LM}, {"-dict", m.Dict}} {
			if kv[1] != "" {
				args = append(args, kv[0], kv[1])
			}
		}
		return args, nil
	}
	switch lang {
	case "", "en", "en-us":
		return args, nil
	}
	return nil, fmt.Errorf("pocketsphinx has no model for %q: %w", lang, ErrUnsupportedLanguage)
}

// Transcribe implements Engine.
func (p *Pocketsphinx) Transcribe(ctx context.Context, audio Chunk, lang string) ([]Cue, error) {
	args, err := p.args(audio.Path, lang)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, p.bin, args...)
	stdout := &limitedBuffer{max: maxRecognizerOutput}
	stderr := &limitedBuffer{max: 64 << 10, keepTail: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("pocketsphinx %s: %w", audio.Path, ctx.Err())
		}
		return nil, fmt.Errorf("pocketsphinx %s: %w: %s", audio.Path, err, lastLine(stderr.String()))
	}
	if stdout.truncated {
		return nil, fmt.Errorf("pocketsphinx %s: output over %d bytes", audio.Path, maxRecognizerOutput)
	}
	words := ParsePocketsphinx(stdout.Bytes())
	for i := range words {
		words[i].Start += audio.Offset
		words[i].End += audio.Offset
	}
	return p.layout.group(words), nil
}

// ParsePocketsphinx reads the words and their times from the output of
// `pocketsphinx_continuous -time yes`: each utterance is a line with its
// hypothesis, then a line per word, "word start end confidence", times in
// seconds from the start of the file. Sentence markers, silences and
// fillers (<s>, </s>, <sil>, [NOISE], ++COUGH++) are dropped and alternate
// pronunciations ("read(2)") lose their number. Anything else is ignored.
func ParsePocketsphinx(out []byte) []Word {
	var words []Word
	for _, line := range bytes.Split(out, []byte{'\n'}) {
		f := strings.Fields(string(line))
		if len(f) != 4 {
			continue
		}
		start, err1 := strconv.ParseFloat(f[1], 64)
		end, err2 := strconv.ParseFloat(f[2], 64)
		_, err3 := strconv.ParseFloat(f[3], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			continue // a hypothesis line of four words
		}
		if !(start >= 0 && end >= start && end < 1e7) {
			continue
		}
		text := f[0]
		if i := strings.IndexByte(text, '('); i > 0 && strings.HasSuffix(text, ")") {
			text = text[:i]
		}
		if filler(text) {
			continue
		}
		words = append(words, Word{Start: seconds(start), End: seconds(end), Text: text})
	}
	return words
}

func filler(w string) bool {
	switch {
	case w == "" || w == "<s>" || w == "</s>" || w == "<sil>":
		return true
	case strings.HasPrefix(w, "[") && strings.HasSuffix(w, "]"):
		return true
	case strings.HasPrefix(w, "++") && strings.HasSuffix(w, "++"):
		return true
	}
	return false
}

// seconds converts a time in seconds, rounded to the microsecond so that
// 2.010 is not 2.009999999.
func seconds(s float64) time.Duration { return time.Duration(math.Round(s*1e6)) * time.Microsecond }

// limitedBuffer keeps at most max bytes of what is written to it: the first
// ones, or with keepTail the last ones.
type limitedBuffer struct {
	bytes.Buffer
	max       int
	keepTail  bool
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if b.keepTail {
		b.Buffer.Write(p)
		if over := b.Len() - b.max; over > 0 {
			b.Next(over)
			b.truncated = true
		}
		return n, nil
	}
	if room := b.max - b.Len(); len(p) > room {
		p = p[:max(room, 0)]
		b.truncated = true
	}
	b.Buffer.Write(p)
	return n, nil
}

// lastLine returns the last error line of a program's log, or its last
// line: pocketsphinx logs pages of INFO lines before an ERROR.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "ERROR") {
			return strings.TrimSpace(lines[i])
		}
	}
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return "no error output"
}
