// Package jobs is the control plane's queue of media work (VOD and
// recording transcodes, clips, live transcodes; later restreams, captions
// and webhook deliveries) as a service over the replicated job table. It
// fills in ids, clocks and the per-type retry policy before proposing the
// fsm job commands, so applying them stays deterministic, and its Reaper
// takes jobs back from edges that stopped renewing or ran too long. It
// does not run jobs and speaks neither QUIC nor HTTP: the edge protocol
// handlers and the REST API call it.
//
// # How an edge uses it
//
// The QUIC handlers call these methods on an edge's behalf:
//
//  1. Lease(ctx, edgeID, types, region, limit) whenever the edge has free
//     slots (every few seconds is plenty). types are the job types the edge
//     can run; an edge never receives a type it did not name. Each job
//     returned is the edge's until its LeaseExpiresAt, LeaseTTL from now.
//     Its Attempts says which attempt this is; its Payload says what to do.
//     A Lease that fails with an outcome unknown costs at most one TTL:
//     whatever it leased lapses and returns to the queue.
//  2. While jobs run, Renew every LeaseTTL/3 with all of them in one call,
//     each with the progress parsed from ffmpeg. The answer sorts them:
//     Renewed ones go on; Cancelled ones were cancelled by a user and Lost
//     ones are no longer the edge's (its lease lapsed, say during a
//     partition, and the job went back to the queue or failed; or it ran
//     past its timeout). The edge stops both at once and reports nothing
//     more about them. A failed Renew is simply retried on the next tick:
//     a lease outlives two missed renewals, not three.
//  3. Complete with the result, or Fail with the error (Permanent when a
//     retry cannot help, such as a source that is not media). A not-found
//     or conflict answer means the job is no longer the edge's: drop it.
//     After an error of unknown outcome, repeat the same call: a repeated
//     success is accepted.
//
// A lapsed lease means a job can run twice (the old holder may still be
// working behind a partition until its next Renew says Lost), so a job's
// outputs must be idempotent: written under the job's asset prefix,
// overwriting, and registered with set_asset_ready, which may repeat.
//
// The leader runs one Reaper (NewReaper(...).Run(ctx) on every node: it
// acts only while its node leads).
package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
)

// Node is the part of a control-plane Raft member the service needs.
type Node interface {
	ApplyInto(ctx context.Context, typ string, body, out any) error
	Store() *state.Store
	IsLeader() bool
}

var _ Node = (*cluster.Node)(nil)

// Defaults of Config.
const (
	DefaultLeaseTTL    = 30 * time.Second
	DefaultRegionGrace = 15 * time.Second
)

