// Package live runs one publish on an edge: it receives the publisher's
// media from an ingest (RTMP today; SRT and WHIP later) through the small
// rtmp.Sink-shaped interface, learns what the source is, starts one ffmpeg
// that makes the HLS ladder and the crash-safe recording, feeds it FLV, and
// finalizes everything when the publish ends. It knows nothing of stream
// keys or the control plane: the edge node passes what it needs in.
package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/livestreams/livestreams/edgenode/flv"
	"github.com/livestreams/livestreams/edgenode/rtmp"
	"github.com/livestreams/livestreams/edgenode/transcode"
)

// Config describes one session.
type Config struct {
	ID         string
	Latency    transcode.Latency
	HLSDir     string // where the ladder is written (emptied first)
	RecordPath string // "" disables recording
	FFmpeg     string
	Ladder     []transcode.Rung // nil = default
	Logger     *slog.Logger
	// ProbeTimeout bounds how long media is buffered to learn the source
	// before ffmpeg starts regardless (default 3 s of media timestamps).
	ProbeTimeout time.Duration
	// OnStart is called once ffmpeg runs, with what the source is.
	OnStart func(Source)
	// OnEnd is called exactly once when the session is over.
	OnEnd func(End)
}

// Source is what the publisher sends.
type Source = flv.StreamInfo

// End reports how a session ended.
type End struct {
	Reason         string // "unpublished", "stalled", "cancelled", "ffmpeg_failed", "no_media", ...
	Err            error
	RecordingPath  string // "" when there is no kept recording
	RecordingBytes int64
	Duration       time.Duration
}

// Session is one live publish being transcoded.
type Session struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	probe    prober
	buffered []rtmp.Message
	bufBytes int
	proc     *transcode.Process
	fw       *flv.Writer
	src      Source
	stdin    io.WriteCloser
	started  time.Time
	ended    bool
	cancel   error // set by Cancel; the next write fails with it

	ctx       context.Context
	ctxCancel context.CancelFunc
	done      chan struct{}
}

// Bounds on what is buffered while probing, so a hostile publisher cannot
// make the edge hold unbounded memory before ffmpeg starts.
const (
	maxProbeMessages = 2000
	maxProbeBytes    = 16 << 20
)

// New prepares a session; ffmpeg starts once the source is known.
func New(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ProbeTimeout == 0 {
		cfg.ProbeTimeout = 3 * time.Second
	}
	if err := os.RemoveAll(cfg.HLSDir); err != nil {
		return nil, fmt.Errorf("clear hls dir: %w", err)
	}
	if err := os.MkdirAll(cfg.HLSDir, 0o755); err != nil {
		return nil, fmt.Errorf("create hls dir: %w", err)
	}
	if cfg.RecordPath != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.RecordPath), 0o755); err != nil {
			return nil, fmt.Errorf("create recording dir: %w", err)
		}
	}
	s := &Session{cfg: cfg, log: cfg.Logger.With("session_id", cfg.ID), done: make(chan struct{})}
	s.ctx, s.ctxCancel = context.WithCancel(ctx)
	return s, nil
}

// Done is closed when the session has fully ended (ffmpeg reaped, recording
// finalized, OnEnd called).
func (s *Session) Done() <-chan struct{} { return s.done }

// Progress returns ffmpeg's latest progress report.
func (s *Session) Progress() transcode.Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return transcode.Progress{}
	}
	return s.proc.Progress()
}

// StderrTail returns ffmpeg's last stderr lines, for the session log.
func (s *Session) StderrTail() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	return s.proc.StderrTail()
}

// WriteMessage implements rtmp.Sink.
func (s *Session) WriteMessage(m rtmp.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return s.cancel
	}
	if s.ended {
		return errors.New("session ended")
	}
	if s.proc == nil {
		s.probe.observe(m)
		s.buffered = append(s.buffered, m) // the sink owns the payload
		s.bufBytes += len(m.Payload)
		if !s.probe.ready(s.cfg.ProbeTimeout) && len(s.buffered) < maxProbeMessages && s.bufBytes < maxProbeBytes {
			return nil
		}
		if err := s.startLocked(); err != nil {
			s.cancel = err
			return err
		}
		return nil
	}
	return s.writeLocked(m)
}

func (s *Session) writeLocked(m rtmp.Message) error {
	// Audio that starts after the probe decided there was none has no place
	// in the ffmpeg graph; drop it rather than confuse the demuxer.
	if m.Type == rtmp.TypeAudio && !s.src.HasAudio {
		return nil
	}
	if err := s.fw.WriteTag(flv.Tag{Type: m.Type, Timestamp: m.Timestamp, Data: m.Payload}); err != nil {
		return fmt.Errorf("feed ffmpeg: %w", err)
	}
	return nil
}

