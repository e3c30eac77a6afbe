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
	"sync/atomic"
	"time"

	"github.com/livestreams/livestreams/edgenode/transcode"
)

// Format is the container of the byte stream an adapter writes, as ffmpeg
// names its demuxer.
type Format string

// The containers ingest adapters produce.
const (
	FLV    Format = "flv"    // RTMP
	MPEGTS Format = "mpegts" // SRT, an SRS pull
)

// Source is what the publisher sends, as the adapter probed it.
type Source struct {
	Format                 Format
	Width, Height          int
	FrameRate              float64
	HasAudio, HasVideo     bool
	VideoCodec, AudioCodec string // ffmpeg's names ("h264", "aac"); "" when unknown
	// What the adapter measured of the video, 0 when unknown: the H.264
	// profile_idc, the bitrate and the keyframe interval. With them a
	// source that fits the top rung is passed through (transcode.Source).
	VideoProfile     int
	VideoKbps        int
	KeyframeInterval time.Duration
}

// End reports how a session ended.
type End struct {
	Reason         string // "unpublished", "stalled", "cancelled", "ingest_error", "ffmpeg_failed", "no_media", "edge_error"
	Err            error
	RecordingPath  string // "" when there is no kept recording
	RecordingBytes int64
	Duration       time.Duration
}

// errStalled is why a session whose input went silent ends.
var errStalled = errors.New("input stalled")

// Session is one live publish being transcoded. An adapter writes the
// container stream to it (Write), says what the source is once it knows
// (Start), and closes it when the publish ends (Close). Writes are not
// safe for concurrent use with each other; Cancel and Close may be called
// from any goroutine.
type Session struct {
	core  *Core
	grant Grant
	log   *slog.Logger
	ctx   context.Context // the core's: reports end with the node

	procCtx    context.Context // ffmpeg's: outlives the node's so it can flush
	procCancel context.CancelFunc

	lastWrite atomic.Int64 // unix ns of the last write, for the stall timer
	feeding   atomic.Bool  // a write to ffmpeg's stdin is in progress (not a silent input)
	writeMu   sync.Mutex   // serializes Start and Write into ffmpeg's stdin

	mu        sync.Mutex
	buffered  []byte // written before Start
	proc      *transcode.Process
	pack      *packaging // with proc
	stdin     io.WriteCloser
	src       Source
	startedAt time.Time
	endErr    error  // why the input ended; set once with ending
	reason    string // End.Reason chosen when the end was decided
	ending    chan struct{}
	startedC  chan struct{} // closed once ffmpeg runs
	done      chan struct{}
	reports   sync.WaitGroup
	taps      tapper // copies of the source for restream relays (tap.go)
}

func newSession(c *Core, base context.Context, g Grant, req PublishRequest) (*Session, error) {
	if g.SessionID == "" || g.HLSDir == "" {
		return nil, errors.New("grant without a session id or HLS directory")
	}
	if err := os.RemoveAll(g.HLSDir); err != nil {
		return nil, fmt.Errorf("clear hls dir: %w", err)
	}
	if err := os.MkdirAll(g.HLSDir, 0o755); err != nil {
		return nil, fmt.Errorf("create hls dir: %w", err)
	}
	if g.RecordPath != "" {
		if err := os.MkdirAll(filepath.Dir(g.RecordPath), 0o755); err != nil {
			return nil, fmt.Errorf("create recording dir: %w", err)
		}
	}
	log := g.Logger
	if log == nil {
		log = c.log
	}
	s := &Session{core: c, grant: g, ctx: base, log: log.With("session_id", g.SessionID),
		ending: make(chan struct{}), startedC: make(chan struct{}), done: make(chan struct{})}
	s.procCtx, s.procCancel = context.WithCancel(context.WithoutCancel(base))
	s.lastWrite.Store(time.Now().UnixNano())
	return s, nil
}

// ID returns the session id the Control granted.
func (s *Session) ID() string { return s.grant.SessionID }

// Done is closed when the session has fully ended (ffmpeg reaped, recording
// finalized, Ended reported).
func (s *Session) Done() <-chan struct{} { return s.done }

