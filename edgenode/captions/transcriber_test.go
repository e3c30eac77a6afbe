package captions

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
)

// blockingEngine waits for its context, so the test can cancel a
// transcription while a chunk is being transcribed.
type blockingEngine struct{ started chan struct{} }

func (b blockingEngine) Transcribe(ctx context.Context, c Chunk, lang string) ([]Cue, error) {
	close(b.started)
	<-ctx.Done()
	return nil, ctx.Err()
}

type failingEngine struct{}

func (failingEngine) Transcribe(context.Context, Chunk, string) ([]Cue, error) {
	return nil, errors.New("model exploded")
}

func TestTranscriberStopsAndCleansUp(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "tone.wav")
	if msg, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=r=48000:d=3", input).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	work := t.TempDir()

	engine := blockingEngine{started: make(chan struct{})}
	tr, err := New(Config{Engine: engine, WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := tr.Transcribe(ctx, input, "en", nil)
		done <- err
	}()
	select {
	case <-engine.started:
	case <-time.After(30 * time.Second):
		t.Fatal("engine never called")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled transcription: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("transcription does not stop when cancelled")
	}

	tr, _ = New(Config{Engine: failingEngine{}, WorkDir: work})
	_, err = tr.Transcribe(context.Background(), input, "en", nil)
	if err == nil || !strings.Contains(err.Error(), "chunk 0 (0s to 3s): model exploded") {
		t.Errorf("engine failure: %v", err)
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Errorf("work dir not cleaned: %v", left)
	}
}
