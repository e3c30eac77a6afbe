package fsm

import (
	"encoding/json"
	"time"

	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
)

// Restream target command types.
//
// Restream jobs are orchestrated here, in Apply, rather than by a
// reconciler on the leader: every change that decides whether a target
// relays (a session starting or ending, a target created, switched,
// edited or deleted) is already a command, so the command that makes the
// change also queues or cancels the target's job in the same
// transaction. There is no window in which a stream is live with an
// enabled target and no job, nothing to re-scan after a leader change,
// and every node derives the same job ids (from the session, the target
// and the command's time).
const (
	CmdCreateRestreamTarget = "create_restream_target"
	CmdUpdateRestreamTarget = "update_restream_target"
	CmdDeleteRestreamTarget = "delete_restream_target"
	CmdRestreamStatus       = "restream_status"
)

// The policy of restream jobs. The edge reconnects to a target that drops
// by itself; an attempt ends only when its ffmpeg or the relay gives up,
// and is retried twice, soon, while the session lasts.
const (
	restreamMaxAttempts = 3
	restreamBackoffBase = time.Second
	restreamBackoffMax  = 5 * time.Second
)

// CreateRestreamTarget adds a target to a stream. The proposer fills the
// id, the times, the sealed key and its last four characters. An enabled
// target of a live stream starts relaying at once.
type CreateRestreamTarget struct{ Target state.RestreamTarget }

// UpdateRestreamTarget changes a target; nil fields stay as they are.
// KeySealed and KeyLast4 go together. Switching a target off stops its
// relay; switching it on (or changing where it goes) while the stream is
// live starts a new one.
type UpdateRestreamTarget struct {
	OrgID, StreamID, ID string
	Name                *string
	Preset              *string
	URL                 *string
	KeySealed           *string
	KeyLast4            *string
	Enabled             *bool
	At                  time.Time
}

// DeleteRestreamTarget removes a target and stops its relay.
type DeleteRestreamTarget struct {
	OrgID, StreamID, ID string
	At                  time.Time
}

// RestreamStatus records what the edge running a restream job says of
// its relay (protocol.RestreamLive, RestreamReconnecting or
// RestreamFailed). A report about a job that is no longer the target's
// current one, or no longer the edge's, changes nothing.
type RestreamStatus struct {
	EdgeID, JobID string
	Status        string
	Error         string
	At            time.Time
}

func orgRestreamTarget(tx *state.Tx, orgID, streamID, id string) (state.RestreamTarget, error) {
	if _, err := orgStream(tx, orgID, streamID); err != nil {
		return state.RestreamTarget{}, err
	}
	r, err := tx.RestreamTarget(streamID, id)
	if err != nil || (orgID != "" && r.OrgID != orgID) {
		return state.RestreamTarget{}, state.NotFound("restream target %s", id)
	}
	return r, nil
}

