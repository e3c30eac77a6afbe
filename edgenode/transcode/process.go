package transcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ProcessConfig describes one ffmpeg run.
type ProcessConfig struct {
	Binary string // "" = "ffmpeg" from PATH
	Args   []string
	// Stdin gives the caller a pipe to ffmpeg's standard input (for input
	// "pipe:0"); otherwise ffmpeg's stdin is /dev/null.
	Stdin  bool
	Logger *slog.Logger
	// StderrLines is how many of ffmpeg's last stderr lines are kept
	// (default 200).
	StderrLines int
	// OnProgress is called from the progress reader for every block ffmpeg
	// reports on stdout (see Params.Progress). It must not block for long.
	OnProgress func(Progress)
	// ExtraFiles are given to ffmpeg as file descriptors 3, 4, … (the
	// pipes of Params.Pipes). The caller closes its copies after Start.
	ExtraFiles []*os.File
	// Nice, above 0, runs ffmpeg that much below normal CPU priority
	// (through nice(1), which execs it: the process id is ffmpeg's). Media
	// jobs and on-demand thumbnails use it so that they yield to live
	// ladders, which run at normal priority.
	Nice int
}

// Signal timing. ffmpeg treats SIGTERM like "q": it stops reading, flushes
// the encoders, writes trailers and playlists, and exits.
const (
	// termGrace is how long ffmpeg gets after SIGTERM before SIGKILL.
	termGrace = 3 * time.Second
)

// Process is a running ffmpeg. It is reaped by its own goroutine, which
// ends when ffmpeg does; its owner must Stop it or cancel the context
// given to Start, and may Wait for it from any number of goroutines.
type Process struct {
	cmd        *exec.Cmd
	pid        int
	stdin      io.WriteCloser
	log        *slog.Logger
	stderr     *lineRing
	onProgress func(Progress)

	mu        sync.Mutex
	progress  Progress
	reaped    bool
	killTimer *time.Timer

	stopOnce sync.Once
	done     chan struct{}
	err      error // written before done is closed
}

