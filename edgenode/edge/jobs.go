package edge

// Media jobs. While the edge has a free slot it leases vod, recording-vod
// and clip jobs from the control plane, runs each with the job runner
// (package mediajobs), renews the leases with progress every third of the
// lease, and keeps one long-poll open that says at once when a job must
// stop (a user cancelled it, or the lease was lost). An edge busy with
// live transcodes asks for work less often, so idler edges of the region
// take it first.

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestreams/livestreams/protocol"
)

// JobRunner runs leased media jobs (package mediajobs implements it).
type JobRunner interface {
	// Run does one job; cancelling ctx stops its processes at once.
	Run(ctx context.Context, job protocol.Job, progress func(protocol.JobProgress)) (protocol.MediaResult, error)
	// Thumbnail grabs a JPEG frame of input at a time, width wide at most.
	Thumbnail(ctx context.Context, input string, at float64, width int) ([]byte, error)
}

const (
	jobLeasePoll   = 2 * time.Second
	jobWatchWait   = 15 * time.Second
	jobFinishTries = 10
)

// runningJob is one job this edge runs.
type runningJob struct {
	job    protocol.Job
	cancel context.CancelCauseFunc
	// stopped is set when the control plane said stop: nothing more is
	// reported about the job.
	stopped bool

	mu       sync.Mutex
	progress *protocol.JobProgress
}

// jobRunner is what a job loop needs of its runner.
type jobRunner interface {
	Run(ctx context.Context, job protocol.Job, progress func(protocol.JobProgress)) (protocol.MediaResult, error)
}

type jobLoop struct {
	n      *Node
	runner jobRunner
	max    int
	types  []string
	// fixedPoll, when set, is how often the loop asks for work whatever
	// the edge's load (the restream loop).
	fixedPoll time.Duration

	mu      sync.Mutex
	running map[string]*runningJob
	changed chan struct{} // signalled when the running set changes, for leasing
	rewatch chan struct{} // the same, for the watch
	renew   chan struct{} // a job started: renew soon, so it shows running
	ttl     atomic.Int64  // the lease lifetime the control plane gave, ns
	wg      sync.WaitGroup
}

func newJobLoop(n *Node, runner jobRunner, max int) *jobLoop {
	l := &jobLoop{n: n, runner: runner, max: max, running: map[string]*runningJob{}, changed: make(chan struct{}, 1),
		rewatch: make(chan struct{}, 1), renew: make(chan struct{}, 1),
		types: []string{protocol.JobVOD, protocol.JobRecordingVOD, protocol.JobClip}}
	if t, ok := runner.(interface{ Types() []string }); ok {
		l.types = t.Types() // captions too, when the runner has an engine
	}
	l.ttl.Store(int64(30 * time.Second))
	return l
}

func (l *jobLoop) signal() {
	for _, c := range []chan struct{}{l.changed, l.rewatch, l.renew} {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// run leases, renews and watches until ctx ends; then it stops the
// running jobs (their leases lapse and they run elsewhere) and waits.
func (l *jobLoop) run(ctx context.Context) {
	var inner sync.WaitGroup
	inner.Add(3)
	go func() { defer inner.Done(); l.renewLoop(ctx) }()
	go func() { defer inner.Done(); l.progressLoop(ctx) }()
	go func() { defer inner.Done(); l.watchLoop(ctx) }()
	l.leaseLoop(ctx)
	inner.Wait()
	l.wg.Wait() // the jobs' contexts end with ctx
}

// slots returns how many jobs run and how many may.
func (l *jobLoop) slots() (busy, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.running), l.max
}

func (l *jobLoop) free() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max - len(l.running)
}

// leaseLoop asks for work while there are free slots: at once after a job
// ends, else every couple of seconds, more slowly while live transcodes
// keep the edge busy.
func (l *jobLoop) leaseLoop(ctx context.Context) {
	for {
		wait := jobLeasePoll * time.Duration(1+l.n.ActiveSessions())
		if l.fixedPoll > 0 {
			wait = l.fixedPoll
		}
		wait += time.Duration(rand.Int64N(int64(wait) / 4))
		if free := l.free(); free > 0 && !l.n.draining.Load() {
			l.lease(ctx, free)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-l.changed:
			// A job ended (or started): a slot may be free.
		}
	}
}

func (l *jobLoop) lease(ctx context.Context, free int) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var reply protocol.LeaseJobsReply
	if err := l.n.client.Call(cctx, protocol.TypeLeaseJobs, protocol.LeaseJobsRequest{Types: l.types, Max: free}, &reply); err != nil {
		if ctx.Err() == nil {
			l.n.log.Debug("lease jobs", "err", err)
		}
		return
	}
	if ttl := reply.LeaseTTL(); ttl > 0 {
		l.ttl.Store(int64(ttl))
	}
	for _, j := range reply.Jobs {
		l.start(ctx, j)
	}
}

