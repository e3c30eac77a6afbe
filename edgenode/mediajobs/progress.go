package mediajobs

import (
	"math"
	"sync"
	"time"

	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/protocol"
)

// progressEvery is the shortest time between two progress reports.
const progressEvery = 500 * time.Millisecond

// progress turns what each phase of a job says about itself into one job
// percentage that only rises, reported at most every progressEvery.
type progress struct {
	mu    sync.Mutex
	fn    func(protocol.JobProgress)
	every time.Duration
	now   func() time.Time
	last  time.Time // of the last report
	sent  float64   // the highest percent reported
	// frame and kbps are what ffmpeg said last (0 when the phase runs
	// no ffmpeg), sent with the next report.
	frame int64
	kbps  float64
}

func newProgress(fn func(protocol.JobProgress)) *progress {
	return &progress{fn: fn, every: progressEvery, now: time.Now}
}

// report sends pct unless the last report was too recent. A pct below one
// already sent is raised to it: a job's progress never goes back.
func (p *progress) report(pct, fps, speed float64, force bool) {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if !force && !p.last.IsZero() && now.Sub(p.last) < p.every {
		return
	}
	pct = max(pct, p.sent)
	p.sent, p.last = pct, now
	// Under the lock, so that reports arrive in order.
	p.fn(protocol.JobProgress{Percent: math.Round(pct*10) / 10, FPS: fps, Speed: speed, Frame: p.frame, BitrateKbps: p.kbps})
}

// finish reports 100 %, whenever the last report was.
func (p *progress) finish() { p.report(100, 0, 0, true) }

// phase is the part [lo, hi] of the job's percentage that one step owns.
type phase struct {
	p      *progress
	lo, hi float64
}

func (p *progress) whole() phase { return phase{p: p, lo: 0, hi: 100} }

// sub is the part [from, to] (in percent of ph) of ph.
func (ph phase) sub(from, to float64) phase {
	span := ph.hi - ph.lo
	return phase{p: ph.p, lo: ph.lo + span*from/100, hi: ph.lo + span*to/100}
}

// set reports that the phase is frac (0 to 1) done.
func (ph phase) set(frac float64) { ph.setFFmpeg(frac, 0, 0) }

func (ph phase) setFFmpeg(frac, fps, speed float64) {
	if math.IsNaN(frac) {
		frac = 0
	}
	frac = min(max(frac, 0), 1)
	ph.p.report(ph.lo+(ph.hi-ph.lo)*frac, fps, speed, false)
}

// ffmpeg returns a transcode.ProcessConfig.OnProgress that reports how
// much of duration seconds of media ffmpeg has written.
func (ph phase) ffmpeg(duration float64) func(transcode.Progress) {
	return func(pr transcode.Progress) {
		frac := 0.0
		if duration > 0 {
			frac = float64(pr.OutTimeMS) / 1000 / duration
		}
		if pr.Done {
			frac = 1
		}
		ph.p.mu.Lock()
		ph.p.frame, ph.p.kbps = pr.Frame, pr.BitrateKbps
		ph.p.mu.Unlock()
		ph.setFFmpeg(frac, pr.FPS, pr.Speed)
	}
}