// Start runs ffmpeg in its own process group, so a terminal's Ctrl-C goes
// to the edge (which stops ffmpeg gracefully) rather than straight to
// ffmpeg. When ctx is done ffmpeg gets SIGTERM, and SIGKILL termGrace
// later.
func Start(ctx context.Context, cfg ProcessConfig) (*Process, error) {
	bin := cfg.Binary
	if bin == "" {
		bin = "ffmpeg"
	}
	if len(cfg.Args) == 0 {
		return nil, fmt.Errorf("start %s: no arguments", bin)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lines := cfg.StderrLines
	if lines <= 0 {
		lines = 200
	}
	p := &Process{
		log:        log,
		stderr:     newLineRing(lines, log),
		onProgress: cfg.OnProgress,
		done:       make(chan struct{}),
	}

	bin, args := Niced(cfg.Nice, bin, cfg.Args)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = p.cancel
	// WaitDelay also bounds how long Wait waits for the output pipes after
	// ffmpeg exits, should anything it started keep them open.
	cmd.WaitDelay = termGrace
	cmd.Stderr = p.stderr
	cmd.ExtraFiles = cfg.ExtraFiles
	// Stdout is a writer, not a file, so exec copies it and cmd.Wait waits
	// for the copy: the reaper is the only goroutine that waits on ffmpeg.
	progressR, progressW := io.Pipe()
	cmd.Stdout = progressW
	if cfg.Stdin {
		w, err := cmd.StdinPipe()
		if err != nil {
			return nil, fmt.Errorf("start %s: stdin: %w", bin, err)
		}
		p.stdin = w
	}
	p.cmd = cmd
	if err := cmd.Start(); err != nil {
		progressR.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p.pid = cmd.Process.Pid
	p.log = log.With("pid", p.pid)
	p.stderr.setLogger(p.log)
	p.log.Debug("ffmpeg started")

	parsed := make(chan struct{})
	go func() {
		defer close(parsed)
		_ = ParseProgress(progressR, p.setProgress) // fails only when the pipe is closed
		_, _ = io.Copy(io.Discard, progressR)       // never block the copy into the pipe
	}()
	go p.reap(progressW, parsed)
	return p, nil
}

// reap is the only caller of cmd.Wait.
func (p *Process) reap(progressW *io.PipeWriter, parsed <-chan struct{}) {
	err := p.cmd.Wait()
	p.mu.Lock()
	p.reaped = true
	if p.killTimer != nil {
		p.killTimer.Stop()
	}
	p.mu.Unlock()
	progressW.Close()
	<-parsed
	p.stderr.flush()
	if err != nil {
		err = fmt.Errorf("ffmpeg pid %d: %w", p.pid, err)
	}
	p.log.Debug("ffmpeg exited", "err", err)
	p.err = err
	close(p.done)
}

func (p *Process) setProgress(pr Progress) {
	p.mu.Lock()
	p.progress = pr
	p.mu.Unlock()
	if p.onProgress != nil {
		p.onProgress(pr)
	}
}

// Stdin is ffmpeg's standard input, or nil unless ProcessConfig.Stdin was
// set. Closing it tells ffmpeg the input is over.
func (p *Process) Stdin() io.WriteCloser { return p.stdin }

// Progress returns the latest progress block (zero before the first).
func (p *Process) Progress() Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.progress
}

// StderrTail returns a copy of ffmpeg's last stderr lines, oldest first.
func (p *Process) StderrTail() []string { return p.stderr.tail() }

// PID returns ffmpeg's process id (also its process group id).
func (p *Process) PID() int { return p.pid }

// Done is closed once ffmpeg has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for ffmpeg to exit and returns why it did: nil after a clean
// exit, else an error wrapping *exec.ExitError (or the context's error).
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Stop ends ffmpeg gracefully and waits until it is reaped. With a stdin
// pipe it closes stdin, which ffmpeg treats as the end of input: it flushes
// and writes the final playlists (#EXT-X-ENDLIST). Without one, or if ffmpeg
// has not exited within timeout, it sends SIGTERM; if that does not end it
// (within timeout, or termGrace after stdin's timeout), it kills ffmpeg's
// whole process group. Stop may be called any number of
// times from any goroutine; every call returns Wait's result.
func (p *Process) Stop(timeout time.Duration) error {
	p.stopOnce.Do(func() { p.stop(timeout) })
	return p.Wait()
}

func (p *Process) stop(timeout time.Duration) {
	if p.stdin != nil {
		_ = p.stdin.Close() // an error means it is closed already
	} else {
		_ = p.terminate()
	}
	if p.exitsWithin(timeout) {
		return
	}
	if p.stdin != nil {
		p.log.Warn("ffmpeg did not exit after its input ended; terminating", "timeout", timeout)
		_ = p.terminate()
		if p.exitsWithin(termGrace) {
			return
		}
	}
	p.log.Warn("ffmpeg did not stop; killing its process group")
	p.killGroup()
}

func (p *Process) exitsWithin(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// terminate asks ffmpeg to finish. os.Process.Signal is safe against the
// reaper: after cmd.Wait it returns os.ErrProcessDone instead of
// signalling a reused pid.
func (p *Process) terminate() error {
	return p.cmd.Process.Signal(syscall.SIGTERM)
}

// cancel is cmd.Cancel, run when Start's context is done: SIGTERM now, the
// group kill termGrace later. (exec's own WaitDelay kill reaches ffmpeg
// only, not what it started.)
func (p *Process) cancel() error {
	if err := p.terminate(); err != nil {
		return err
	}
	p.mu.Lock()
	if !p.reaped && p.killTimer == nil {
		p.killTimer = time.AfterFunc(termGrace, p.killGroup)
	}
	p.mu.Unlock()
	return nil
}

// killGroup sends SIGKILL to ffmpeg and anything it started. The group id
// is ffmpeg's pid, which the kernel does not reuse before ffmpeg is reaped;
// reaped is set right after cmd.Wait returns, so the window in which the
// pid could be reused and signalled by mistake would need a full pid
// wraparound within it.
func (p *Process) killGroup() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return
	}
	if err := syscall.Kill(-p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		p.log.Warn("kill ffmpeg process group", "err", err)
	}
}

// Niced returns the program and arguments that run bin with args n below
// normal CPU priority: nice -n N bin args..., or bin itself for n <= 0 or
// where there is no nice(1). nice sets the priority before exec, so every
// thread ffmpeg starts has it (Linux priorities are per thread: lowering
// them after the start would miss threads already made).
func Niced(n int, bin string, args []string) (string, []string) {
	if n <= 0 {
		return bin, args
	}
	nice, err := exec.LookPath("nice")
	if err != nil {
		return bin, args
	}
	return nice, append([]string{"-n", strconv.Itoa(n), bin}, args...)
}
