package captions

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// recordingEngine remembers the chunks it is given.
type recordingEngine struct {
	Engine
	mu     sync.Mutex
	chunks []Chunk
}

func (r *recordingEngine) Transcribe(ctx context.Context, c Chunk, lang string) ([]Cue, error) {
	st, err := os.Stat(c.Path)
	if err != nil {
		return nil, err
	}
	if got, want := st.Size()-44, sampleOffset(c.Duration); got < want-2 || got > want+2 {
		return nil, errorf("chunk %s holds %d bytes of samples, want %d for %s", c.Path, got, want, c.Duration)
	}
	r.mu.Lock()
	r.chunks = append(r.chunks, c)
	r.mu.Unlock()
	return r.Engine.Transcribe(ctx, c, lang)
}

func TestLongSpeechIsChunkedOnSilenceAndMergedInOrder(t *testing.T) {
	ps := newPocketsphinx(t)
	gap := 9500 * time.Millisecond
	input, starts := speechFile(t, t.TempDir(), false,
		part{Silence: 2 * time.Second}, part{Sound: "Front_Center"},
		part{Silence: gap}, part{Sound: "Side_Left"},
		part{Silence: gap}, part{Sound: "Rear_Right"},
		part{Silence: gap}, part{Sound: "Rear_Center"},
		part{Silence: gap}, part{Sound: "Rear_Left"},
		part{Silence: gap}, part{Sound: "Side_Right"},
		part{Silence: gap},
	)
	rec := &recordingEngine{Engine: ps}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cues, progress := transcribe(t, ctx, Config{Engine: rec}, input)
	t.Logf("chunks: %+v\ncues:\n%s", rec.chunks, dumpCues(cues))

	if len(rec.chunks) < 3 {
		t.Fatalf("%d chunks, want at least 3 for %s of audio", len(rec.chunks), starts[len(starts)-1]+gap)
	}
	for i, c := range rec.chunks {
		if c.Duration > 30*time.Second {
			t.Errorf("chunk %d lasts %s, over 30s", i, c.Duration)
		}
		if i > 0 {
			prev := rec.chunks[i-1]
			if overlap := prev.Offset + prev.Duration - c.Offset; overlap <= 0 || overlap > 2*time.Second {
				t.Errorf("chunks %d and %d overlap by %s, want a small overlap", i-1, i, overlap)
			}
		}
		// Cuts are in silences: no recording straddles a chunk's start.
		for _, s := range starts {
			if c.Offset > s && c.Offset < s+1600*time.Millisecond {
				t.Errorf("chunk %d starts at %s, inside the recording at %s", i, c.Offset, s)
			}
		}
	}
	expectWords(t, cues, []string{"center", "left", "right", "center", "left", "right"}, starts, 1600*time.Millisecond, time.Second)
	for i := 1; i < len(cues); i++ {
		if cues[i].Start < cues[i-1].End {
			t.Errorf("cue %d (%s) starts before cue %d ends (%s)", i, cues[i].Start, i-1, cues[i-1].End)
		}
	}
	if len(progress) < len(rec.chunks)+2 || progress[len(progress)-1] != 1 {
		t.Errorf("progress %v: want a step per chunk, ending at 1", progress)
	}
}
