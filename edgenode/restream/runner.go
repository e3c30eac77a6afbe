package restream

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/livestreams/livestreams/edgenode/flv"
	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/rtmp"
	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/protocol"
)

// Source opens taps on the edge's live sessions (live.Core).
type Source interface {
	Tap(ctx context.Context, sessionID string, buffer int) (*live.Tap, error)
}

// Control is what a relay asks of the control plane.
type Control interface {
	// Credentials returns the target's URL and key for a job this edge
	// holds. A protocol.Error with CodeNotFound means the job is no
	// longer this edge's.
	Credentials(ctx context.Context, jobID string) (protocol.RestreamCredentials, error)
	// Status reports a change of the relay's state.
	Status(ctx context.Context, s protocol.RestreamStatus) error
}

// Defaults for zero Config fields.
const (
	DefaultBackoffMin  = 500 * time.Millisecond
	DefaultBackoffMax  = 10 * time.Second
	DefaultMaxFailures = 30
)

// Config configures a Runner.
type Config struct {
	Source  Source  // required
	Control Control // required
	FFmpeg  string  // "" is ffmpeg from PATH
	Logger  *slog.Logger
	// BackoffMin is the wait after the first failed connection to the
	// target, doubled after each further one up to BackoffMax.
	BackoffMin, BackoffMax time.Duration
	// MaxFailures consecutive failed connections end the job (failed).
	MaxFailures int
	// TLSConfig is used for rtmps targets (nil: the system roots).
	TLSConfig *tls.Config
}

// Runner runs restream jobs (the edge's job loop calls Run).
type Runner struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	pids map[int]struct{}
}

// NewRunner checks cfg and returns a Runner.
func NewRunner(cfg Config) (*Runner, error) {
	if cfg.Source == nil || cfg.Control == nil {
		return nil, errors.New("restream: Config.Source and Config.Control are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(DefaultBackoffMax, cfg.BackoffMin)
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	return &Runner{cfg: cfg, log: cfg.Logger, pids: map[int]struct{}{}}, nil
}

// Types lists the job types the Runner runs.
func (r *Runner) Types() []string { return []string{protocol.JobRestream} }

// PIDs lists the relays' running ffmpeg processes.
func (r *Runner) PIDs() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, 0, len(r.pids))
	for pid := range r.pids {
		out = append(out, pid)
	}
	return out
}

// permanentError is a failure retrying cannot fix.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// Permanent marks the error as one the job loop reports as permanent.
func (e permanentError) Permanent() bool { return true }

// IsPermanent reports whether a job's error should not be retried.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Run relays job's session to its target until the session ends (nil),
// ctx ends (the job was cancelled or the edge stops: ctx's error), or the
// relay fails.
func (r *Runner) Run(ctx context.Context, job protocol.Job, _ func(protocol.JobProgress)) (protocol.MediaResult, error) {
	var p protocol.RestreamJob
	if err := json.Unmarshal(job.Payload, &p); err != nil || p.SessionID == "" {
		return protocol.MediaResult{}, permanentError{errors.New("restream job without a session")}
	}
	log := r.log.With("job_id", job.ID, "target_id", p.TargetID, "session_id", p.SessionID)
	tap, err := r.cfg.Source.Tap(ctx, p.SessionID, 0)
	if err != nil {
		return protocol.MediaResult{}, permanentError{fmt.Errorf("tap session %s: %w", p.SessionID, err)}
	}
	defer tap.Close()
	creds, err := r.cfg.Control.Credentials(ctx, job.ID)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && (pe.Code == protocol.CodeNotFound || pe.Code == protocol.CodeInvalid) {
			return protocol.MediaResult{}, permanentError{fmt.Errorf("restream credentials: %w", err)}
		}
		return protocol.MediaResult{}, fmt.Errorf("restream credentials: %w", err)
	}
	src, err := tap.Source(ctx)
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("wait for the session's source: %w", err)
	}

	rep := newReporter(ctx, r.cfg.Control, job.ID, log)
	defer rep.close()
	err = r.relay(ctx, log, tap, src, creds, rep)
	switch {
	case ctx.Err() != nil:
		return protocol.MediaResult{}, ctx.Err()
	case err != nil:
		if IsPermanent(err) {
			rep.report(protocol.RestreamFailed, err.Error())
		}
		log.Warn("restream ended", "err", err)
		return protocol.MediaResult{}, err
	}
	log.Info("restream ended with the session")
	return protocol.MediaResult{}, nil
}

