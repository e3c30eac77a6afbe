package transcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

// startSh runs a shell script as the supervised process.
func startSh(t *testing.T, ctx context.Context, script string, mod func(*ProcessConfig)) *Process {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cfg := ProcessConfig{Binary: sh, Args: []string{"-c", script}, Logger: testutil.Logger(t)}
	if mod != nil {
		mod(&cfg)
	}
	p, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { p.Stop(time.Second) })
	return p
}

// waitDone fails the test if p has not exited within d.
func waitDone(t *testing.T, p *Process, d time.Duration) error {
	t.Helper()
	select {
	case <-p.Done():
		return p.Wait()
	case <-time.After(d):
		t.Fatalf("process %d still running after %v", p.PID(), d)
		return nil
	}
}

// requireGone checks that pid was reaped: the kernel no longer knows it.
func requireGone(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("pid %d still exists (kill 0: %v)", pid, err)
	}
}

// requireDead checks that pid is gone or a zombie waiting for a parent
// that is not us (an orphan in a container whose init does not reap).
func requireDead(t *testing.T, pid int) {
	t.Helper()
	testutil.Until(t, 5*time.Second, fmt.Sprintf("pid %d to die", pid), func() error {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return nil
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("alive: %s", stat)
	})
}

// readPID polls for the pid a script writes to a file.
func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	testutil.Until(t, 5*time.Second, "a pid in "+path, func() error {
		b, err := os.ReadFile(path)
		if err == nil {
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return err
	})
	return pid
}

