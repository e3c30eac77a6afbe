package jobs

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Policy is how the jobs of one type are retried and bounded. It is copied
// into each job when the job is enqueued, so changing a policy affects new
// jobs only.
type Policy struct {
	// MaxAttempts is how many leases a job gets before it fails for good.
	MaxAttempts int
	// Timeout bounds one attempt, from its lease; zero means none.
	Timeout time.Duration
	// BackoffBase is the wait before the second attempt, doubled for each
	// later one up to BackoffMax.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Pinned types run on the edge named at enqueue and nowhere else.
	Pinned bool
}

// DefaultPolicies returns the policy of every job type this version knows.
//
// A live transcode belongs to the session on the edge the publisher is
// connected to: one attempt, pinned, no timeout (it runs as long as the
// broadcast). VOD transcodes of uploads and recordings get five attempts
// within two hours each; a clip is short work with three attempts in half
// an hour each. Captions (speech to text, at about real time with the
// offline engine) get three attempts within two hours each.
func DefaultPolicies() map[string]Policy {
	vod := Policy{MaxAttempts: 5, Timeout: 2 * time.Hour, BackoffBase: 30 * time.Second, BackoffMax: 10 * time.Minute}
	return map[string]Policy{
		state.JobLive:         {MaxAttempts: 1, Pinned: true},
		state.JobVOD:          vod,
		state.JobRecordingVOD: vod,
		state.JobClip:         {MaxAttempts: 3, Timeout: 30 * time.Minute, BackoffBase: 10 * time.Second, BackoffMax: 5 * time.Minute},
		state.JobCaptions:     {MaxAttempts: 3, Timeout: 2 * time.Hour, BackoffBase: 30 * time.Second, BackoffMax: 10 * time.Minute},
	}
}

func (p Policy) validate(typ string) error {
	if p.MaxAttempts < 1 || p.Timeout < 0 || p.BackoffBase < 0 || p.BackoffMax < p.BackoffBase && p.BackoffMax != 0 {
		return state.Invalid("policy of job type %s: want at least one attempt, no negative durations, backoff max at least base", typ)
	}
	return nil
}