// relay runs ffmpeg on the tap and publishes its output.
func (r *Runner) relay(ctx context.Context, log *slog.Logger, tap *live.Tap, src live.Source, creds protocol.RestreamCredentials, rep *reporter) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("restream: %w", err)
	}
	defer outR.Close()
	proc, err := transcode.Start(ctx, transcode.ProcessConfig{Binary: r.cfg.FFmpeg, Args: Args(src), Stdin: true,
		Logger: log, StderrLines: 50, ExtraFiles: []*os.File{outW}})
	outW.Close()
	if err != nil {
		return fmt.Errorf("restream: %w", err)
	}
	r.mu.Lock()
	r.pids[proc.PID()] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.pids, proc.PID())
		r.mu.Unlock()
	}()
	log.Info("restream started", "pid", proc.PID(), "format", src.Format, "audio", src.AudioCodec)

	var feed sync.WaitGroup
	feed.Add(1)
	go func() {
		defer feed.Done()
		stdin := proc.Stdin()
		_, err := io.Copy(stdin, tap)
		if err != nil && ctx.Err() == nil {
			log.Warn("restream source ended", "err", err)
		}
		stdin.Close()
	}()

	t := &target{cfg: r.cfg, ctx: ctx, log: log, creds: creds, rep: rep, backoff: r.cfg.BackoffMin}
	relayErr := t.run(bufio.NewReaderSize(outR, 64<<10))
	t.close()
	outR.Close() // ffmpeg's next write fails if it is still writing
	werr := proc.Stop(2 * time.Second)
	tap.Close() // ends the feed if ffmpeg stopped first
	feed.Wait()
	if relayErr == nil && werr != nil && ctx.Err() == nil {
		relayErr = fmt.Errorf("ffmpeg: %w (%s)", werr, strings.Join(tail(proc.StderrTail(), 3), " | "))
	}
	return relayErr
}

func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// dialResult is the outcome of one connection attempt.
type dialResult struct {
	pub *rtmp.Publisher
	err error
}

// target is the relay's side of the connection to the target: it
// forwards ffmpeg's tags while connected and reconnects in the
// background while not, so ffmpeg (and the tap behind it) never waits
// for a dead target.
type target struct {
	cfg   Config
	ctx   context.Context
	log   *slog.Logger
	creds protocol.RestreamCredentials
	rep   *reporter

	pub      *rtmp.Publisher
	dialing  chan dialResult // the attempt in flight, if any
	dials    sync.WaitGroup
	next     time.Time // earliest next attempt
	backoff  time.Duration
	failures int
	needKey  bool

	meta, vseq, aseq *flv.Tag // replayed to every new connection
}

// run reads ffmpeg's FLV until it ends.
func (t *target) run(r *bufio.Reader) error {
	if err := readHeader(r); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil // the source ended before ffmpeg wrote anything
		}
		return err
	}
	t.dial()
	for {
		tag, err := readTag(r)
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		setup, key := tagKind(tag)
		if setup {
			switch tag.Type {
			case flv.TagScript:
				t.meta = &tag
			case flv.TagVideo:
				t.vseq = &tag
			case flv.TagAudio:
				t.aseq = &tag
			}
		}
		if err := t.poll(); err != nil {
			return err
		}
		if t.pub == nil || (t.needKey && !setup && !key) {
			continue
		}
		if key {
			t.needKey = false
		}
		if err := t.pub.WriteMessage(rtmp.Message{Type: tag.Type, Timestamp: tag.Timestamp, Payload: tag.Data}); err != nil {
			t.lost(err)
		}
	}
}

