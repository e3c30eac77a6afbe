package rtmp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

// recordingSink keeps what a publish delivered.
type recordingSink struct {
	mu       sync.Mutex
	msgs     []Message
	closed   int
	closeErr error
	done     chan struct{}
}

func newRecordingSink() *recordingSink { return &recordingSink{done: make(chan struct{})} }

func (s *recordingSink) WriteMessage(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return nil
}

func (s *recordingSink) Close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	s.closeErr = err
	if s.closed == 1 {
		close(s.done)
	}
}

func (s *recordingSink) messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

func (s *recordingSink) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		t.Fatalf("sink not closed within %s", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeErr
}

// publishRecorder is an OnPublish that records requests and creates
// recordingSinks, or refuses with refuseErr.
type publishRecorder struct {
	mu        sync.Mutex
	reqs      []PublishRequest
	sinks     []*recordingSink
	refuseErr error
	called    chan struct{}
}

func newPublishRecorder() *publishRecorder { return &publishRecorder{called: make(chan struct{}, 16)} }

func (p *publishRecorder) OnPublish(_ context.Context, req PublishRequest) (Sink, error) {
	p.mu.Lock()
	defer func() {
		p.mu.Unlock()
		p.called <- struct{}{}
	}()
	p.reqs = append(p.reqs, req)
	if p.refuseErr != nil {
		return nil, p.refuseErr
	}
	s := newRecordingSink()
	p.sinks = append(p.sinks, s)
	return s, nil
}

func (p *publishRecorder) waitCalled(t *testing.T, d time.Duration) (PublishRequest, *recordingSink) {
	t.Helper()
	select {
	case <-p.called:
	case <-time.After(d):
		t.Fatalf("OnPublish not called within %s", d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var s *recordingSink
	if len(p.sinks) > 0 {
		s = p.sinks[len(p.sinks)-1]
	}
	return p.reqs[len(p.reqs)-1], s
}

// startServer runs a Server on a free 127.0.0.1 port until the test ends.
func startServer(t *testing.T, cfg Config) (addr string, logs *testutil.SyncBuffer) {
	t.Helper()
	logs = &testutil.SyncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return ln.Addr().String(), logs
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
