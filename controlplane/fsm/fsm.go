// Package fsm is the Raft finite-state machine of the control plane: it
// decodes a typed command from each committed log entry and dispatches it to
// one small apply function that edits the state store in one bbolt
// transaction. Apply is deterministic: every id, timestamp and hash arrives
// inside the command, computed by the proposer. It does not talk to the
// network or read the clock.
package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Command is one log entry: its type names the apply function, Body is the
// type's own JSON.
type Command struct {
	Type string          `json:"type"`
	Body json.RawMessage `json:"body"`
}

// Encode builds the log-entry bytes of a command.
func Encode(typ string, body any) ([]byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", typ, err)
	}
	return json.Marshal(Command{Type: typ, Body: raw})
}

// Result is what Apply returns for each entry: the command's value or the
// state-level error that refused it. Both cross the forwarding hop as JSON.
type Result struct {
	Value json.RawMessage `json:"value,omitempty"`
	Err   *state.Error    `json:"error,omitempty"`
}

type applyFunc func(tx *state.Tx, body json.RawMessage) (any, error)

// FSM applies commands to a state store.
type FSM struct {
	store    *state.Store
	log      *slog.Logger
	handlers map[string]applyFunc
	// applied is the Raft index of the last entry the state reflects
	// (commands from the bbolt file, configuration entries in memory).
	applied atomic.Uint64
	// onApply is told of each applied entry (events.go).
	onApply atomic.Pointer[func(index uint64)]
}

// New returns an FSM over store.
func New(store *state.Store, log *slog.Logger) *FSM {
	f := &FSM{store: store, log: log, handlers: map[string]applyFunc{}}
	f.registerCluster()
	f.registerSetup()
	f.registerOrgs()
	f.registerInvitations()
	f.registerSealing()
	f.registerUsers()
	f.registerAPIKeys()
	f.registerStreams()
	f.registerSessions()
	f.registerSigningKeys()
	f.registerJobs()
	f.registerAssets()
	f.registerAnalytics()
	f.registerIdentity()
	f.registerLinkedAccounts()
	f.registerWebhooks()
	f.registerRestream()
	f.registerEvents()
	f.loadApplied()
	return f
}

func (f *FSM) loadApplied() {
	f.store.View(func(tx *state.Tx) error {
		f.applied.Store(tx.AppliedIndex())
		return nil
	})
}

// Applied returns the Raft index of the last entry the state reflects.
// Unlike raft.AppliedIndex it only moves once the entry's effect is visible.
func (f *FSM) Applied() uint64 { return f.applied.Load() }

func (f *FSM) advance(i uint64) {
	for {
		cur := f.applied.Load()
		if i <= cur || f.applied.CompareAndSwap(cur, i) {
			return
		}
	}
}

// StoreConfiguration implements raft.ConfigurationStore so configuration
// entries advance the applied index too.
func (f *FSM) StoreConfiguration(index uint64, _ raft.Configuration) { f.advance(index) }

// Store returns the state store the FSM writes.
func (f *FSM) Store() *state.Store { return f.store }

func handle[T any](f *FSM, typ string, fn func(tx *state.Tx, cmd T) (any, error)) {
	f.handlers[typ] = func(tx *state.Tx, body json.RawMessage) (any, error) {
		var cmd T
		if err := json.Unmarshal(body, &cmd); err != nil {
			return nil, state.Invalid("decode %s: %v", typ, err)
		}
		return fn(tx, cmd)
	}
}

// Apply implements raft.FSM.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return Result{}
	}
	var cmd Command
	if err := json.Unmarshal(l.Data, &cmd); err != nil {
		return Result{Err: &state.Error{Code: state.CodeInvalid, Message: "undecodable command"}}
	}
	h, ok := f.handlers[cmd.Type]
	if !ok {
		// An entry from a newer version: skip it rather than diverge by crashing.
		f.log.Error("unknown command type in raft log", "type", cmd.Type, "index", l.Index)
		return Result{Err: &state.Error{Code: state.CodeInvalid, Message: "unknown command " + cmd.Type}}
	}
	var value any
	skipped := false
	err := f.store.Update(func(tx *state.Tx) error {
		// Raft replays entries after its last snapshot on restart; the state
		// file may already hold them.
		if l.Index <= tx.AppliedIndex() {
			skipped = true
			return nil
		}
		// The index is set first so that events the command emits take
		// their ids from it; a refused command rolls it back with the rest.
		if err := tx.SetAppliedIndex(l.Index); err != nil {
			return err
		}
		var err error
		value, err = h(tx, cmd.Body)
		return err
	})
	if err != nil {
		// The refused command changed nothing, but its index is applied.
		if uerr := f.store.Update(func(tx *state.Tx) error { return tx.SetAppliedIndex(l.Index) }); uerr != nil {
			f.log.Error("record applied index", "index", l.Index, "err", uerr)
		}
	}
	f.advance(l.Index)
	f.applied1(l.Index)
	if skipped {
		return Result{}
	}
	if err != nil {
		var se *state.Error
		if errors.As(err, &se) {
			return Result{Err: se}
		}
		f.log.Error("apply command", "type", cmd.Type, "index", l.Index, "err", err)
		return Result{Err: &state.Error{Code: "internal", Message: err.Error()}}
	}
	if value == nil {
		return Result{}
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return Result{Err: &state.Error{Code: "internal", Message: err.Error()}}
	}
	return Result{Value: raw}
}

// Snapshot implements raft.FSM: a consistent copy of the bbolt file. The
// copy is taken when Persist runs and may include entries applied after
// this call; that is safe because the file carries its own applied index
// and replay skips what it already holds.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) { return &snapshot{store: f.store}, nil }

// Restore implements raft.FSM: the snapshot replaces the state.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.store.Restore(rc); err != nil {
		return err
	}
	f.store.View(func(tx *state.Tx) error {
		f.applied.Store(tx.AppliedIndex())
		return nil
	})
	f.applied1(f.applied.Load())
	return nil
}

type snapshot struct{ store *state.Store }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.store.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *snapshot) Release() {}
