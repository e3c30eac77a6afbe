package state

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Job states. A job moves queued → leased → running → succeeded, and from
// leased or running back to queued when an attempt fails or its lease
// lapses with attempts left; failed and cancelled end it too.
const (
	JobQueued    = "queued"
	JobLeased    = "leased"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// Job types known today. The table stores any well-formed type name so
// that jobs of a newer version ("restream", "captions", "webhook") pass
// through an older state machine unharmed; which types exist and how they
// are retried is the jobs package's policy table.
const (
	JobLive         = "live"
	JobVOD          = "vod"
	JobClip         = "clip"
	JobRecordingVOD = "recording-vod"
	JobCaptions     = "captions"
)

// Job is a unit of media work that an edge leases, runs and reports on.
type Job struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	Type  string `json:"type"`
	// Payload is the type's own input (source key, ladder, clip range…),
	// opaque to the state machine.
	Payload json.RawMessage `json:"payload,omitempty"`
	State   string          `json:"state"`

	// Attempts counts leases taken; the job fails for good once an attempt
	// ends badly with Attempts == MaxAttempts.
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"max_attempts"`
	LastError   string    `json:"last_error,omitempty"`
	History     []Attempt `json:"history,omitempty"`

	// The retry policy in force when the job was created travels with it,
	// so Apply computes backoff and timeouts from the job alone and a
	// changed policy table never changes what a replayed log does. Zero
	// Timeout means none.
	Timeout     time.Duration `json:"timeout,omitempty"`
	BackoffBase time.Duration `json:"backoff_base,omitempty"`
	BackoffMax  time.Duration `json:"backoff_max,omitempty"`

	LeaseHolder    string    `json:"lease_holder,omitempty"`
	LeaseExpiresAt time.Time `json:"lease_expires_at,omitzero"`
	// QueuedAt is when the job last entered the queue; NotBefore holds it
	// back until a backoff has passed.
	QueuedAt  time.Time `json:"queued_at"`
	NotBefore time.Time `json:"not_before,omitzero"`
	// PinnedEdge, when set, is the only edge that may lease the job (a live
	// session's transcode runs where the publisher is connected).
	PinnedEdge string `json:"pinned_edge,omitempty"`
	// Region is where the job would rather run; edges of other regions
	// take it only after it has waited a grace period.
	Region   string   `json:"region,omitempty"`
	Progress Progress `json:"progress"`

	// AssetID is the asset the job produces or prepares.
	AssetID   string `json:"asset_id,omitempty"`
	StreamID  string `json:"stream_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`

	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	FinishedAt      *time.Time      `json:"finished_at,omitempty"`
	CancelRequested bool            `json:"cancel_requested,omitempty"`
	Result          json.RawMessage `json:"result,omitempty"`
}