func (f *FSM) registerRestream() {
	handle(f, CmdCreateRestreamTarget, func(tx *state.Tx, c CreateRestreamTarget) (any, error) {
		r := c.Target
		s, err := orgStream(tx, r.OrgID, r.StreamID)
		if err != nil {
			return nil, err
		}
		if err := r.Valid(); err != nil {
			return nil, err
		}
		if !validTime(r.CreatedAt) {
			return nil, state.Invalid("restream target needs a creation time")
		}
		existing, err := tx.RestreamTargets(r.StreamID)
		if err != nil {
			return nil, err
		}
		if len(existing) >= state.MaxRestreamTargets {
			return nil, state.Conflict("a stream has at most %d restream targets", state.MaxRestreamTargets)
		}
		if _, err := tx.RestreamTarget(r.StreamID, r.ID); err == nil {
			return nil, state.Conflict("restream target %s already exists", r.ID)
		}
		r.Status, r.LastError, r.StatusAt, r.JobID = state.RestreamIdle, "", time.Time{}, ""
		r.UpdatedAt = r.CreatedAt
		if r.Enabled {
			if err := startRestream(tx, s, &r, r.CreatedAt); err != nil {
				return nil, err
			}
		}
		return r, tx.PutRestreamTarget(r)
	})
	handle(f, CmdUpdateRestreamTarget, func(tx *state.Tx, c UpdateRestreamTarget) (any, error) {
		r, err := orgRestreamTarget(tx, c.OrgID, c.StreamID, c.ID)
		if err != nil {
			return nil, err
		}
		if !validTime(c.At) {
			return nil, state.Invalid("update needs a time")
		}
		wasEnabled := r.Enabled
		moved := false
		if c.Name != nil {
			r.Name = *c.Name
		}
		if c.Preset != nil && *c.Preset != r.Preset {
			r.Preset, moved = *c.Preset, true
		}
		if c.URL != nil && *c.URL != r.URL {
			r.URL, moved = *c.URL, true
		}
		if c.KeySealed != nil {
			r.KeySealed, moved = *c.KeySealed, true
			if c.KeyLast4 != nil {
				r.KeyLast4 = *c.KeyLast4
			}
		}
		if c.Enabled != nil {
			r.Enabled = *c.Enabled
		}
		if err := r.Valid(); err != nil {
			return nil, err
		}
		r.UpdatedAt = c.At
		s, err := tx.Stream(r.StreamID)
		if err != nil {
			return nil, err
		}
		running, err := restreamRunning(tx, s, r)
		if err != nil {
			return nil, err
		}
		switch {
		case !r.Enabled && running:
			err = stopRestream(tx, &r, c.At, "disabled")
		case r.Enabled && running && moved:
			if err = stopRestream(tx, &r, c.At, "target changed"); err == nil {
				err = startRestream(tx, s, &r, c.At)
			}
		case r.Enabled && !running && (!wasEnabled || moved):
			err = startRestream(tx, s, &r, c.At)
		}
		if err != nil {
			return nil, err
		}
		return r, tx.PutRestreamTarget(r)
	})
	handle(f, CmdDeleteRestreamTarget, func(tx *state.Tx, c DeleteRestreamTarget) (any, error) {
		r, err := orgRestreamTarget(tx, c.OrgID, c.StreamID, c.ID)
		if err != nil {
			return nil, err
		}
		if !validTime(c.At) {
			return nil, state.Invalid("delete needs a time")
		}
		if err := stopRestream(tx, &r, c.At, "deleted"); err != nil {
			return nil, err
		}
		return nil, tx.DeleteRestreamTarget(r.StreamID, r.ID)
	})
	handle(f, CmdRestreamStatus, func(tx *state.Tx, c RestreamStatus) (any, error) {
		if !validTime(c.At) {
			return nil, state.Invalid("restream status needs a time")
		}
		var st string
		switch c.Status {
		case protocol.RestreamLive:
			st = state.RestreamLive
		case protocol.RestreamReconnecting:
			st = state.RestreamReconnecting
		case protocol.RestreamFailed:
			st = state.RestreamFailed
		default:
			return nil, state.Invalid("restream status must be live, reconnecting or failed")
		}
		j, err := tx.Job(c.JobID)
		if err != nil {
			return nil, err
		}
		if j.Type != protocol.JobRestream {
			return nil, state.Invalid("job %s is not a restream job", j.ID)
		}
		if !j.Active() || j.LeaseHolder != c.EdgeID || j.CancelRequested {
			return false, nil // a late report of a relay that was stopped
		}
		var p protocol.RestreamJob
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			return nil, state.Invalid("restream job %s: undecodable payload", j.ID)
		}
		r, err := tx.RestreamTarget(p.StreamID, p.TargetID)
		if state.IsNotFound(err) {
			return false, nil
		} else if err != nil {
			return nil, err
		}
		if r.JobID != j.ID {
			return false, nil
		}
		prev := r.Status
		r.Status, r.StatusAt = st, c.At
		if st == state.RestreamLive {
			r.LastError = ""
		} else if c.Error != "" {
			r.LastError = cut(c.Error, MaxJobError)
		}
		if err := tx.PutRestreamTarget(r); err != nil {
			return nil, err
		}
		if prev == st {
			return true, nil
		}
		ev := map[string]string{state.RestreamLive: state.EventRestreamStarted, state.RestreamReconnecting: state.EventRestreamReconnecting,
			state.RestreamFailed: state.EventRestreamFailed}[st]
		return true, emitRestream(tx, r, ev, c.At, map[string]string{"target_id": r.ID, "name": r.Name, "error": r.LastError})
	})
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func emitRestream(tx *state.Tx, r state.RestreamTarget, typ string, at time.Time, data map[string]string) error {
	if data["error"] == "" {
		delete(data, "error")
	}
	return emit(tx, state.Event{OrgID: r.OrgID, Type: typ, StreamID: r.StreamID, JobID: r.JobID,
		Data: eventData(data), At: at})
}

// restreamJobID is the id of the job that relays session sessionID to
// target targetID from time at: the same on every node, and new each
// time a target is switched on again within one session.
func restreamJobID(sessionID, targetID string, at time.Time) string {
	return ids.Derive("job", sessionID+"/"+targetID+"/"+at.UTC().Format(time.RFC3339Nano))
}

