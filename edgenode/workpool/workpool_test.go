package workpool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

// TestBounds: with 2 workers and a queue of 3, 20 callers at once see at
// most 2 running, 3 waiting and the rest refused at once with ErrBusy and
// a retry time.
func TestBounds(t *testing.T) {
	p := New(Config{Workers: 2, Queue: 3, Wait: 10 * time.Second, RetryAfter: 3 * time.Second})
	release := make(chan struct{})
	var now, peak atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			errs[i] = p.Do(t.Context(), func(ctx context.Context) error {
				n := now.Add(1)
				for {
					if m := peak.Load(); n <= m || peak.CompareAndSwap(m, n) {
						break
					}
				}
				defer now.Add(-1)
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil
			})
		})
	}
	testutil.Eventually(t, 5*time.Second, "2 running, 3 waiting, 15 refused", func() bool {
		s := p.Stats()
		return s.Running == 2 && s.Waiting == 3 && s.Refused == 15
	})
	close(release)
	wg.Wait()
	busy := 0
	for _, err := range errs {
		if errors.Is(err, ErrBusy) {
			busy++
			var ra interface{ RetryAfter() time.Duration }
			if !errors.As(err, &ra) || ra.RetryAfter() != 3*time.Second {
				t.Errorf("busy error %v has no RetryAfter of 3s", err)
			}
		} else if err != nil {
			t.Errorf("Do: %v", err)
		}
	}
	if busy != 15 || peak.Load() != 2 {
		t.Errorf("%d refused, %d at most at once; want 15 and 2", busy, peak.Load())
	}
	if s := p.Stats(); s.Done != 5 || s.Running != 0 || s.Waiting != 0 {
		t.Errorf("stats after = %+v", s)
	}
}

// TestWaitAndTimeout: a caller that waits longer than Wait is refused; work
// that runs longer than Timeout has its context ended; a caller whose
// context ends while waiting gets its context's error.
func TestWaitAndTimeout(t *testing.T) {
	p := New(Config{Workers: 1, Queue: 5, Wait: 50 * time.Millisecond, Timeout: 100 * time.Millisecond})
	started := make(chan struct{})
	var wg sync.WaitGroup
	var slowErr error
	wg.Go(func() {
		slowErr = p.Do(t.Context(), func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
	})
	<-started
	if err := p.Do(t.Context(), func(context.Context) error { return nil }); !errors.Is(err, ErrBusy) {
		t.Errorf("Do while the worker is held past Wait: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Do(ctx, func(context.Context) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a cancelled context: %v", err)
	}
	wg.Wait()
	if !errors.Is(slowErr, context.DeadlineExceeded) {
		t.Errorf("work past its timeout: %v", slowErr)
	}
	if err := p.Do(t.Context(), func(context.Context) error { return nil }); err != nil {
		t.Errorf("Do once free: %v", err)
	}
}
