package edge

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/livestreams/livestreams/protocol"
)

// Bounds of what the edge keeps of a job's ffmpeg output.
const (
	jobOutputLines = 200
	jobOutputBytes = 32 << 10
)

// JobOutput collects the ffmpeg output lines the media job runner logs
// (at debug level, "ffmpeg stderr", with the job's id), per job, so the
// edge can show them while a job runs (with its progress) and send the
// last ones when an attempt ends. Give the runner JobOutput.Logger(its
// logger) and the edge Config.JobOutput the same value.
type JobOutput struct {
	mu   sync.Mutex
	jobs map[string]*outputRing
}

type outputRing struct {
	lines     []string
	bytes     int
	fresh     int // lines not yet sent with a progress report
	truncated bool
}

// NewJobOutput returns an empty collector.
func NewJobOutput() *JobOutput { return &JobOutput{jobs: map[string]*outputRing{}} }

// Logger returns base with every "ffmpeg stderr" record of a job also
// collected, whatever base's level.
func (o *JobOutput) Logger(base *slog.Logger) *slog.Logger {
	return slog.New(&outputHandler{o: o, h: base.Handler()})
}

func (o *JobOutput) add(jobID, line string) {
	if len(line) > protocol.MaxLogLineLen {
		line = line[:protocol.MaxLogLineLen]
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.jobs[jobID]
	if r == nil {
		r = &outputRing{}
		o.jobs[jobID] = r
	}
	r.lines = append(r.lines, line)
	r.bytes += len(line) + 1
	r.fresh = min(r.fresh+1, jobOutputLines)
	for len(r.lines) > jobOutputLines || r.bytes > jobOutputBytes {
		r.bytes -= len(r.lines[0]) + 1
		r.lines = r.lines[1:]
		r.truncated = true
	}
	r.fresh = min(r.fresh, len(r.lines))
}

// fresh returns the lines of a job not returned before.
func (o *JobOutput) fresh(jobID string) []string {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.jobs[jobID]
	if r == nil || r.fresh == 0 {
		return nil
	}
	out := append([]string(nil), r.lines[len(r.lines)-r.fresh:]...)
	r.fresh = 0
	return out
}

// take returns and forgets a job's last lines.
func (o *JobOutput) take(jobID string) (lines []string, truncated bool) {
	if o == nil {
		return nil, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.jobs[jobID]
	delete(o.jobs, jobID)
	if r == nil {
		return nil, false
	}
	return r.lines, r.truncated
}

// outputHandler collects "ffmpeg stderr" lines by the job_id attribute
// its logger carries, and passes every record base takes on to base.
type outputHandler struct {
	o     *JobOutput
	h     slog.Handler
	jobID string
}

func (h *outputHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l == slog.LevelDebug || h.h.Enabled(ctx, l)
}

func (h *outputHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.jobID != "" && r.Message == "ffmpeg stderr" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "line" {
				h.o.add(h.jobID, a.Value.String())
				return false
			}
			return true
		})
	}
	if !h.h.Enabled(ctx, r.Level) {
		return nil
	}
	return h.h.Handle(ctx, r)
}

func (h *outputHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.h = h.h.WithAttrs(as)
	for _, a := range as {
		if a.Key == "job_id" {
			n.jobID = a.Value.String()
		}
	}
	return &n
}

func (h *outputHandler) WithGroup(name string) slog.Handler {
	n := *h
	n.h = h.h.WithGroup(name)
	return &n
}

// sendLog sends the last output lines of a job's attempt before its end
// is reported; a failure is logged, not retried (the end matters more).
func (l *jobLoop) sendLog(ctx context.Context, jobID string) {
	lines, truncated := l.n.cfg.JobOutput.take(jobID)
	if len(lines) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.n.client.Call(cctx, protocol.TypeJobLog, protocol.JobLog{ID: jobID, Lines: lines, Truncated: truncated}, nil); err != nil {
		l.n.log.Debug("send job log", "job_id", jobID, "err", err)
	}
}
