package events

import (
	"sync"
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// tailIdle is how long a running job's tail is kept without news.
const tailIdle = 10 * time.Minute

// maxTails bounds how many jobs' tails a node keeps.
const maxTails = 10_000

// Tails keeps the last ffmpeg output lines of running jobs in memory, as
// the edges' progress reports bring them (to every control-plane node), so
// GET /v1/jobs/{id}/log shows something before the job ends and its log
// is stored.
type Tails struct {
	mu    sync.Mutex
	jobs  map[string]*tail
	clock func() time.Time
}

type tail struct {
	org       string
	lines     []string
	truncated bool
	seen      time.Time
}

// NewTails returns an empty set of tails.
func NewTails() *Tails { return &Tails{jobs: map[string]*tail{}, clock: time.Now} }

// Append adds lines to a job's tail, keeping the last state.MaxJobLogLines
// within state.MaxJobLogBytes.
func (t *Tails) Append(org, jobID string, lines []string) {
	if len(lines) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	tl := t.jobs[jobID]
	if tl == nil {
		if len(t.jobs) >= maxTails {
			t.sweepLocked(now)
			if len(t.jobs) >= maxTails {
				return
			}
		}
		tl = &tail{org: org}
		t.jobs[jobID] = tl
	}
	if tl.org != org {
		return
	}
	var cut bool
	tl.lines, cut = state.TrimJobLog(append(tl.lines, lines...))
	tl.truncated = tl.truncated || cut
	tl.seen = now
}

// Get returns a copy of a job's tail; ok is false when there is none for
// that org.
func (t *Tails) Get(org, jobID string) (lines []string, truncated, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tl := t.jobs[jobID]
	if tl == nil || tl.org != org || t.clock().Sub(tl.seen) > tailIdle {
		return nil, false, false
	}
	return append([]string(nil), tl.lines...), tl.truncated, true
}

// Forget drops a job's tail (its log is stored now).
func (t *Tails) Forget(jobID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.jobs, jobID)
}

func (t *Tails) sweepLocked(now time.Time) {
	for id, tl := range t.jobs {
		if now.Sub(tl.seen) > tailIdle {
			delete(t.jobs, id)
		}
	}
}