// SegmentLength is the segment length of the session's latency mode: a
// source whose keyframes are further apart is never passed through, so
// an adapter's probe need not wait longer for a second keyframe.
func (s *Session) SegmentLength() time.Duration { return s.grant.Latency.SegmentLength() }

// Write feeds container bytes (in the Format Start names) to the session.
// Before Start they are buffered, up to the core's MaxProbeBytes; past
// that the write fails and the session ends. An error ends the publish:
// the adapter should close its connection and the session.
func (s *Session) Write(p []byte) (int, error) {
	s.lastWrite.Store(time.Now().UnixNano())
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.taps.write(p)
	s.mu.Lock()
	if err := s.closedLocked(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if s.proc == nil {
		if len(s.buffered)+len(p) > s.core.cfg.MaxProbeBytes {
			s.mu.Unlock()
			err := fmt.Errorf("source not described within %d bytes", s.core.cfg.MaxProbeBytes)
			s.end(err, "no_media")
			return 0, err
		}
		s.buffered = append(s.buffered, p...)
		s.mu.Unlock()
		return len(p), nil
	}
	stdin := s.stdin
	s.mu.Unlock()
	s.feeding.Store(true)
	n, err := stdin.Write(p)
	s.feeding.Store(false)
	s.lastWrite.Store(time.Now().UnixNano())
	if err != nil {
		return n, fmt.Errorf("feed ffmpeg: %w", err)
	}
	return n, nil
}

// closedLocked is the error writes fail with once the end is decided.
func (s *Session) closedLocked() error {
	select {
	case <-s.ending:
		if s.endErr != nil {
			return s.endErr
		}
		return errors.New("session ended")
	default:
		return nil
	}
}

// Start says what the source is: ffmpeg starts with the ladder and the
// recording planned for it and receives what was buffered. It may be
// called once.
func (s *Session) Start(src Source) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if err := s.closedLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	if s.proc != nil {
		s.mu.Unlock()
		return errors.New("session already started")
	}
	proc, err := s.startLocked(src)
	if err != nil {
		s.mu.Unlock()
		s.end(err, "no_media")
		return err
	}
	buffered := s.buffered
	s.buffered = nil
	s.reports.Add(1)
	s.mu.Unlock()
	close(s.startedC)
	s.taps.started(src)
	go func() {
		defer s.reports.Done()
		s.core.cfg.Control.Started(s.ctx, s.grant, src)
	}()
	if _, err := proc.Stdin().Write(buffered); err != nil {
		return fmt.Errorf("feed ffmpeg: %w", err)
	}
	return nil
}

func (s *Session) startLocked(src Source) (*transcode.Process, error) {
	if !src.HasVideo {
		return nil, errors.New("no video in the first seconds of the publish")
	}
	if src.Format == "" {
		return nil, errors.New("source without a container format")
	}
	params := transcode.Params{
		Input: "pipe:0", InputFormat: string(src.Format),
		Source: transcode.Source{Width: src.Width, Height: src.Height, FrameRate: src.FrameRate, HasAudio: src.HasAudio, HasVideo: src.HasVideo, AudioCodec: src.AudioCodec,
			VideoCodec: src.VideoCodec, VideoProfile: src.VideoProfile, VideoKbps: src.VideoKbps, KeyframeInterval: src.KeyframeInterval},
		Mode:       transcode.Live,
		Latency:    s.grant.Latency,
		Window:     s.grant.DVRWindow,
		Ladder:     s.grant.Ladder,
		OutDir:     s.grant.HLSDir,
		RecordPath: s.grant.RecordPath,
		Progress:   true,
		Tag:        segmentTag(s.grant.SessionID),
		Pipes:      true,
	}
	args, err := transcode.Build(params)
	if err != nil {
		return nil, fmt.Errorf("build ffmpeg command: %w", err)
	}
	pk, err := newPackager(params, s.log)
	if err != nil {
		return nil, err
	}
	proc, err := transcode.Start(s.procCtx, transcode.ProcessConfig{Binary: s.core.cfg.FFmpeg, Args: args, Stdin: true, Logger: s.log,
		ExtraFiles: pk.writers})
	pk.closeWriters() // ffmpeg has its own copies; the pipes end when it exits
	if err != nil {
		pk.closeReaders()
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	s.pack = pk
	go pk.run(s.procCtx)
	s.proc, s.stdin, s.startedAt, s.src = proc, proc.Stdin(), time.Now(), src
	s.log.Info("transcoding", "format", src.Format, "width", src.Width, "height", src.Height, "fps", src.FrameRate,
		"audio", src.HasAudio, "pid", proc.PID())
	return proc, nil
}

// Cancel ends the session from the edge's side (stream disabled, edge
// shutting down): ffmpeg finishes and the adapter's next write fails.
func (s *Session) Cancel(reason error) { s.end(reason, "cancelled") }

// Close is the adapter's end of the publish: err is nil on a clean
// unpublish, else why the ingest ended. It returns at once; Done says
// when the session has finished.
func (s *Session) Close(err error) {
	reason := "unpublished"
	switch {
	case s.ctx.Err() != nil:
		reason, err = "cancelled", ErrShuttingDown
	case errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		reason = "stalled"
	case err != nil:
		reason = "ingest_error"
	}
	s.end(err, reason)
}

// end decides the end once; the session's goroutine carries it out.
func (s *Session) end(err error, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.ending:
		return
	default:
	}
	s.endErr, s.reason = err, reason
	close(s.ending)
}

