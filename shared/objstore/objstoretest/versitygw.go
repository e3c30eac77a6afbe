// Package objstoretest starts a real S3 server for tests: versitygw over a
// temporary directory, on a free 127.0.0.1 port, stopped when the test ends.
// Tests that use it fail (not skip) when versitygw is not installed: `make
// deps-test` installs it.
package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

// VersityGW is a versitygw process serving the S3 API from a posix
// directory. Its methods stop, restart, pause and resume the process, to
// test what clients do when the server goes away.
type VersityGW struct {
	// Endpoint is the server's URL, such as "http://127.0.0.1:41234".
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string

	t    testing.TB
	bin  string
	dir  string
	addr string

	mu     sync.Mutex
	cmd    *exec.Cmd
	cancel context.CancelFunc // kills cmd
	done   chan struct{}      // closed when cmd has been reaped
	out    *testutil.SyncBuffer
}

const (
	startAttempts = 3
	readyTimeout  = 15 * time.Second
	stopTimeout   = 10 * time.Second
)

// StartVersityGW starts versitygw and waits until it answers HTTP.
func StartVersityGW(t testing.TB) *VersityGW {
	t.Helper()
	bin := findVersityGW(t)
	g := &VersityGW{
		AccessKey: "objstoretest",
		SecretKey: "objstoretest-secret-key",
		Region:    "us-east-1",
		t:         t,
		bin:       bin,
		dir:       filepath.Join(t.TempDir(), "s3"),
	}
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	var err error
	for range startAttempts { // a free port can be taken between probe and bind
		g.addr = testutil.FreeAddr(t)
		g.Endpoint = "http://" + g.addr
		if err = g.start(); err == nil {
			return g
		}
	}
	t.Fatalf("start versitygw: %v", err)
	return nil
}

func findVersityGW(t testing.TB) string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Fatalf("versitygw not found in PATH or %s: run make deps-test", filepath.Dir(p))
	return ""
}

// Start starts the server again after Stop, on the same port and directory.
func (g *VersityGW) Start() {
	g.t.Helper()
	if err := g.start(); err != nil {
		g.t.Fatalf("restart versitygw: %v", err)
	}
}

func (g *VersityGW) start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd != nil {
		return errors.New("versitygw already running")
	}
	out := &testutil.SyncBuffer{}
	// The process outlives this call: Stop cancels ctx, which kills it,
	// and waits until it is reaped.
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, g.bin,
		"--access", g.AccessKey, "--secret", g.SecretKey, "--region", g.Region,
		"--port", g.addr, "--quiet", "posix", g.dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	if err := waitReady(g.addr, done); err != nil {
		cancel()
		<-done
		return fmt.Errorf("%w; versitygw output:\n%s", err, out.String())
	}
	g.cmd, g.cancel, g.done, g.out = cmd, cancel, done, out
	return nil
}

// waitReady polls until the server answers any HTTP request, it exits,
// or readyTimeout passes.
func waitReady(addr string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		select {
		case <-exited:
			return errors.New("versitygw exited")
		default:
		}
		if resp, err := client.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(min(10*time.Millisecond<<min(attempt, 4), 200*time.Millisecond))
	}
	return fmt.Errorf("versitygw not answering on %s after %s", addr, readyTimeout)
}

// Stop kills the server (SIGKILL: no chance to finish requests) and reaps
// it. Stopping a stopped server does nothing.
func (g *VersityGW) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd == nil {
		return
	}
	g.cancel() // SIGKILL
	select {
	case <-g.done:
	case <-time.After(stopTimeout):
		g.t.Errorf("versitygw (pid %d) not reaped %s after SIGKILL", g.cmd.Process.Pid, stopTimeout)
	}
	g.cmd = nil
}

// Pause freezes the server with SIGSTOP: connections are still accepted
// by the kernel but nothing answers, as with a hung server.
//
// SIGSTOP stops the threads asynchronously: a thread on another core can
// still answer a request right after kill returns, so Pause waits (a
// bounded while) until every thread of the server shows as stopped.
func (g *VersityGW) Pause() {
	g.signal(syscall.SIGSTOP)
	g.mu.Lock()
	pid := g.cmd.Process.Pid
	g.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for !allStopped(pid) {
		if time.Now().After(deadline) {
			g.t.Fatalf("versitygw (pid %d) not stopped 5 s after SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// allStopped reports whether every thread of pid is stopped (state T in
// /proc/PID/task/TID/stat).
func allStopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// pid (comm) state ...: the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// Resume undoes Pause.
func (g *VersityGW) Resume() { g.signal(syscall.SIGCONT) }

func (g *VersityGW) signal(sig os.Signal) {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd == nil {
		g.t.Fatalf("versitygw not running")
	}
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatalf("signal versitygw: %v", err)
	}
}

// Dir is the directory the server keeps its buckets in.
func (g *VersityGW) Dir() string { return g.dir }

// Output returns what the current server process has printed.
func (g *VersityGW) Output() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.out == nil {
		return ""
	}
	return g.out.String()
}