func (l *jobLoop) start(parent context.Context, j protocol.Job) {
	ctx, cancel := context.WithCancelCause(parent)
	rj := &runningJob{job: j, cancel: cancel}
	l.mu.Lock()
	l.running[j.ID] = rj
	l.mu.Unlock()
	l.signal()
	l.n.log.Info("job started", "job_id", j.ID, "type", j.Type, "asset_id", j.AssetID, "attempt", j.Attempt)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer cancel(nil) // release the context once the job is settled
		defer l.n.cfg.JobOutput.take(j.ID)
		start := time.Now()
		res, err := l.runner.Run(ctx, j, func(p protocol.JobProgress) {
			rj.mu.Lock()
			rj.progress = &p
			rj.mu.Unlock()
		})
		cause := context.Cause(ctx)
		l.mu.Lock()
		delete(l.running, j.ID)
		stopped := rj.stopped
		l.mu.Unlock()
		l.signal()
		switch {
		case stopped:
			l.n.log.Info("job stopped", "job_id", j.ID, "cause", cause)
			return
		case ctx.Err() != nil:
			// The edge is shutting down: say nothing; the lease lapses
			// and another edge takes the job.
			l.n.log.Info("job abandoned", "job_id", j.ID, "cause", cause)
			return
		}
		l.sendLog(parent, j.ID)
		req := protocol.FinishJobRequest{ID: j.ID, Succeeded: err == nil}
		if err == nil {
			req.Result = &res
			l.n.log.Info("job succeeded", "job_id", j.ID, "duration", time.Since(start).Round(time.Millisecond))
		} else {
			req.Error, req.Permanent = err.Error(), permanentJobError(err)
			l.n.log.Warn("job failed", "job_id", j.ID, "permanent", req.Permanent, "err", err)
		}
		l.finish(parent, req)
	}()
}

// finish reports a job's end, retrying errors of unknown outcome (a
// repeat is safe) while the edge runs; a refusal means the job is no
// longer ours. Once ctx has ended it makes one short try: the result is
// worth telling, but the edge is shutting down.
func (l *jobLoop) finish(ctx context.Context, req protocol.FinishJobRequest) {
	for attempt := range jobFinishTries {
		timeout := 10 * time.Second
		if ctx.Err() != nil {
			timeout = reportEndLastCall
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		err := l.n.client.Call(cctx, protocol.TypeFinishJob, req, nil)
		cancel()
		if err == nil {
			return
		}
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Code != protocol.CodeUnavailable && pe.Code != protocol.CodeInternal {
			l.n.log.Warn("job report refused; the job is no longer this edge's", "job_id", req.ID, "err", err)
			return
		}
		if !sleepCtx(ctx, time.Duration(attempt+1)*500*time.Millisecond) {
			break
		}
	}
	l.n.log.Warn("could not report the end of a job; its lease will lapse and it will run again", "job_id", req.ID)
}

// stopJobs stops jobs the control plane says are no longer to run.
func (l *jobLoop) stopJobs(ids []string, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if rj := l.running[id]; rj != nil && !rj.stopped {
			rj.stopped = true
			rj.cancel(errors.New(why))
		}
	}
}

func (l *jobLoop) snapshot() []protocol.JobReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]protocol.JobReport, 0, len(l.running))
	for id, rj := range l.running {
		if rj.stopped {
			continue
		}
		rj.mu.Lock()
		out = append(out, protocol.JobReport{ID: id, Progress: rj.progress})
		rj.mu.Unlock()
	}
	return out
}

// renewLoop renews every lease three times per lease lifetime, and soon
// after a job starts.
func (l *jobLoop) renewLoop(ctx context.Context) {
	for {
		every := max(time.Duration(l.ttl.Load())/3, 200*time.Millisecond)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		case <-l.renew:
			if !sleepCtx(ctx, 200*time.Millisecond) { // let a batch of starts settle
				return
			}
		}
		reports := l.snapshot()
		if len(reports) == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, max(time.Duration(l.ttl.Load())/3, time.Second))
		var reply protocol.RenewJobsReply
		err := l.n.client.Call(cctx, protocol.TypeRenewJobs, protocol.RenewJobsRequest{Jobs: reports}, &reply)
		cancel()
		if err != nil {
			l.n.log.Warn("renew job leases", "err", err)
			continue
		}
		if ttl := time.Duration(reply.LeaseTTLMS) * time.Millisecond; ttl > 0 {
			l.ttl.Store(int64(ttl))
		}
		l.stopJobs(reply.Cancelled, "cancelled")
		l.stopJobs(reply.Lost, "lease lost")
	}
}

// watchLoop keeps a long-poll open on the running jobs, restarting it when
// the set changes, so a cancel stops ffmpeg within a fraction of a second.
func (l *jobLoop) watchLoop(ctx context.Context) {
	for ctx.Err() == nil {
		reports := l.snapshot()
		if len(reports) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-l.rewatch:
			}
			continue
		}
		ids := make([]string, len(reports))
		for i, r := range reports {
			ids[i] = r.ID
		}
		cctx, cancel := context.WithTimeout(ctx, jobWatchWait+5*time.Second)
		reset := make(chan struct{})
		resetter := make(chan struct{})
		go func() {
			defer close(resetter)
			select {
			case <-l.rewatch: // the set changed: ask again with the new one
				close(reset)
				cancel()
			case <-cctx.Done():
			}
		}()
		var reply protocol.WatchJobsReply
		err := l.n.client.Call(cctx, protocol.TypeWatchJobs, protocol.WatchJobsRequest{IDs: ids, WaitMS: jobWatchWait.Milliseconds()}, &reply)
		cancel()
		<-resetter
		if err != nil {
			select {
			case <-reset:
				continue
			default:
			}
			if ctx.Err() == nil {
				l.n.log.Debug("watch jobs", "err", err)
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		l.stopJobs(reply.Stop, "stopped by the control plane")
	}
}

// RunningJobs lists the ids of the media jobs this edge runs.
func (n *Node) RunningJobs() []string {
	if n.jobs == nil {
		return nil
	}
	n.jobs.mu.Lock()
	defer n.jobs.mu.Unlock()
	out := make([]string, 0, len(n.jobs.running))
	for id := range n.jobs.running {
		out = append(out, id)
	}
	return out
}
