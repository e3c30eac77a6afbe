package fsm

import (
	"encoding/json"
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Event command types.
const (
	CmdPruneEvents = "prune_events"
)

// PruneEvents applies the event retention: per org, events older than
// Before and the oldest beyond Max (0: unbounded) are deleted. The leader
// proposes it with the bounds computed from its flags, so every node
// deletes the same events whatever its own flags say.
type PruneEvents struct {
	Before time.Time
	Max    uint64
}

func (f *FSM) registerEvents() {
	handle(f, CmdPruneEvents, func(tx *state.Tx, c PruneEvents) (any, error) {
		return tx.PruneEvents(c.Before, c.Max)
	})
	f.registerPublishEvents()
	f.registerJobLogs()
}

// emit appends an event to the log inside the apply of the command that made
// the change; its id comes from the entry's Raft index. Every command that
// emits calls this, never tx.AppendEvent directly, so the event log has one
// door.
func emit(tx *state.Tx, ev state.Event) error {
	_, err := tx.AppendEvent(ev)
	return err
}

// eventData encodes an event's type-specific payload. The payloads are
// plain structs and maps of the command's own fields; one that cannot
// encode is dropped rather than failing the command.
func eventData(v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return raw
}

// OnApply registers fn to be called after each applied entry, outside the
// bbolt transaction (the events hub wakes its subscribers with it). fn must
// not block. It may be set while Raft applies.
func (f *FSM) OnApply(fn func(index uint64)) { f.onApply.Store(&fn) }

// applied1 tells the OnApply function of an applied entry.
func (f *FSM) applied1(index uint64) {
	if fn := f.onApply.Load(); fn != nil {
		(*fn)(index)
	}
}

// PublishRefused records a refused publish of a known stream (an unknown
// key has no org to tell). The edge API rate-limits these per stream and
// address before proposing, so a scanning bot cannot flood the log.
type PublishRefused struct {
	OrgID, StreamID string
	Protocol        string
	Reason          string
	At              time.Time
}

// CmdPublishRefused is PublishRefused's command type.
const CmdPublishRefused = "publish_refused"

func (f *FSM) registerPublishEvents() {
	handle(f, CmdPublishRefused, func(tx *state.Tx, c PublishRefused) (any, error) {
		if !validTime(c.At) || len(c.Reason) > 256 || len(c.Protocol) > 16 {
			return nil, state.Invalid("publish_refused needs a time, a short reason and protocol")
		}
		st, err := orgStream(tx, c.OrgID, c.StreamID)
		if err != nil {
			return nil, err
		}
		return nil, emit(tx, state.Event{OrgID: st.OrgID, Type: state.EventPublishRefused, StreamID: st.ID, At: c.At,
			Data: eventData(map[string]string{"protocol": c.Protocol, "reason": c.Reason})})
	})
}

func emitSessionStarted(tx *state.Tx, s state.Session) error {
	data := eventData(map[string]string{"protocol": s.Protocol, "edge_id": s.EdgeID})
	for _, typ := range []string{state.EventPublishAuthorized, state.EventSessionStarted} {
		if err := emit(tx, state.Event{OrgID: s.OrgID, Type: typ, StreamID: s.StreamID, SessionID: s.ID,
			At: s.StartedAt, Data: data}); err != nil {
			return err
		}
	}
	return nil
}

func emitTranscodeStarted(tx *state.Tx, s state.Session, at time.Time) error {
	if at.IsZero() {
		at = s.StartedAt
	}
	return emit(tx, state.Event{OrgID: s.OrgID, Type: state.EventTranscodeStarted, StreamID: s.StreamID, SessionID: s.ID,
		At: at, Data: eventData(s.Source)})
}

func emitSessionEnded(tx *state.Tx, s state.Session) error {
	return emit(tx, state.Event{OrgID: s.OrgID, Type: state.EventSessionEnded, StreamID: s.StreamID, SessionID: s.ID,
		At: *s.EndedAt, Data: eventData(map[string]string{"reason": s.EndReason})})
}

func emitRecordingFinalized(tx *state.Tx, c EndSession) error {
	if c.RecordingBytes <= 0 {
		return nil
	}
	s, err := tx.Session(c.ID)
	if err != nil {
		return err
	}
	return emit(tx, state.Event{OrgID: s.OrgID, Type: state.EventRecordingFinalized, StreamID: s.StreamID, SessionID: s.ID,
		At: c.At, Data: eventData(map[string]int64{"bytes": c.RecordingBytes})})
}

// jobEvents says whether a job's lifecycle is told as events. Webhook
// deliveries are not: a delivery of a job event would otherwise make
// another job event, and another delivery.
func jobEvents(j state.Job) bool { return j.Type != "webhook" }

func emitJob(tx *state.Tx, j state.Job, typ string, at time.Time, data any) error {
	if !jobEvents(j) {
		return nil
	}
	return emit(tx, state.Event{OrgID: j.OrgID, Type: typ, JobID: j.ID, AssetID: j.AssetID, StreamID: j.StreamID,
		SessionID: j.SessionID, At: at, Data: eventData(data)})
}

func emitAsset(tx *state.Tx, a state.Asset, typ string, at time.Time, data any) error {
	return emit(tx, state.Event{OrgID: a.OrgID, Type: typ, AssetID: a.ID, StreamID: a.StreamID, SessionID: a.SessionID,
		At: at, Data: eventData(data)})
}

// emitAssetCreated tells of a new asset; a recording's asset also tells
// that the recording reached object storage.
func emitAssetCreated(tx *state.Tx, a state.Asset) error {
	if a.Type == state.AssetRecording {
		if err := emitAsset(tx, a, state.EventRecordingUploaded, a.CreatedAt,
			map[string]any{"bytes": a.Size, "key": a.SourceKey}); err != nil {
			return err
		}
	}
	return emitAsset(tx, a, state.EventAssetCreated, a.CreatedAt, map[string]string{"type": a.Type})
}

// PutJobLog stores the tail of a job's ffmpeg output when an attempt
// ends; the proposer trims it (state.TrimJobLog), Apply refuses more.
type PutJobLog struct {
	EdgeID string
	ID     string
	Lines  []string
	// Truncated says the proposer dropped older lines.
	Truncated bool `json:",omitempty"`
	At        time.Time
}

// CmdPutJobLog is PutJobLog's command type.
const CmdPutJobLog = "put_job_log"

func (f *FSM) registerJobLogs() {
	handle(f, CmdPutJobLog, func(tx *state.Tx, c PutJobLog) (any, error) {
		if !validTime(c.At) {
			return nil, state.Invalid("put_job_log needs a time")
		}
		lines, truncated := state.TrimJobLog(c.Lines)
		if len(lines) != len(c.Lines) {
			return nil, state.Invalid("job log is over %d lines or %d bytes", state.MaxJobLogLines, state.MaxJobLogBytes)
		}
		j, err := tx.Job(c.ID)
		if err != nil {
			return nil, err
		}
		// Only the edge that ran the last attempt may say what it printed.
		if n := len(j.History); n == 0 || j.History[n-1].Edge != c.EdgeID {
			return nil, state.Conflict("job %s was not last run by edge %s", c.ID, c.EdgeID)
		}
		return nil, tx.PutJobLog(state.JobLog{JobID: j.ID, OrgID: j.OrgID, Lines: lines, Truncated: c.Truncated || truncated, At: c.At})
	})
}