// run is the session's goroutine (the Core owns it): it watches for the
// end, a stalled input and ffmpeg dying, then finishes the session.
func (s *Session) run(release func()) {
	stall := s.core.cfg.StallTimeout
	timer := time.NewTimer(stall)
	defer timer.Stop()
	var procDone <-chan struct{}
	started := s.startedC
	for waiting := true; waiting; {
		select {
		case <-s.ending:
			waiting = false
		case <-started:
			started, procDone = nil, s.proc.Done()
		case <-procDone:
			s.end(errors.New("ffmpeg exited during the publish"), "ffmpeg_failed")
		case <-timer.C:
			idle := time.Since(time.Unix(0, s.lastWrite.Load()))
			// A write blocked on a busy ffmpeg is not a silent input;
			// only one blocked for several stall times ends the session.
			if s.feeding.Load() && idle < 4*stall {
				idle = 0
			}
			if idle >= stall {
				s.end(errStalled, "stalled")
			} else {
				timer.Reset(stall - idle)
			}
		}
	}
	s.finish(release)
}

func (s *Session) finish(release func()) {
	s.taps.close()
	s.mu.Lock()
	proc := s.proc
	end := End{Reason: s.reason, Err: s.endErr}
	s.mu.Unlock()

	if proc == nil {
		if end.Reason != "cancelled" {
			end.Reason = "no_media"
		}
	} else {
		end.Duration = time.Since(s.startedAt)
		// Closing stdin lets ffmpeg flush, write #EXT-X-ENDLIST and exit;
		// it also fails a write blocked on it.
		if werr := proc.Stop(s.core.cfg.StopTimeout); werr != nil && end.Reason == "unpublished" {
			s.log.Warn("ffmpeg exited with error", "err", werr, "stderr", tail(proc.StderrTail(), 5))
		}
	}
	if s.pack != nil {
		// ffmpeg has exited, so its pipes are at their end: the
		// packager finishes the last segments and the playlists.
		<-s.pack.done
	}
	s.procCancel()
	if p := s.grant.RecordPath; p != "" {
		kept, ferr := transcode.FinalizeRecording(p)
		switch {
		case ferr != nil:
			s.log.Error("finalize recording", "err", ferr)
		case kept:
			if fi, err := os.Stat(p); err == nil {
				end.RecordingPath, end.RecordingBytes = p, fi.Size()
			}
		}
	}
	s.reports.Wait()
	release()
	s.log.Info("session ended", "reason", end.Reason, "recording_bytes", end.RecordingBytes, "duration", end.Duration.Round(time.Millisecond))
	s.core.cfg.Control.Ended(s.ctx, s.grant, end)
	close(s.done)
}

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

// PID returns the transcoder's process id, or 0 before it starts.
func (s *Session) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.PID()
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
