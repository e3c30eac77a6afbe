package fsm

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Session command types.
const (
	CmdStartSession  = "start_session"
	CmdSessionSource = "session_source"
	CmdEndSession    = "end_session"
	CmdExpireEdge    = "expire_edge"
)

// StartSession records a publish that the control plane authorized. It fails
// with a conflict when the stream is already live elsewhere.
type StartSession struct{ Session state.Session }

// SessionSource records what the publisher sent once the edge has probed it.
type SessionSource struct {
	ID     string
	Source state.SourceInfo
	// At is when the edge started transcoding (older proposers: zero,
	// and the event takes the session's start).
	At time.Time `json:",omitzero"`
}

// EndSession closes a session and returns its stream to idle.
type EndSession struct {
	ID     string
	Reason string
	At     time.Time
	// RecordingBytes is the size of the finalized recording the edge
	// kept (0: none).
	RecordingBytes int64 `json:",omitempty"`
}

// ExpireEdge closes every open session of an edge whose lease lapsed at At.
type ExpireEdge struct {
	EdgeID string
	At     time.Time
}

func (f *FSM) registerSessions() {
	handle(f, CmdStartSession, func(tx *state.Tx, c StartSession) (any, error) {
		s, err := tx.Stream(c.Session.StreamID)
		if err != nil {
			return nil, err
		}
		if s.Status == state.StreamActive && s.CurrentSessionID != "" {
			return nil, state.Conflict("stream is already live")
		}
		s.Status, s.CurrentSessionID = state.StreamActive, c.Session.ID
		if err := tx.PutStream(s); err != nil {
			return nil, err
		}
		if err := tx.PutSession(c.Session); err != nil {
			return nil, err
		}
		if err := emitSessionStarted(tx, c.Session); err != nil {
			return nil, err
		}
		return c.Session, restreamSessionStarted(tx, s)
	})
	handle(f, CmdSessionSource, func(tx *state.Tx, c SessionSource) (any, error) {
		s, err := tx.Session(c.ID)
		if err != nil {
			return nil, err
		}
		src := c.Source
		s.Source = &src
		if err := tx.PutSession(s); err != nil {
			return nil, err
		}
		return nil, emitTranscodeStarted(tx, s, c.At)
	})
	handle(f, CmdEndSession, func(tx *state.Tx, c EndSession) (any, error) {
		open := false
		if sess, err := tx.Session(c.ID); err == nil {
			open = sess.EndedAt == nil
		}
		if err := endSession(tx, c.ID, c.Reason, c.At); err != nil {
			return nil, err
		}
		if !open {
			return nil, nil // a repeated report
		}
		return nil, emitRecordingFinalized(tx, c)
	})
	handle(f, CmdExpireEdge, func(tx *state.Tx, c ExpireEdge) (any, error) {
		e, err := tx.Edge(c.EdgeID)
		if err != nil {
			return nil, err
		}
		// A heartbeat that renewed the lease after the leader decided to
		// expire it wins: the edge is alive.
		if e.LeaseExpiresAt.After(c.At) {
			return 0, nil
		}
		open, err := tx.Sessions(func(s state.Session) bool { return s.EdgeID == c.EdgeID && s.EndedAt == nil })
		if err != nil {
			return nil, err
		}
		for _, s := range open {
			if err := endSession(tx, s.ID, "edge_lost", c.At); err != nil {
				return nil, err
			}
		}
		return len(open), nil
	})
}

func endSession(tx *state.Tx, id, reason string, at time.Time) error {
	sess, err := tx.Session(id)
	if err != nil {
		return err
	}
	if sess.EndedAt != nil {
		return nil
	}
	sess.EndedAt, sess.EndReason = &at, reason
	if err := tx.PutSession(sess); err != nil {
		return err
	}
	if err := emitSessionEnded(tx, sess); err != nil {
		return err
	}
	if err := restreamSessionEnded(tx, sess, at); err != nil {
		return err
	}
	s, err := tx.Stream(sess.StreamID)
	if state.IsNotFound(err) {
		return nil // the stream was deleted while live
	} else if err != nil {
		return err
	}
	if s.CurrentSessionID == id {
		s.Status, s.CurrentSessionID = state.StreamIdle, ""
		return tx.PutStream(s)
	}
	return nil
}
