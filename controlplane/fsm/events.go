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
// not block. Call it before the FSM is handed to Raft.
func (f *FSM) OnApply(fn func(index uint64)) { f.onApply = fn }