func (s *Session) startLocked() error {
	src := s.probe.source()
	if !src.HasVideo {
		return errors.New("no video in the first seconds of the publish")
	}
	args, err := transcode.Build(transcode.Params{
		Input: "pipe:0", InputFormat: "flv",
		Source:     transcode.Source{Width: src.Width, Height: src.Height, FrameRate: src.FrameRate, HasAudio: src.HasAudio, HasVideo: src.HasVideo},
		Mode:       transcode.Live,
		Latency:    s.cfg.Latency,
		Ladder:     s.cfg.Ladder,
		OutDir:     s.cfg.HLSDir,
		RecordPath: s.cfg.RecordPath,
		Progress:   true,
		Tag:        segmentTag(s.cfg.ID),
	})
	if err != nil {
		return fmt.Errorf("build ffmpeg command: %w", err)
	}
	proc, err := transcode.Start(s.ctx, transcode.ProcessConfig{Binary: s.cfg.FFmpeg, Args: args, Stdin: true, Logger: s.log})
	if err != nil {
		return fmt.Errorf("start ffmpeg: %w", err)
	}
	s.proc, s.stdin, s.started, s.src = proc, proc.Stdin(), time.Now(), src
	s.fw = flv.NewWriter(s.stdin, src.HasAudio, src.HasVideo)
	if err := s.fw.WriteHeader(); err != nil {
		return fmt.Errorf("feed ffmpeg: %w", err)
	}
	s.log.Info("transcoding", "width", src.Width, "height", src.Height, "fps", src.FrameRate, "audio", src.HasAudio, "pid", proc.PID())
	for _, m := range s.buffered {
		if err := s.writeLocked(m); err != nil {
			return err
		}
	}
	s.buffered, s.bufBytes = nil, 0
	if s.cfg.OnStart != nil {
		go s.cfg.OnStart(src)
	}
	return nil
}

// Cancel ends the session from the edge's side (stream disabled, edge
// shutting down): the publisher's next write fails and ffmpeg stops.
func (s *Session) Cancel(reason error) {
	s.mu.Lock()
	if s.cancel == nil {
		s.cancel = reason
	}
	s.mu.Unlock()
}

// Close implements rtmp.Sink: the publish is over (err nil on a clean
// unpublish). It finishes ffmpeg, finalizes the recording and reports.
func (s *Session) Close(err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	proc, cancelled := s.proc, s.cancel
	s.mu.Unlock()

	end := End{Reason: "unpublished", Err: err}
	switch {
	case cancelled != nil:
		end.Reason, end.Err = "cancelled", cancelled
	case errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		end.Reason = "stalled"
	case err != nil:
		end.Reason = "ingest_error"
	}
	if proc == nil {
		end.Reason = "no_media"
	} else {
		end.Duration = time.Since(s.started)
		// Closing stdin lets ffmpeg flush, write #EXT-X-ENDLIST and exit.
		if werr := proc.Stop(10 * time.Second); werr != nil && end.Err == nil && cancelled == nil {
			s.log.Warn("ffmpeg exited with error", "err", werr, "stderr", tail(proc.StderrTail(), 5))
		}
	}
	s.ctxCancel()
	if s.cfg.RecordPath != "" {
		kept, ferr := transcode.FinalizeRecording(s.cfg.RecordPath)
		switch {
		case ferr != nil:
			s.log.Error("finalize recording", "err", ferr)
		case kept:
			if fi, err := os.Stat(s.cfg.RecordPath); err == nil {
				end.RecordingPath, end.RecordingBytes = s.cfg.RecordPath, fi.Size()
			}
		}
	}
	s.log.Info("session ended", "reason", end.Reason, "recording_bytes", end.RecordingBytes, "duration", end.Duration.Round(time.Millisecond))
	if s.cfg.OnEnd != nil {
		s.cfg.OnEnd(end)
	}
	close(s.done)
}

// segmentTag turns the session id into the token that makes this session's
// segment names unique (they are served as immutable), within the
// transcoder's name rules.
func segmentTag(id string) string {
	var b []byte
	for i := 0; i < len(id) && len(b) < 32; i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b = append(b, c)
		}
	}
	return string(b)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// PID returns the transcoder's process id, or 0 before it starts.
func (s *Session) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.PID()
}