func TestProcessStderrTail(t *testing.T) {
	p := startSh(t, t.Context(), `i=0; while [ $i -lt 500 ]; do i=$((i+1)); echo "line $i" >&2; done
head -c 5000 /dev/zero | tr '\0' y >&2; echo >&2; printf 'last\r\n\n\nno newline' >&2`,
		func(c *ProcessConfig) { c.StderrLines = 10 })
	if err := waitDone(t, p, 10*time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	tail := p.StderrTail()
	want := []string{"line 494", "line 495", "line 496", "line 497", "line 498", "line 499", "line 500"}
	if len(tail) != 10 || !slices.Equal(tail[:7], want) || tail[8] != "last" || tail[9] != "no newline" {
		t.Fatalf("tail %q", tail)
	}
	if long := tail[7]; len(long) > maxStderrLine+10 || !strings.HasSuffix(long, "yy …") {
		t.Fatalf("long line kept as %d bytes ending %q", len(long), long[max(0, len(long)-8):])
	}
	tail[0] = "changed"
	if p.StderrTail()[0] != "line 494" {
		t.Fatal("StderrTail does not return a copy")
	}
}

func TestProcessProgress(t *testing.T) {
	var mu sync.Mutex
	var seen []Progress
	p := startSh(t, t.Context(), `printf 'frame=1\nout_time_us=40000\nprogress=continue\n'; printf 'frame=2\nprogress=end\n'`,
		func(c *ProcessConfig) {
			c.OnProgress = func(pr Progress) { mu.Lock(); seen = append(seen, pr); mu.Unlock() }
		})
	if err := waitDone(t, p, 10*time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].Frame != 1 || seen[0].OutTimeMS != 40 || !seen[1].Done {
		t.Fatalf("OnProgress saw %+v", seen)
	}
	if got := p.Progress(); got.Frame != 2 || !got.Done {
		t.Fatalf("Progress() = %+v", got)
	}
}

func TestProcessStdin(t *testing.T) {
	p := startSh(t, t.Context(), `cat >&2`, func(c *ProcessConfig) { c.Stdin = true })
	if _, err := io.WriteString(p.Stdin(), "hello\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("closing stdin did not end cat promptly: %v", time.Since(start))
	}
	if tail := p.StderrTail(); !slices.Equal(tail, []string{"hello"}) {
		t.Fatalf("tail %q", tail)
	}
	if _, err := io.WriteString(p.Stdin(), "late"); err == nil {
		t.Fatal("write after Stop succeeded")
	}
	requireGone(t, p.PID())

	if q := startSh(t, t.Context(), `exit 0`, nil); q.Stdin() != nil {
		t.Fatal("Stdin without ProcessConfig.Stdin")
	}
}

func TestProcessExitError(t *testing.T) {
	p := startSh(t, t.Context(), `echo failing >&2; exit 3`, nil)
	err := waitDone(t, p, 10*time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(err.Error(), strconv.Itoa(p.PID())) {
		t.Fatalf("Wait = %v, want exit status 3 naming the pid", err)
	}
	if err2 := p.Stop(time.Second); err2 != err {
		t.Fatalf("Stop after exit = %v, want %v", err2, err)
	}
	if tail := p.StderrTail(); !slices.Equal(tail, []string{"failing"}) {
		t.Fatalf("tail %q", tail)
	}
}

func TestProcessStartErrors(t *testing.T) {
	if _, err := Start(t.Context(), ProcessConfig{Binary: filepath.Join(t.TempDir(), "no-ffmpeg"), Args: []string{"-h"}}); err == nil {
		t.Error("missing binary started")
	}
	if _, err := Start(t.Context(), ProcessConfig{Binary: "sh"}); err == nil || !strings.Contains(err.Error(), "no arguments") {
		t.Errorf("no arguments: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Start(ctx, ProcessConfig{Binary: "sh", Args: []string{"-c", "exit 0"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// stubborn ignores SIGTERM and leaves a child in its process group that
// holds the output pipes open, like a wedged ffmpeg would.
const stubborn = `trap '' TERM INT; sleep 60 & echo $! > "$CHILD_PID"; echo ready >&2; wait; wait; wait`

func startStubborn(t *testing.T, ctx context.Context, stdin bool) (p *Process, child int) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "child")
	t.Setenv("CHILD_PID", pidFile)
	p = startSh(t, ctx, stubborn, func(c *ProcessConfig) { c.Stdin = stdin })
	return p, readPID(t, pidFile)
}

func TestProcessStopEscalates(t *testing.T) {
	for _, stdin := range []bool{false, true} {
		t.Run(fmt.Sprintf("stdin=%v", stdin), func(t *testing.T) {
			p, child := startStubborn(t, t.Context(), stdin)
			timeout := 300 * time.Millisecond
			start := time.Now()
			err := p.Stop(timeout)
			took := time.Since(start)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("Stop = %v, want killed", err)
			}
			// Without stdin SIGTERM is the first request; with stdin it
			// follows the timeout and gets termGrace.
			// The upper bound is generous: a busy machine delays the
			// signals' delivery and the reaping, never by seconds.
			limit := timeout + 5*time.Second
			if stdin {
				limit += termGrace
			}
			if took < timeout || took > limit {
				t.Fatalf("Stop took %v, want between %v and %v", took, timeout, limit)
			}
			requireGone(t, p.PID())
			requireDead(t, child)
		})
	}
}

func TestProcessContextCancel(t *testing.T) {
	t.Run("cooperative", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p := startSh(t, ctx, `exec sleep 60`, nil)
		cancel()
		err := waitDone(t, p, 2*time.Second)
		if err == nil {
			t.Fatal("Wait = nil after cancel")
		}
		requireGone(t, p.PID())
	})
	t.Run("stubborn", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p, child := startStubborn(t, ctx, false)
		start := time.Now()
		cancel()
		if err := waitDone(t, p, termGrace+3*time.Second); err == nil {
			t.Fatal("Wait = nil after kill")
		}
		if took := time.Since(start); took < termGrace {
			t.Fatalf("killed after %v, before the %v grace", took, termGrace)
		}
		requireGone(t, p.PID())
		requireDead(t, child)
	})
}

func TestProcessConcurrentStop(t *testing.T) {
	p := startSh(t, t.Context(), `cat >/dev/null`, func(c *ProcessConfig) { c.Stdin = true })
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			switch i % 4 {
			case 0:
				errs <- p.Stop(5 * time.Second)
			case 1:
				errs <- p.Wait()
			case 2:
				_, _ = p.Progress(), p.StderrTail()
				errs <- nil
			case 3:
				<-p.Done()
				errs <- p.Stop(0)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Stop/Wait: %v", err)
		}
	}
	requireGone(t, p.PID())
}

// TestNiced: a niced ffmpeg runs under nice(1), which execs it; no nice
// leaves the command as it is.
func TestNiced(t *testing.T) {
	if bin, args := Niced(0, "ffmpeg", []string{"-i", "x"}); bin != "ffmpeg" || len(args) != 2 {
		t.Errorf("Niced(0) = %s %v", bin, args)
	}
	bin, args := Niced(10, "/usr/bin/ffmpeg", []string{"-i", "x"})
	if filepath.Base(bin) != "nice" || strings.Join(args, " ") != "-n 10 /usr/bin/ffmpeg -i x" {
		t.Errorf("Niced(10) = %s %v", bin, args)
	}
}