// Config configures a Service.
type Config struct {
	Node Node
	// Policies maps each job type to its policy; nil takes
	// DefaultPolicies. A type without a policy cannot be enqueued.
	Policies map[string]Policy
	// LeaseTTL is how long a lease lasts without renewal.
	LeaseTTL time.Duration
	// RegionGrace is how long a job that prefers a region waits for an
	// edge of that region before any edge may take it.
	RegionGrace time.Duration
	// Clock gives the time commands carry; time.Now by default.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Service enqueues, leases and settles jobs.
type Service struct {
	node     Node
	policies map[string]Policy
	ttl      time.Duration
	grace    time.Duration
	clock    func() time.Time
	log      *slog.Logger
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Node == nil {
		return nil, fmt.Errorf("jobs: a node is required")
	}
	if cfg.Policies == nil {
		cfg.Policies = DefaultPolicies()
	}
	for typ, p := range cfg.Policies {
		if err := p.validate(typ); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.LeaseTTL < 0 || cfg.LeaseTTL > fsm.MaxLeaseTTL {
		return nil, fmt.Errorf("jobs: lease ttl %v is out of range (0, %v]", cfg.LeaseTTL, fsm.MaxLeaseTTL)
	}
	if cfg.RegionGrace == 0 {
		cfg.RegionGrace = DefaultRegionGrace
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{node: cfg.Node, policies: cfg.Policies, ttl: cfg.LeaseTTL, grace: max(cfg.RegionGrace, 0),
		clock: cfg.Clock, log: cfg.Logger}, nil
}

// LeaseTTL is how long a lease lasts; edges renew every third of it.
func (s *Service) LeaseTTL() time.Duration { return s.ttl }

func (s *Service) now() time.Time { return s.clock().UTC() }

// AssetJobID is the id of the job that makes asset assetID ready (the vod
// job of an upload, the recording-vod job of a recording): derived from the
// asset's id, so that an asset registered twice finds the job it queued
// the first time rather than queuing a second.
func AssetJobID(assetID string) string { return ids.Derive("job", assetID) }

// Enqueue queues a job built from j: OrgID, Type, Payload and, as they
// apply, Region, PinnedEdge, AssetID, StreamID and SessionID. The id is
// made unless set (a caller that may retry after an error of unknown
// outcome sets it, and takes a conflict as success); the creation time and
// the type's policy are filled in; every other field is ignored.
func (s *Service) Enqueue(ctx context.Context, j state.Job) (state.Job, error) {
	p, ok := s.policies[j.Type]
	if !ok {
		return state.Job{}, state.Invalid("unknown job type %q", j.Type)
	}
	if p.Pinned && j.PinnedEdge == "" {
		return state.Job{}, state.Invalid("%s jobs must be pinned to an edge", j.Type)
	}
	if j.ID == "" {
		j.ID = ids.New("job")
	} else if !ids.Valid("job", j.ID) {
		return state.Job{}, state.Invalid("job id %q is not a job id", j.ID)
	}
	j.CreatedAt = s.now()
	j.MaxAttempts, j.Timeout, j.BackoffBase, j.BackoffMax = p.MaxAttempts, p.Timeout, p.BackoffBase, p.BackoffMax
	var out state.Job
	if err := s.node.ApplyInto(ctx, fsm.CmdCreateJob, fsm.CreateJob{Job: j}, &out); err != nil {
		return state.Job{}, fmt.Errorf("enqueue %s job: %w", j.Type, err)
	}
	return out, nil
}

// Lease hands edgeID up to limit runnable jobs of the given types, preferring
// jobs pinned to it and jobs of its region (see fsm.LeaseJobs).
func (s *Service) Lease(ctx context.Context, edgeID string, types []string, region string, limit int) ([]state.Job, error) {
	c := fsm.LeaseJobs{EdgeID: edgeID, Types: types, Region: region, Max: limit, Now: s.now(), TTL: s.ttl, RegionGrace: s.grace}
	var out []state.Job
	if err := s.node.ApplyInto(ctx, fsm.CmdLeaseJobs, c, &out); err != nil {
		return nil, fmt.Errorf("lease jobs for edge %s: %w", edgeID, err)
	}
	return out, nil
}

// Renew extends edgeID's leases on the reported jobs and records their
// progress; the answer says which jobs to stop.
func (s *Service) Renew(ctx context.Context, edgeID string, reports []fsm.JobReport) (fsm.RenewResult, error) {
	out := fsm.RenewResult{Renewed: []string{}, Cancelled: []string{}, Lost: []string{}}
	if len(reports) == 0 {
		return out, nil // nothing to renew is not worth a log entry
	}
	c := fsm.RenewLease{EdgeID: edgeID, Jobs: reports, Now: s.now(), TTL: s.ttl}
	if err := s.node.ApplyInto(ctx, fsm.CmdRenewLease, c, &out); err != nil {
		return fsm.RenewResult{}, fmt.Errorf("renew leases of edge %s: %w", edgeID, err)
	}
	return out, nil
}

// Complete records that edgeID finished jobID with result (any JSON, such
// as the renditions made).
func (s *Service) Complete(ctx context.Context, edgeID, jobID string, result json.RawMessage) (state.Job, error) {
	return s.complete(ctx, fsm.CompleteJob{EdgeID: edgeID, ID: jobID, Succeeded: true, Result: result})
}

// Failure is how an attempt at a job went wrong.
type Failure struct {
	// Message says what failed; it is cut to fsm.MaxJobError bytes. It is
	// shown to the job's owner, so it must carry no secret (a restream
	// URL's key, a presigned URL).
	Message string
	// Permanent failures are not retried.
	Permanent bool
}

// Fail records that edgeID's attempt at jobID failed. The job goes back to
// the queue after its backoff while attempts remain, else it fails.
func (s *Service) Fail(ctx context.Context, edgeID, jobID string, f Failure) (state.Job, error) {
	msg := f.Message
	if msg == "" {
		msg = "failed"
	}
	return s.complete(ctx, fsm.CompleteJob{EdgeID: edgeID, ID: jobID, Error: truncate(msg, fsm.MaxJobError), Permanent: f.Permanent})
}

func (s *Service) complete(ctx context.Context, c fsm.CompleteJob) (state.Job, error) {
	c.Now = s.now()
	var out state.Job
	if err := s.node.ApplyInto(ctx, fsm.CmdCompleteJob, c, &out); err != nil {
		return state.Job{}, fmt.Errorf("complete job %s: %w", c.ID, err)
	}
	return out, nil
}

// Cancel cancels a job of an org ("" for any org): at once when queued,
// else when its edge next renews (and learns to stop) or its lease lapses.
func (s *Service) Cancel(ctx context.Context, orgID, jobID string) (state.Job, error) {
	var out state.Job
	if err := s.node.ApplyInto(ctx, fsm.CmdCancelJob, fsm.CancelJob{OrgID: orgID, ID: jobID, At: s.now()}, &out); err != nil {
		return state.Job{}, fmt.Errorf("cancel job %s: %w", jobID, err)
	}
	return out, nil
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
