package fsm

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Job command types. The lifecycle and its rules are in the state
// package's Job; how an edge drives it is in the jobs package.
const (
	CmdCreateJob    = "create_job"
	CmdLeaseJobs    = "lease_jobs"
	CmdRenewLease   = "renew_lease"
	CmdCompleteJob  = "complete_job"
	CmdCancelJob    = "cancel_job"
	CmdExpireLeases = "expire_leases"
)

// Limits the job commands enforce, so one command cannot make an entry or
// a record unreasonably large.
const (
	MaxJobPayload  = 64 << 10
	MaxJobResult   = 64 << 10
	MaxJobError    = 2 << 10
	MaxJobAttempts = 100
	MaxLeaseBatch  = 100
	MaxRenewBatch  = 1000
	MaxLeaseTTL    = time.Hour
)

// CreateJob queues a new job. The proposer fills the id, the creation time
// and the retry policy (MaxAttempts, Timeout, Backoff*); the state, lease
// and history fields are reset.
type CreateJob struct{ Job state.Job }

// LeaseJobs hands up to Max runnable queued jobs to an edge for TTL.
//
// A job is runnable by the edge when its type is in Types, its NotBefore
// has passed, and it is pinned to this edge or to none. Jobs are taken in a
// fixed order, so every node picks the same ones: jobs pinned to this edge,
// then jobs preferring the edge's region, then jobs with no preference,
// then jobs preferring another region (only once they have waited
// RegionGrace since they became runnable, so a nearer edge gets the first
// chance); oldest first within each group.
type LeaseJobs struct {
	EdgeID      string
	Types       []string
	Region      string
	Max         int
	Now         time.Time
	TTL         time.Duration
	RegionGrace time.Duration
}

// JobReport is what an edge says about one job it runs when it renews.
type JobReport struct {
	ID       string
	Progress *state.Progress `json:",omitempty"`
}

// RenewLease extends the edge's leases on the jobs it reports to Now+TTL
// and records their progress; a leased job becomes running.
type RenewLease struct {
	EdgeID string
	Jobs   []JobReport
	Now    time.Time
	TTL    time.Duration
}

// RenewResult tells the edge which jobs to keep running and which to stop.
type RenewResult struct {
	Renewed []string `json:"renewed"`
	// Cancelled jobs were cancelled by a user; they are now cancelled.
	Cancelled []string `json:"cancelled"`
	// Lost jobs are no longer the edge's: unknown, finished, or taken
	// away after a lapsed lease or a timeout. The edge stops them and
	// reports nothing more.
	Lost []string `json:"lost"`
}

// CompleteJob reports the end of the edge's attempt at a job. Success
// stores Result; failure re-queues the job after its RetryDelay while
// attempts remain and Permanent is false, else the job fails.
type CompleteJob struct {
	EdgeID    string
	ID        string
	Now       time.Time
	Succeeded bool
	Result    json.RawMessage `json:",omitempty"`
	Error     string
	Permanent bool
}

// CancelJob cancels a job of an org ("" for any org). A queued job is
// cancelled at once; a leased or running one is marked and becomes
// cancelled when its holder next renews or its lease lapses.
type CancelJob struct {
	OrgID, ID string
	At        time.Time
}

// ExpireLeases acts on every job state.OverdueJobs finds at Now:
//
//   - a lapsed lease or a timed-out attempt ends that attempt (the history
//     records why) and re-queues the job after its RetryDelay while
//     attempts remain, else the job fails;
//   - a pinned job whose lease lapses is not re-queued: its edge, and so
//     the live session it served, is gone. It fails;
//   - a queued job pinned to a session that has ended is cancelled;
//   - a job whose cancellation was requested is cancelled in every case.
//
// A renewal applied before this command wins, as in ExpireEdge.
type ExpireLeases struct{ Now time.Time }

// ExpireResult lists the jobs ExpireLeases changed, by where they went.
type ExpireResult struct {
	Requeued  []string `json:"requeued"`
	Failed    []string `json:"failed"`
	Cancelled []string `json:"cancelled"`
}