// dial starts a connection attempt.
func (t *target) dial() {
	ch := make(chan dialResult, 1)
	t.dialing = ch
	t.dials.Add(1)
	go func() {
		defer t.dials.Done()
		pub, err := rtmp.Publish(t.ctx, rtmp.PublishConfig{URL: t.creds.URL, Key: t.creds.Key, TLSConfig: t.cfg.TLSConfig})
		ch <- dialResult{pub, err}
	}()
}

// poll takes the outcome of an attempt in flight and starts the next one
// when it is due. It fails once the target refused too many times.
func (t *target) poll() error {
	if t.pub != nil {
		if err := t.pub.Err(); err != nil {
			t.lost(err)
		}
	}
	if t.dialing != nil {
		select {
		case res := <-t.dialing:
			t.dialing = nil
			if res.err != nil {
				t.failures++
				t.next = time.Now().Add(t.backoff)
				t.backoff = min(t.backoff*2, t.cfg.BackoffMax)
				t.log.Warn("restream target unreachable", "attempt", t.failures, "err", res.err)
				t.rep.report(protocol.RestreamReconnecting, res.err.Error())
				if t.failures >= t.cfg.MaxFailures {
					return permanentError{fmt.Errorf("target unreachable after %d attempts: %w", t.failures, res.err)}
				}
				break
			}
			t.pub, t.failures, t.backoff, t.needKey = res.pub, 0, t.cfg.BackoffMin, true
			t.log.Info("restream target connected")
			t.rep.report(protocol.RestreamLive, "")
			for _, s := range []*flv.Tag{t.meta, t.vseq, t.aseq} {
				if s != nil {
					if err := t.pub.WriteMessage(rtmp.Message{Type: s.Type, Timestamp: s.Timestamp, Payload: s.Data}); err != nil {
						t.lost(err)
						break
					}
				}
			}
		default:
		}
	}
	if t.pub == nil && t.dialing == nil && !time.Now().Before(t.next) {
		t.dial()
	}
	return nil
}

// lost drops a connection that failed; the next attempt follows the
// backoff.
func (t *target) lost(err error) {
	if t.pub == nil {
		return
	}
	t.pub.Close()
	t.pub = nil
	t.next = time.Now().Add(t.backoff)
	t.log.Warn("restream target connection lost", "err", err)
	t.rep.report(protocol.RestreamReconnecting, err.Error())
}

// close ends the connection and waits for an attempt in flight.
func (t *target) close() {
	if t.pub != nil {
		t.pub.Close()
		t.pub = nil
	}
	if t.dialing != nil {
		// Publish's setup is bounded by its handshake timeout.
		if res := <-t.dialing; res.pub != nil {
			res.pub.Close()
		}
		t.dialing = nil
	}
	t.dials.Wait()
}

// reporter sends status changes to the control plane in order, off the
// relay's path; only the latest of a burst matters.
type reporter struct {
	ctrl  Control
	jobID string
	log   *slog.Logger
	ctx   context.Context
	ch    chan protocol.RestreamStatus
	done  chan struct{}
	last  string
}

func newReporter(ctx context.Context, ctrl Control, jobID string, log *slog.Logger) *reporter {
	rep := &reporter{ctrl: ctrl, jobID: jobID, log: log, ctx: context.WithoutCancel(ctx),
		ch: make(chan protocol.RestreamStatus, 16), done: make(chan struct{})}
	go rep.run()
	return rep
}

// report queues a change of status; a repeat of the last one is dropped,
// as is a report the queue has no room for.
func (r *reporter) report(status, msg string) {
	if status == r.last && status != protocol.RestreamReconnecting {
		return
	}
	r.last = status
	select {
	case r.ch <- protocol.RestreamStatus{JobID: r.jobID, Status: status, Error: truncate(msg, 500), At: time.Now().UTC()}:
	default:
	}
}

func (r *reporter) run() {
	defer close(r.done)
	for s := range r.ch {
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		if err := r.ctrl.Status(ctx, s); err != nil {
			r.log.Debug("report restream status", "status", s.Status, "err", err)
		}
		cancel()
	}
}

// close sends what is queued and stops.
func (r *reporter) close() {
	close(r.ch)
	<-r.done
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
