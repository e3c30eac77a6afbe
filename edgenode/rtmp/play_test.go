package rtmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/flv"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// serveWithFFmpeg runs ffmpeg as an RTMP server (-listen 1) that plays
// file, in real time, to the first client of rtmp://ADDR/live/name.
func serveWithFFmpeg(t *testing.T, file, name string) string {
	t.Helper()
	addr := testutil.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", file,
		"-c", "copy", "-f", "flv", "-listen", "1", "rtmp://"+addr+"/live/"+name)
	cmd.Stderr = testutil.LogWriter(t, "ffmpeg server: ")
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	return addr
}

// TestPlayFromFFmpeg pulls a stream from ffmpeg acting as an RTMP server:
// metadata, sequence headers and every frame arrive, and the end of the
// stream ends Play without an error.
func TestPlayFromFFmpeg(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	t.Parallel()
	file := mediatest.Remuxed(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 2, Audio: true}, "flv")
	addr := serveWithFFmpeg(t, file, "stream1")
	var info flv.StreamInfo
	var msgs []Message
	var err error
	testutil.Until(t, 20*time.Second, "a play to complete", func() error {
		msgs, info = nil, flv.StreamInfo{}
		err = Play(testutil.Context(t, 20*time.Second), PlayConfig{URL: "rtmp://" + addr + "/live/stream1"}, func(m Message) error {
			msgs = append(msgs, m)
			info.Observe(flv.Tag{Type: m.Type, Timestamp: m.Timestamp, Data: m.Payload})
			return nil
		})
		if len(msgs) == 0 {
			return fmt.Errorf("no media yet (%v)", err) // ffmpeg not listening yet
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	if info.Width != 320 || info.Height != 180 || !info.HasAudio || info.VideoCodec != "h264" {
		t.Errorf("stream info %+v", info)
	}
	if msgs[0].Type != TypeData || !strings.Contains(string(msgs[0].Payload[:16]), "onMetaData") {
		t.Errorf("first message type %d, want onMetaData", msgs[0].Type)
	}
	checkMedia(t, msgs, 2000)
}

// TestPlayRefusedByIngestServer: our own server refuses to play, and Play
// says so; a cancelled context ends Play at once; bad URLs are refused.
func TestPlayRefusedByIngestServer(t *testing.T) {
	t.Parallel()
	addr, _ := startServer(t, Config{OnPublish: newPublishRecorder().OnPublish})
	err := Play(testutil.Context(t, 10*time.Second), PlayConfig{URL: "rtmp://" + addr + "/live/" + testKey}, func(Message) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "NetStream.Play.Failed") || strings.Contains(err.Error(), testKey) {
		t.Errorf("Play against an ingest-only server: %v", err)
	}
	for _, u := range []string{"http://x/live/a", "rtmp:///live/a", "rtmp://h/live", "rtmp://h//a", "::"} {
		if err := Play(context.Background(), PlayConfig{URL: u}, nil); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}

	// A server that never answers: the context ends the play.
	ln := listenSilent(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Play(ctx, PlayConfig{URL: "rtmp://" + ln + "/live/x", HandshakeTimeout: time.Minute}, nil)
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Play after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Play ignored its context")
	}
}

// listenSilent accepts connections on a free port and never answers.
func listenSilent(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}
