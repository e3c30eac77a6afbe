package transcode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// mediaPlaylist is what a viewer reads in a live media playlist.
type mediaPlaylist struct {
	sequence int
	segments []string
	ended    bool
}

// parseMediaPlaylist parses a media playlist as a player would, failing
// on anything a player would refuse.
func parseMediaPlaylist(text string) (mediaPlaylist, error) {
	var pl mediaPlaylist
	if !strings.HasPrefix(text, "#EXTM3U\n") {
		return pl, errors.New("no #EXTM3U header")
	}
	seenTarget, seenMap := false, false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"):
			n, err := strconv.Atoi(strings.TrimPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"))
			if err != nil {
				return pl, fmt.Errorf("media sequence %q", l)
			}
			pl.sequence = n
		case strings.HasPrefix(l, "#EXT-X-TARGETDURATION:"):
			seenTarget = true
		case strings.HasPrefix(l, "#EXT-X-MAP:"):
			seenMap = true
		case strings.HasPrefix(l, "#EXT-X-PLAYLIST-TYPE:"):
			return pl, fmt.Errorf("a live window with a playlist type: %q", l)
		case l == "#EXT-X-ENDLIST":
			pl.ended = true
		case l != "" && !strings.HasPrefix(l, "#"):
			pl.segments = append(pl.segments, l)
		}
	}
	if !seenTarget || !seenMap {
		return pl, errors.New("no target duration or no init segment")
	}
	return pl, nil
}

// TestFFmpegLiveWindow publishes 15 s in real time into a live ladder with
// a 6 s window of 1 s segments, while a viewer re-reads the playlist: it is
// always valid, lists only segments that exist, never lists more than the window, its media sequence only
// moves forward and passes 0; the segments that left it are still on disk.
func TestFFmpegLiveWindow(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	const window, seconds = 6, 15
	dir := t.TempDir()
	args, err := Build(Params{Input: "pipe:0", InputFormat: "flv", Mode: Live, Latency: Low, OutDir: dir,
		Window: window * time.Second, Source: Source{Width: 320, Height: 180, FrameRate: 30, HasVideo: true}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(t.Context(), ProcessConfig{Args: args, Stdin: true, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(time.Second) })

	pub := mediatest.Live{Spec: mediatest.Spec{Width: 320, Height: 180, Seconds: seconds, GOP: 30}}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	publisher := exec.CommandContext(ctx, "ffmpeg", pub.PublishArgs("pipe:1")...)
	publisher.Stdout, publisher.Stderr = p.Stdin(), testutil.LogWriter(t, "publisher: ")
	if err := publisher.Start(); err != nil {
		t.Fatal(err)
	}

	// The viewer: re-reads the playlist until the publish ends.
	path := filepath.Join(dir, "180p", "index.m3u8")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, maxListed, lastSeq int
	var viewErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			b, err := os.ReadFile(path)
			if os.IsNotExist(err) {
				continue
			}
			if err == nil {
				var pl mediaPlaylist
				pl, err = parseMediaPlaylist(string(b))
				if err == nil && pl.sequence < lastSeq {
					err = fmt.Errorf("media sequence went back from %d to %d", lastSeq, pl.sequence)
				}
				for _, seg := range pl.segments {
					if _, serr := os.Stat(filepath.Join(dir, "180p", seg)); serr != nil && err == nil {
						err = fmt.Errorf("listed segment: %w", serr)
					}
				}
				reads, maxListed, lastSeq = reads+1, max(maxListed, len(pl.segments)), pl.sequence
			}
			if err != nil {
				viewErr = err
				return
			}
		}
	}()

	pubErr := publisher.Wait()
	p.Stdin().Close()
	waitErr := p.Wait()
	close(stop)
	wg.Wait()
	if pubErr != nil || waitErr != nil {
		t.Fatalf("publisher: %v; ffmpeg: %v\n%s", pubErr, waitErr, strings.Join(p.StderrTail(), "\n"))
	}
	if viewErr != nil {
		t.Fatalf("a viewer read an invalid playlist after %d reads: %v", reads, viewErr)
	}
	if reads < 50 || maxListed > window || lastSeq == 0 {
		t.Errorf("%d reads; at most %d segments listed (window %d); last media sequence %d (want > 0)", reads, maxListed, window, lastSeq)
	}

	final, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := parseMediaPlaylist(string(final))
	if err != nil || !pl.ended || len(pl.segments) > window || pl.sequence < seconds-window-2 {
		t.Fatalf("final playlist (err %v, ended %v, %d segments, sequence %d):\n%s", err, pl.ended, len(pl.segments), pl.sequence, final)
	}
	// Segments that left the window are kept on disk.
	onDisk, _ := filepath.Glob(filepath.Join(dir, "180p", "*.m4s"))
	if len(onDisk) < pl.sequence+len(pl.segments) {
		t.Errorf("%d segments on disk, want %d (none deleted)", len(onDisk), pl.sequence+len(pl.segments))
	}
	t.Logf("%d playlist reads, at most %d segments listed, final media sequence %d, %d segments on disk", reads, maxListed, pl.sequence, len(onDisk))
}