// Attempt is one lease of a job: who ran it, when, and how it ended (Error
// is empty for the attempt that succeeded or one still running).
type Attempt struct {
	Edge      string     `json:"edge"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// Progress is what the edge running a job last reported.
type Progress struct {
	Percent   float64   `json:"percent"`
	FPS       float64   `json:"fps,omitempty"`
	Speed     float64   `json:"speed,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Terminal reports whether the job has ended for good.
func (j Job) Terminal() bool {
	return j.State == JobSucceeded || j.State == JobFailed || j.State == JobCancelled
}

// Active reports whether an edge holds the job.
func (j Job) Active() bool { return j.State == JobLeased || j.State == JobRunning }

// CurrentAttempt returns the attempt in progress, or nil.
func (j *Job) CurrentAttempt() *Attempt {
	if n := len(j.History); n > 0 && j.History[n-1].EndedAt == nil {
		return &j.History[n-1]
	}
	return nil
}

// RetryDelay is how long the job waits before its next attempt after
// attempt number j.Attempts failed: BackoffBase doubled per earlier
// attempt, capped at BackoffMax. It is a function of the job alone so the
// state machine computes the same NotBefore on every node.
func (j Job) RetryDelay() time.Duration {
	d := j.BackoffBase
	if d <= 0 {
		return 0
	}
	for i := 1; i < j.Attempts && (j.BackoffMax <= 0 || d < j.BackoffMax); i++ {
		d *= 2
	}
	if j.BackoffMax > 0 && d > j.BackoffMax {
		d = j.BackoffMax
	}
	return d
}

// Reasons a job is overdue.
const (
	OverdueLeaseLapsed  = "lease lapsed"
	OverdueTimedOut     = "timed out"
	OverdueSessionEnded = "session ended"
)

// OverdueJob is a job the reaper must act on, and why.
type OverdueJob struct {
	Job    Job
	Reason string
}

// OverdueJobs finds, at now, the active jobs whose lease lapsed or whose
// attempt ran past its timeout, and the queued jobs pinned to a live
// session that has ended (they can never run). Order: leased, running,
// then queued, each oldest first.
func (t *Tx) OverdueJobs(now time.Time) ([]OverdueJob, error) {
	var out []OverdueJob
	for _, st := range []string{JobLeased, JobRunning} {
		err := t.JobsInState(st, func(j Job) bool {
			if !j.LeaseExpiresAt.After(now) {
				out = append(out, OverdueJob{j, OverdueLeaseLapsed})
			} else if a := j.CurrentAttempt(); j.Timeout > 0 && a != nil && !a.StartedAt.Add(j.Timeout).After(now) {
				out = append(out, OverdueJob{j, OverdueTimedOut})
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	var pinned []Job
	err := t.JobsInState(JobQueued, func(j Job) bool {
		if j.PinnedEdge != "" && j.SessionID != "" {
			pinned = append(pinned, j)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, j := range pinned {
		s, err := t.Session(j.SessionID)
		if IsNotFound(err) || err == nil && s.EndedAt != nil {
			out = append(out, OverdueJob{j, OverdueSessionEnded})
		} else if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ValidJobState reports whether s is a job state.
func ValidJobState(s string) bool {
	switch s {
	case JobQueued, JobLeased, JobRunning, JobSucceeded, JobFailed, JobCancelled:
		return true
	}
	return false
}

// Job returns one job.
func (t *Tx) Job(id string) (Job, error) {
	var j Job
	ok, err := t.get(bJobs, id, &j)
	if err == nil && !ok {
		err = NotFound("job %s", id)
	}
	return j, err
}

// PutJob stores a job and keeps its state, org and asset indexes current.
func (t *Tx) PutJob(j Job) error {
	if j.ID == "" || j.OrgID == "" {
		return Invalid("job needs an id and an org")
	}
	if !ValidJobState(j.State) {
		return Invalid("unknown job state %q", j.State)
	}
	if j.CreatedAt.Unix() <= 0 {
		return Invalid("job needs a creation time")
	}
	var old Job
	ok, err := t.get(bJobs, j.ID, &old)
	if err != nil {
		return err
	}
	if ok {
		if old.OrgID != j.OrgID || !old.CreatedAt.Equal(j.CreatedAt) {
			return Invalid("job %s: org and creation time are fixed", j.ID)
		}
		if err := t.del(bJobsByState, old.State+"/"+orderKey(old.CreatedAt, old.ID)); err != nil {
			return err
		}
		if old.AssetID != "" && old.AssetID != j.AssetID {
			if err := t.del(bJobsByAsset, old.AssetID+"/"+old.ID); err != nil {
				return err
			}
		}
	}
	if err := t.putString(bJobsByState, j.State+"/"+orderKey(j.CreatedAt, j.ID), ""); err != nil {
		return err
	}
	if err := t.putString(bJobsByOrg, j.OrgID+"/"+orderKey(j.CreatedAt, j.ID), ""); err != nil {
		return err
	}
	if j.AssetID != "" {
		if err := t.putString(bJobsByAsset, j.AssetID+"/"+j.ID, ""); err != nil {
			return err
		}
	}
	return t.put(bJobs, j.ID, j)
}

// JobsInState calls fn with each job in state st, oldest first (creation
// time, then id), until fn returns false. The order is part of the state
// machine's contract: leasing walks it.
func (t *Tx) JobsInState(st string, fn func(Job) bool) error {
	c := t.tx.Bucket(bJobsByState).Cursor()
	p := []byte(st + "/")
	for k, _ := c.Seek(p); k != nil && hasPrefix(k, p); k, _ = c.Next() {
		j, err := t.Job(idOfOrderKey(string(k)))
		if err != nil {
			return fmt.Errorf("jobs_by_state %s: %w", k, err)
		}
		if !fn(j) {
			return nil
		}
	}
	return nil
}

// JobsOfAsset lists the jobs that produce or prepare an asset, in id order.
func (t *Tx) JobsOfAsset(assetID string) ([]Job, error) {
	var out []Job
	c := t.tx.Bucket(bJobsByAsset).Cursor()
	p := []byte(assetID + "/")
	for k, _ := c.Seek(p); k != nil && hasPrefix(k, p); k, _ = c.Next() {
		j, err := t.Job(string(k[len(p):]))
		if err != nil {
			return nil, fmt.Errorf("jobs_by_asset %s: %w", k, err)
		}
		out = append(out, j)
	}
	return out, nil
}

// Jobs lists an org's jobs newest first, a page at a time: up to limit jobs
// that keep accepts (nil keeps all), starting after the cursor a previous
// page returned ("" for the first page). next is "" on the last page.
func (t *Tx) Jobs(orgID, after string, limit int, keep func(Job) bool) (page []Job, next string, err error) {
	return pageNewestFirst(t, bJobsByOrg, orgID, after, limit, t.Job, keep)
}

// orderKey is the suffix of the ordered indexes: creation time as
// fixed-width nanoseconds since 1970 (sorts as a string), then the id to
// break ties.
func orderKey(created time.Time, id string) string {
	return fmt.Sprintf("%020d/%s", created.UnixNano(), id)
}

func idOfOrderKey(k string) string { return k[strings.LastIndexByte(k, '/')+1:] }

// pageNewestFirst walks the index entries under owner+"/" from newest to
// oldest, starting strictly before the cursor after (an orderKey), and
// reads each object with get until keep (nil keeps all) has accepted limit
// of them. It returns the cursor of the last accepted entry when more
// entries follow ("" on the last page).
func pageNewestFirst[T any](t *Tx, bucket []byte, owner, after string, limit int,
	get func(id string) (T, error), keep func(T) bool) (page []T, next string, err error) {
	if limit <= 0 {
		return nil, "", Invalid("page limit must be positive")
	}
	p := []byte(owner + "/")
	c := t.tx.Bucket(bucket).Cursor()
	// Start at the newest entry before the cursor; with no cursor, before
	// the first key past the prefix (p with its "/" incremented).
	start := append([]byte(owner), '/'+1)
	if after != "" {
		start = append(append([]byte{}, p...), after...)
	}
	k, _ := c.Seek(start)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	last := ""
	for ; k != nil && hasPrefix(k, p); k, _ = c.Prev() {
		if len(page) == limit {
			return page, last, nil
		}
		v, err := get(idOfOrderKey(string(k)))
		if err != nil {
			return nil, "", err
		}
		if keep == nil || keep(v) {
			page = append(page, v)
			last = string(k[len(p):])
		}
	}
	return page, "", nil
}