// restreamRunning reports whether r's current job relays the stream's
// current session.
func restreamRunning(tx *state.Tx, s state.Stream, r state.RestreamTarget) (bool, error) {
	if r.JobID == "" || s.CurrentSessionID == "" {
		return false, nil
	}
	j, err := tx.Job(r.JobID)
	if state.IsNotFound(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return !j.Terminal() && !j.CancelRequested && j.SessionID == s.CurrentSessionID, nil
}

// startRestream queues the job that relays the stream's live session to
// r, pinned to the session's edge; a stream that is not live starts
// nothing.
func startRestream(tx *state.Tx, s state.Stream, r *state.RestreamTarget, at time.Time) error {
	if s.CurrentSessionID == "" || s.Status != state.StreamActive {
		return nil
	}
	sess, err := tx.Session(s.CurrentSessionID)
	if err != nil {
		return err
	}
	if sess.EndedAt != nil || sess.EdgeID == "" {
		return nil
	}
	payload, err := json.Marshal(protocol.RestreamJob{TargetID: r.ID, StreamID: r.StreamID, SessionID: sess.ID, Name: r.Name, Preset: r.Preset})
	if err != nil {
		return err
	}
	j := state.Job{ID: restreamJobID(sess.ID, r.ID, at), OrgID: r.OrgID, Type: protocol.JobRestream, Payload: payload,
		State: state.JobQueued, MaxAttempts: restreamMaxAttempts, BackoffBase: restreamBackoffBase, BackoffMax: restreamBackoffMax,
		PinnedEdge: sess.EdgeID, StreamID: r.StreamID, SessionID: sess.ID,
		QueuedAt: at, CreatedAt: at, UpdatedAt: at}
	if _, err := tx.Job(j.ID); err == nil {
		return state.Conflict("restream job %s already exists", j.ID)
	}
	if err := tx.PutJob(j); err != nil {
		return err
	}
	r.JobID, r.Status, r.LastError, r.StatusAt = j.ID, state.RestreamStarting, "", at
	return emitJob(tx, j, state.EventJobQueued, at, map[string]any{"type": j.Type})
}

// stopRestream cancels r's job, if it still runs, and marks the target
// stopped (an event says why).
func stopRestream(tx *state.Tx, r *state.RestreamTarget, at time.Time, why string) error {
	if r.JobID == "" {
		return nil
	}
	j, err := tx.Job(r.JobID)
	if state.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if !j.Terminal() && !j.CancelRequested {
		if err := cancelJob(tx, &j, at); err != nil {
			return err
		}
	}
	if r.Status != state.RestreamStarting && r.Status != state.RestreamLive && r.Status != state.RestreamReconnecting {
		return nil // already stopped, or failed: that stays what it shows
	}
	r.Status, r.StatusAt = state.RestreamStopped, at
	return emitRestream(tx, *r, state.EventRestreamStopped, at, map[string]string{"target_id": r.ID, "name": r.Name, "reason": why})
}

// restreamSessionStarted queues a relay for each enabled target of the
// stream that just went live (start_session calls it).
func restreamSessionStarted(tx *state.Tx, s state.Stream) error {
	targets, err := tx.RestreamTargets(s.ID)
	if err != nil {
		return err
	}
	sess, err := tx.Session(s.CurrentSessionID)
	if err != nil {
		return err
	}
	for _, r := range targets {
		if !r.Enabled {
			continue
		}
		if err := startRestream(tx, s, &r, sess.StartedAt); err != nil {
			return err
		}
		if err := tx.PutRestreamTarget(r); err != nil {
			return err
		}
	}
	return nil
}

// restreamSessionEnded stops the relays of a session that ended
// (endSession calls it).
func restreamSessionEnded(tx *state.Tx, sess state.Session, at time.Time) error {
	targets, err := tx.RestreamTargets(sess.StreamID)
	if err != nil {
		return err
	}
	for _, r := range targets {
		if r.JobID == "" {
			continue
		}
		j, err := tx.Job(r.JobID)
		if state.IsNotFound(err) || err == nil && j.SessionID != sess.ID {
			continue
		} else if err != nil {
			return err
		}
		if err := stopRestream(tx, &r, at, "session ended"); err != nil {
			return err
		}
		if err := tx.PutRestreamTarget(r); err != nil {
			return err
		}
	}
	return nil
}

// restreamJobFailed shows a restream job that failed for good (its edge
// lost, its attempts spent) as a failed target, unless the edge already
// said so or the target moved on to another job. endJob calls it for
// every job; cancellations are the stop paths' own business.
func restreamJobFailed(tx *state.Tx, j state.Job, st string, now time.Time) error {
	if j.Type != protocol.JobRestream || st != state.JobFailed {
		return nil
	}
	var p protocol.RestreamJob
	if json.Unmarshal(j.Payload, &p) != nil {
		return nil
	}
	r, err := tx.RestreamTarget(p.StreamID, p.TargetID)
	if state.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if r.JobID != j.ID || (r.Status != state.RestreamStarting && r.Status != state.RestreamLive && r.Status != state.RestreamReconnecting) {
		return nil
	}
	r.Status, r.StatusAt, r.LastError = state.RestreamFailed, now, cut(j.LastError, MaxJobError)
	if err := tx.PutRestreamTarget(r); err != nil {
		return err
	}
	return emitRestream(tx, r, state.EventRestreamFailed, now, map[string]string{"target_id": r.ID, "name": r.Name, "error": r.LastError})
}
