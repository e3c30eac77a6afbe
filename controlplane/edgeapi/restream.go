package edgeapi

import (
	"context"
	"encoding/json"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
)

// restreamJob reads a restream job the calling edge holds and its target.
// Any other job, or one the edge no longer runs, is not found: the edge
// stops it.
func (s *Service) restreamJob(tx *state.Tx, edgeID, jobID string) (state.Job, state.RestreamTarget, error) {
	j, err := tx.Job(jobID)
	if err != nil || j.Type != protocol.JobRestream || !j.Active() || j.LeaseHolder != edgeID || j.CancelRequested {
		return state.Job{}, state.RestreamTarget{}, &protocol.Error{Code: protocol.CodeNotFound, Message: "no running restream job " + jobID + " on this edge"}
	}
	var p protocol.RestreamJob
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return state.Job{}, state.RestreamTarget{}, &protocol.Error{Code: protocol.CodeInvalid, Message: "restream job " + jobID + ": undecodable payload"}
	}
	t, err := tx.RestreamTarget(p.StreamID, p.TargetID)
	if err != nil || t.JobID != j.ID {
		return state.Job{}, state.RestreamTarget{}, &protocol.Error{Code: protocol.CodeNotFound, Message: "restream job " + jobID + " has no target"}
	}
	return j, t, nil
}

// restreamCredentials opens the target's key for the edge that runs its
// job, and for no one else: the key never enters the job table, a log or
// an error.
func (s *Service) restreamCredentials(peer protocol.Peer, r protocol.RestreamCredentialsRequest) (any, error) {
	var out protocol.RestreamCredentials
	err := s.view(func(tx *state.Tx) error {
		_, t, err := s.restreamJob(tx, peer.Hello.NodeID, r.JobID)
		if err != nil {
			return err
		}
		key, err := tx.RestreamKey(t)
		if err != nil {
			return err
		}
		out = protocol.RestreamCredentials{URL: t.URL, Key: key}
		return nil
	})
	if err != nil {
		return nil, protoErr(err)
	}
	s.log.Info("restream credentials given", "edge_id", peer.Hello.NodeID, "job_id", r.JobID)
	return out, nil
}

// restreamStatus records a relay's change of state (live, reconnecting,
// failed) on its target, with its event.
func (s *Service) restreamStatus(ctx context.Context, peer protocol.Peer, r protocol.RestreamStatus) (any, error) {
	msg := r.Error
	if len(msg) > fsm.MaxJobError {
		msg = msg[:fsm.MaxJobError]
	}
	c := fsm.RestreamStatus{EdgeID: peer.Hello.NodeID, JobID: r.JobID, Status: r.Status, Error: msg, At: s.cfg.Now().UTC()}
	if _, err := s.cfg.Node.Apply(ctx, fsm.CmdRestreamStatus, c); err != nil {
		return nil, protoErr(err)
	}
	s.log.Info("restream status", "edge_id", peer.Hello.NodeID, "job_id", r.JobID, "status", r.Status, "err", msg)
	return struct{}{}, nil
}