func validJobType(t string) bool {
	if t == "" || len(t) > 32 || t[0] < 'a' || t[0] > 'z' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validTime(t time.Time) bool { return t.Unix() > 0 }

func validNewJob(j state.Job) error {
	switch {
	case j.ID == "" || len(j.ID) > 64:
		return state.Invalid("job id must be 1 to 64 characters")
	case !validJobType(j.Type):
		return state.Invalid("job type %q must be 1 to 32 of a-z, 0-9 and -, starting with a letter", j.Type)
	case j.MaxAttempts < 1 || j.MaxAttempts > MaxJobAttempts:
		return state.Invalid("max_attempts must be 1 to %d", MaxJobAttempts)
	case j.Timeout < 0 || j.BackoffBase < 0 || j.BackoffMax < 0:
		return state.Invalid("timeout and backoff must not be negative")
	case len(j.Payload) > MaxJobPayload:
		return state.Invalid("job payload is over %d bytes", MaxJobPayload)
	case len(j.Region) > 64 || len(j.PinnedEdge) > 128:
		return state.Invalid("region or pinned edge is too long")
	case !validTime(j.CreatedAt):
		return state.Invalid("job needs a creation time")
	}
	return nil
}

// orgJob returns a job of an org; another org's job is not found.
func orgJob(tx *state.Tx, orgID, id string) (state.Job, error) {
	j, err := tx.Job(id)
	if err != nil || (orgID != "" && j.OrgID != orgID) {
		return state.Job{}, state.NotFound("job %s", id)
	}
	return j, nil
}

// closeAttempt ends the attempt in progress, if any.
func closeAttempt(j *state.Job, now time.Time, msg string) {
	if a := j.CurrentAttempt(); a != nil {
		a.EndedAt, a.Error = &now, msg
	}
}

// endJob moves a job to a terminal state. A preparing asset the job was
// producing can no longer become ready through it, so a failed or
// cancelled job marks that asset errored.
func endJob(tx *state.Tx, j *state.Job, st string, now time.Time) error {
	j.State, j.FinishedAt, j.UpdatedAt = st, &now, now
	j.LeaseHolder, j.LeaseExpiresAt = "", time.Time{}
	if err := tx.PutJob(*j); err != nil {
		return err
	}
	if err := emitJob(tx, *j, jobEndEvents[st], now, map[string]any{"type": j.Type, "attempts": j.Attempts, "error": j.LastError}); err != nil {
		return err
	}
	if err := restreamJobFailed(tx, *j, st, now); err != nil {
		return err
	}
	if st == state.JobSucceeded || j.AssetID == "" {
		return nil
	}
	a, err := tx.Asset(j.AssetID)
	if state.IsNotFound(err) || err == nil && a.Status != state.AssetPreparing {
		return nil
	} else if err != nil {
		return err
	}
	a.Status, a.UpdatedAt = state.AssetErrored, now
	a.Error = fmt.Sprintf("job %s %s", j.ID, st)
	if j.LastError != "" {
		a.Error += ": " + j.LastError
	}
	if err := tx.PutAsset(a); err != nil {
		return err
	}
	return emitAsset(tx, a, state.EventAssetErrored, now, map[string]string{"error": a.Error})
}

// jobEndEvents names the event of each terminal job state.
var jobEndEvents = map[string]string{state.JobSucceeded: state.EventJobSucceeded,
	state.JobFailed: state.EventJobFailed, state.JobCancelled: state.EventJobCancelled}

// failAttempt ends the current attempt of an active job with msg and
// decides what follows: cancelled if a cancel was requested, queued again
// after the backoff while retry is allowed and attempts remain, else failed.
func failAttempt(tx *state.Tx, j *state.Job, now time.Time, msg string, retry bool) error {
	closeAttempt(j, now, msg)
	j.LastError = msg
	switch {
	case j.CancelRequested:
		return endJob(tx, j, state.JobCancelled, now)
	case retry && j.Attempts < j.MaxAttempts:
		j.State, j.QueuedAt, j.NotBefore, j.UpdatedAt = state.JobQueued, now, now.Add(j.RetryDelay()), now
		j.LeaseHolder, j.LeaseExpiresAt = "", time.Time{}
		if err := tx.PutJob(*j); err != nil {
			return err
		}
		return emitJob(tx, *j, state.EventJobQueued, now,
			map[string]any{"type": j.Type, "attempts": j.Attempts, "error": msg, "not_before": j.NotBefore})
	default:
		return endJob(tx, j, state.JobFailed, now)
	}
}

func clampPercent(p float64) float64 { return min(max(p, 0), 100) }

// leaseRank orders the runnable jobs for an edge (lower first); ok is false
// when the edge may not take the job now.
func leaseRank(j state.Job, c LeaseJobs) (rank int, ok bool) {
	switch {
	case j.PinnedEdge == c.EdgeID:
		return 0, true
	case j.PinnedEdge != "":
		return 0, false
	case j.Region != "" && j.Region == c.Region:
		return 1, true
	case j.Region == "":
		return 2, true
	}
	runnableSince := j.QueuedAt
	if j.NotBefore.After(runnableSince) {
		runnableSince = j.NotBefore
	}
	return 3, !runnableSince.Add(c.RegionGrace).After(c.Now)
}

func (f *FSM) registerJobs() {
	handle(f, CmdCreateJob, func(tx *state.Tx, c CreateJob) (any, error) {
		j := c.Job
		if err := validNewJob(j); err != nil {
			return nil, err
		}
		if _, err := tx.Org(j.OrgID); err != nil {
			return nil, err
		}
		if _, err := tx.Job(j.ID); err == nil {
			return nil, state.Conflict("job %s already exists", j.ID)
		}
		if j.AssetID != "" {
			if _, err := orgAsset(tx, j.OrgID, j.AssetID); err != nil {
				return nil, err
			}
		}
		if j.StreamID != "" {
			if _, err := orgStream(tx, j.OrgID, j.StreamID); err != nil {
				return nil, err
			}
		}
		if j.SessionID != "" {
			if s, err := tx.Session(j.SessionID); err != nil || s.OrgID != j.OrgID {
				return nil, state.NotFound("session %s", j.SessionID)
			}
		}
		j.State, j.Attempts, j.History, j.LastError = state.JobQueued, 0, nil, ""
		j.LeaseHolder, j.LeaseExpiresAt = "", time.Time{}
		j.QueuedAt, j.UpdatedAt, j.FinishedAt = j.CreatedAt, j.CreatedAt, nil
		j.CancelRequested, j.Result, j.Progress = false, nil, state.Progress{}
		if err := tx.PutJob(j); err != nil {
			return nil, err
		}
		return j, emitJob(tx, j, state.EventJobQueued, j.CreatedAt, map[string]any{"type": j.Type})
	})

	handle(f, CmdLeaseJobs, func(tx *state.Tx, c LeaseJobs) (any, error) {
		switch {
		case c.EdgeID == "":
			return nil, state.Invalid("lease needs an edge id")
		case len(c.Types) == 0:
			return nil, state.Invalid("lease needs the job types the edge can run")
		case c.Max < 1 || c.Max > MaxLeaseBatch:
			return nil, state.Invalid("lease max must be 1 to %d", MaxLeaseBatch)
		case c.TTL <= 0 || c.TTL > MaxLeaseTTL:
			return nil, state.Invalid("lease ttl must be positive and at most %v", MaxLeaseTTL)
		case !validTime(c.Now) || c.RegionGrace < 0:
			return nil, state.Invalid("lease needs a time and a non-negative region grace")
		}
		type candidate struct {
			rank int
			job  state.Job
		}
		var cands []candidate
		err := tx.JobsInState(state.JobQueued, func(j state.Job) bool {
			if !slices.Contains(c.Types, j.Type) || j.NotBefore.After(c.Now) {
				return true
			}
			if rank, ok := leaseRank(j, c); ok {
				cands = append(cands, candidate{rank, j})
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		// Stable: within a rank the scan's oldest-first order stays.
		slices.SortStableFunc(cands, func(a, b candidate) int { return cmp.Compare(a.rank, b.rank) })
		leased := []state.Job{}
		for _, cand := range cands[:min(len(cands), c.Max)] {
			j := cand.job
			j.State, j.Attempts = state.JobLeased, j.Attempts+1
			j.LeaseHolder, j.LeaseExpiresAt = c.EdgeID, c.Now.Add(c.TTL)
			j.History = append(j.History, state.Attempt{Edge: c.EdgeID, StartedAt: c.Now})
			j.Progress, j.UpdatedAt = state.Progress{}, c.Now
			if err := tx.PutJob(j); err != nil {
				return nil, err
			}
			if err := emitJob(tx, j, state.EventJobStarted, c.Now,
				map[string]any{"type": j.Type, "attempt": j.Attempts, "edge_id": c.EdgeID}); err != nil {
				return nil, err
			}
			leased = append(leased, j)
		}
		return leased, nil
	})

	handle(f, CmdRenewLease, func(tx *state.Tx, c RenewLease) (any, error) {
		switch {
		case c.EdgeID == "":
			return nil, state.Invalid("renew needs an edge id")
		case len(c.Jobs) > MaxRenewBatch:
			return nil, state.Invalid("renew at most %d jobs at once", MaxRenewBatch)
		case c.TTL <= 0 || c.TTL > MaxLeaseTTL:
			return nil, state.Invalid("lease ttl must be positive and at most %v", MaxLeaseTTL)
		case !validTime(c.Now):
			return nil, state.Invalid("renew needs a time")
		}
		res := RenewResult{Renewed: []string{}, Cancelled: []string{}, Lost: []string{}}
		for _, r := range c.Jobs {
			j, err := tx.Job(r.ID)
			if state.IsNotFound(err) {
				res.Lost = append(res.Lost, r.ID)
				continue
			} else if err != nil {
				return nil, err
			}
			if !j.Active() || j.LeaseHolder != c.EdgeID {
				res.Lost = append(res.Lost, r.ID)
				continue
			}
			if j.CancelRequested {
				closeAttempt(&j, c.Now, "cancelled")
				if err := endJob(tx, &j, state.JobCancelled, c.Now); err != nil {
					return nil, err
				}
				res.Cancelled = append(res.Cancelled, r.ID)
				continue
			}
			j.State, j.LeaseExpiresAt, j.UpdatedAt = state.JobRunning, c.Now.Add(c.TTL), c.Now
			if r.Progress != nil {
				j.Progress = *r.Progress
				j.Progress.Percent, j.Progress.UpdatedAt = clampPercent(j.Progress.Percent), c.Now
				if err := assetProgress(tx, j.AssetID, j.Progress.Percent, c.Now); err != nil {
					return nil, err
				}
			}
			if err := tx.PutJob(j); err != nil {
				return nil, err
			}
			res.Renewed = append(res.Renewed, r.ID)
		}
		return res, nil
	})

	handle(f, CmdCompleteJob, func(tx *state.Tx, c CompleteJob) (any, error) {
		switch {
		case c.EdgeID == "" || c.ID == "":
			return nil, state.Invalid("complete needs an edge id and a job id")
		case !validTime(c.Now):
			return nil, state.Invalid("complete needs a time")
		case len(c.Result) > MaxJobResult:
			return nil, state.Invalid("job result is over %d bytes", MaxJobResult)
		case len(c.Error) > MaxJobError:
			return nil, state.Invalid("job error is over %d bytes", MaxJobError)
		case c.Succeeded && c.Error != "":
			return nil, state.Invalid("a successful job has no error")
		}
		j, err := tx.Job(c.ID)
		if err != nil {
			return nil, err
		}
		if j.State == state.JobSucceeded && c.Succeeded && len(j.History) > 0 && j.History[len(j.History)-1].Edge == c.EdgeID {
			return j, nil // a retried report of the same success
		}
		if !j.Active() || j.LeaseHolder != c.EdgeID {
			return nil, state.Conflict("job %s is %s and not leased to edge %s", j.ID, j.State, c.EdgeID)
		}
		if c.Succeeded {
			closeAttempt(&j, c.Now, "")
			j.Result, j.Progress.Percent, j.Progress.UpdatedAt = c.Result, 100, c.Now
			if err := endJob(tx, &j, state.JobSucceeded, c.Now); err != nil {
				return nil, err
			}
			return j, nil
		}
		msg := c.Error
		if msg == "" {
			msg = "failed"
		}
		if err := failAttempt(tx, &j, c.Now, msg, !c.Permanent); err != nil {
			return nil, err
		}
		return j, nil
	})

	handle(f, CmdCancelJob, func(tx *state.Tx, c CancelJob) (any, error) {
		if !validTime(c.At) {
			return nil, state.Invalid("cancel needs a time")
		}
		j, err := orgJob(tx, c.OrgID, c.ID)
		if err != nil {
			return nil, err
		}
		if err := cancelJob(tx, &j, c.At); err != nil {
			return nil, err
		}
		return j, nil
	})

	handle(f, CmdExpireLeases, func(tx *state.Tx, c ExpireLeases) (any, error) {
		if !validTime(c.Now) {
			return nil, state.Invalid("expire needs a time")
		}
		due, err := tx.OverdueJobs(c.Now)
		if err != nil {
			return nil, err
		}
		res := ExpireResult{Requeued: []string{}, Failed: []string{}, Cancelled: []string{}}
		for _, d := range due {
			j := d.Job
			switch d.Reason {
			case state.OverdueSessionEnded:
				j.LastError = "session ended"
				err = endJob(tx, &j, state.JobCancelled, c.Now)
			case state.OverdueTimedOut:
				err = failAttempt(tx, &j, c.Now, fmt.Sprintf("timed out after %v", j.Timeout), true)
			default:
				err = failAttempt(tx, &j, c.Now, d.Reason, j.PinnedEdge == "")
			}
			if err != nil {
				return nil, err
			}
			switch j.State {
			case state.JobQueued:
				res.Requeued = append(res.Requeued, j.ID)
			case state.JobFailed:
				res.Failed = append(res.Failed, j.ID)
			case state.JobCancelled:
				res.Cancelled = append(res.Cancelled, j.ID)
			}
		}
		return res, nil
	})
}

// cancelJob cancels a queued job at once and marks an active one for its
// holder to stop. Cancelling a cancelled job changes nothing; a job that
// succeeded or failed cannot be cancelled.
func cancelJob(tx *state.Tx, j *state.Job, now time.Time) error {
	switch {
	case j.State == state.JobCancelled:
		return nil
	case j.Terminal():
		return state.Conflict("job %s already %s", j.ID, j.State)
	case j.State == state.JobQueued:
		j.CancelRequested = true
		return endJob(tx, j, state.JobCancelled, now)
	case j.CancelRequested:
		return nil
	}
	j.CancelRequested, j.UpdatedAt = true, now
	return tx.PutJob(*j)
}
