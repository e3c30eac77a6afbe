package jobs

import (
	"github.com/livestreams/livestreams/controlplane/state"
)

// Page sizes of List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Filter selects jobs; empty fields match everything.
type Filter struct {
	State     string
	Type      string
	AssetID   string
	StreamID  string
	SessionID string
}

func (f Filter) match(j state.Job) bool {
	return (f.State == "" || j.State == f.State) && (f.Type == "" || j.Type == f.Type) &&
		(f.AssetID == "" || j.AssetID == f.AssetID) && (f.StreamID == "" || j.StreamID == f.StreamID) &&
		(f.SessionID == "" || j.SessionID == f.SessionID)
}

// PageRequest asks for a page: up to Limit jobs (DefaultPageSize when
// zero) after the cursor a previous page returned.
type PageRequest struct {
	Limit int
	After string
}

// Page is one page of jobs, newest first; Next is the cursor of the
// following page, "" on the last.
type Page struct {
	Jobs []state.Job
	Next string
}

// Get returns a job of an org ("" for any org) from this node's state. It
// reads locally; a caller that must see its own earlier write through
// another node makes a consistent read first (cluster.Node.ConsistentRead).
func (s *Service) Get(orgID, jobID string) (state.Job, error) {
	var j state.Job
	err := s.node.Store().View(func(tx *state.Tx) error {
		var err error
		j, err = tx.Job(jobID)
		if err == nil && orgID != "" && j.OrgID != orgID {
			err = state.NotFound("job %s", jobID)
		}
		return err
	})
	return j, err
}

// List returns a page of an org's jobs that match f, newest first, from
// this node's state (see Get about consistency).
func (s *Service) List(orgID string, f Filter, p PageRequest) (Page, error) {
	if f.State != "" && !state.ValidJobState(f.State) {
		return Page{}, state.Invalid("unknown job state %q", f.State)
	}
	if p.Limit == 0 {
		p.Limit = DefaultPageSize
	}
	if p.Limit < 0 || p.Limit > MaxPageSize {
		return Page{}, state.Invalid("limit must be 1 to %d", MaxPageSize)
	}
	var page Page
	err := s.node.Store().View(func(tx *state.Tx) error {
		var err error
		page.Jobs, page.Next, err = tx.Jobs(orgID, p.After, p.Limit, f.match)
		return err
	})
	if page.Jobs == nil {
		page.Jobs = []state.Job{}
	}
	return page, err
}
