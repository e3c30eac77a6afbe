package captions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Config configures a Transcriber.
type Config struct {
	// Engine turns each chunk into cues.
	Engine Engine
	// FFmpeg is the ffmpeg program; "ffmpeg" on PATH if empty.
	FFmpeg string
	// WorkDir is where the audio and its chunks are written, in a directory
	// of their own that is removed afterwards; the system's if empty.
	WorkDir string
	// MaxChunk is the longest chunk handed to the engine (30 s if zero);
	// MinChunk the shortest cut made before the end (MaxChunk/3 if zero).
	MaxChunk, MinChunk time.Duration
	// Overlap is how much audio two consecutive chunks share around a cut
	// (1 s if zero), so a word cut where no silence was found is heard whole
	// by one of them.
	Overlap time.Duration
	// SilenceNoise (dB, -35 if zero) and SilenceMin (0.3 s if zero) tune
	// ffmpeg's silencedetect.
	SilenceNoise float64
	SilenceMin   time.Duration
	// Logger receives a debug line per chunk; none if nil.
	Logger *slog.Logger
}

// Transcriber turns the speech of a media file into cues: it extracts the
// audio, cuts it at silences into chunks of at most MaxChunk, transcribes
// the chunks in order and merges their cues.
type Transcriber struct {
	cfg Config
}

// New checks the configuration and returns a Transcriber.
func New(cfg Config) (*Transcriber, error) {
	if cfg.Engine == nil {
		return nil, errors.New("captions: no engine")
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.MaxChunk <= 0 {
		cfg.MaxChunk = 30 * time.Second
	}
	if cfg.MinChunk <= 0 || cfg.MinChunk > cfg.MaxChunk {
		cfg.MinChunk = cfg.MaxChunk / 3
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = time.Second
	}
	if cfg.Overlap > cfg.MinChunk/2 {
		return nil, fmt.Errorf("captions: overlap %s too long for chunks of at least %s", cfg.Overlap, cfg.MinChunk)
	}
	if cfg.SilenceNoise == 0 {
		cfg.SilenceNoise = -35
	}
	if cfg.SilenceMin <= 0 {
		cfg.SilenceMin = 300 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Transcriber{cfg: cfg}, nil
}

// Transcribe returns the cues of the speech in input (a media file or an
// http(s) URL), in order. progress, if not nil, is called with the fraction
// done, from 0 to 1, after each step.
func (t *Transcriber) Transcribe(ctx context.Context, input, lang string, progress func(float64)) ([]Cue, error) {
	if progress == nil {
		progress = func(float64) {}
	}
	dir, err := os.MkdirTemp(t.cfg.WorkDir, "captions-")
	if err != nil {
		return nil, fmt.Errorf("captions work dir: %w", err)
	}
	defer os.RemoveAll(dir)

	progress(0)
	wav := filepath.Join(dir, "audio.wav")
	if err := ExtractAudio(ctx, t.cfg.FFmpeg, input, wav); err != nil {
		return nil, err
	}
	f, info, err := openWAV(wav)
	if err != nil {
		return nil, fmt.Errorf("extracted audio: %w", err)
	}
	defer f.Close()
	total := info.duration()
	progress(0.05)

	var silences []Silence
	if total > t.cfg.MaxChunk {
		silences, err = DetectSilences(ctx, t.cfg.FFmpeg, wav, total, t.cfg.SilenceNoise, t.cfg.SilenceMin)
		if err != nil {
			return nil, err
		}
	}
	spans := planChunks(total, silences, t.cfg.MaxChunk, t.cfg.MinChunk, t.cfg.Overlap)
	progress(0.1)

	var all [][]Cue
	for i, s := range spans {
		path := filepath.Join(dir, fmt.Sprintf("chunk_%04d.wav", i))
		if err := writeWAVPart(f, info, s.Start, s.End, path); err != nil {
			return nil, fmt.Errorf("cut chunk %d: %w", i, err)
		}
		chunk := Chunk{Path: path, Offset: s.Start, Duration: s.End - s.Start}
		cues, err := t.cfg.Engine.Transcribe(ctx, chunk, lang)
		if err != nil {
			return nil, fmt.Errorf("transcribe chunk %d (%s to %s): %w", i, s.Start, s.End, err)
		}
		os.Remove(path)
		t.cfg.Logger.Debug("captions chunk", "chunk", i, "start", s.Start, "end", s.End, "cues", len(cues))
		all = append(all, owned(cues, s))
		progress(0.1 + 0.9*float64(s.End)/float64(max(total, 1)))
	}
	progress(1)
	return merge(all), nil
}

// span is one chunk's stretch of audio, and the part of it whose cues it
// keeps: each instant of the source is owned by exactly one chunk.
type span struct {
	Start, End       time.Duration
	OwnStart, OwnEnd time.Duration
}

// planChunks cuts [0, total) into chunks of at most maxLen: each cut is in
// the middle of the longest silence (the latest of equals) that leaves a
// chunk of at least minLen, or at maxLen when there is no such silence: the
// longest is between sentences more surely than a short pause inside a
// phrase. Consecutive chunks share
// overlap around the cut.
func planChunks(total time.Duration, silences []Silence, maxLen, minLen, overlap time.Duration) []span {
	if total <= 0 {
		return nil
	}
	half := overlap / 2
	var spans []span
	own := time.Duration(0)
	for {
		start := max(own-half, 0)
		if total-start <= maxLen {
			return append(spans, span{Start: start, End: total, OwnStart: own, OwnEnd: total})
		}
		// The cut c keeps the chunk [start, c+half) within maxLen.
		limit := start + maxLen - half
		cut, longest := limit, time.Duration(0)
		for _, s := range silences {
			mid := s.Start + (s.End-s.Start)/2
			if mid > own+minLen && mid <= limit && s.End-s.Start >= longest {
				cut, longest = mid, s.End-s.Start
			}
		}
		spans = append(spans, span{Start: start, End: min(cut+half, total), OwnStart: own, OwnEnd: cut})
		own = cut
	}
}

// owned keeps the cues whose middle lies in the part the chunk owns.
func owned(cues []Cue, s span) []Cue {
	var out []Cue
	for _, c := range cues {
		mid := c.Start + (c.End-c.Start)/2
		if mid >= s.OwnStart && mid < s.OwnEnd || s.OwnEnd == s.OwnStart {
			out = append(out, c)
		}
	}
	return out
}

// merge joins the chunks' cues in order of time, dropping a cue that
// repeats the text of the one before it while overlapping it (a word at a
// cut heard by both chunks), and ending each cue before the next starts so
// players never show two at once.
func merge(chunks [][]Cue) []Cue {
	var cues []Cue
	for _, c := range chunks {
		cues = append(cues, c...)
	}
	sort.SliceStable(cues, func(i, j int) bool { return cues[i].Start < cues[j].Start })
	out := cues[:0]
	for _, c := range cues {
		if strings.TrimSpace(c.Text) == "" {
			continue
		}
		if n := len(out); n > 0 {
			prev := &out[n-1]
			if c.Start < prev.End && normalize(c.Text) == normalize(prev.Text) {
				prev.End = max(prev.End, c.End)
				continue
			}
			if prev.End > c.Start && c.Start > prev.Start {
				prev.End = c.Start
			}
		}
		out = append(out, c)
	}
	return out
}

// normalize is a cue's text for comparison: lower case letters and digits.
func normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}
