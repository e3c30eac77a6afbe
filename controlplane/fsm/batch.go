package fsm

import (
	"encoding/json"
	"errors"

	"github.com/hashicorp/raft"

	"github.com/livestreams/livestreams/controlplane/state"
)

// errBatchRefused aborts a batch's transaction when one of its commands is
// refused: a bbolt transaction cannot undo one command's writes and keep
// the others', so the batch is applied again entry by entry.
var errBatchRefused = errors.New("a command of the batch was refused")

// ApplyBatch implements raft.BatchingFSM: the committed entries Raft hands
// over together are applied in one bbolt transaction, so a burst of writes
// costs one fsync of the state file instead of one each. The outcome is
// the same as applying them one by one: when any command is refused, the
// transaction is dropped and every entry goes through Apply.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	type entry struct {
		log   *raft.Log
		h     applyFunc
		body  json.RawMessage
		value any
		skip  bool
	}
	entries := make([]entry, len(logs))
	for i, l := range logs {
		entries[i].log = l
		if l.Type != raft.LogCommand {
			entries[i].skip = true
			continue
		}
		var cmd Command
		if json.Unmarshal(l.Data, &cmd) != nil {
			return f.applyEach(logs)
		}
		h, ok := f.handlers[cmd.Type]
		if !ok {
			return f.applyEach(logs)
		}
		entries[i].h, entries[i].body = h, cmd.Body
	}
	err := f.store.Update(func(tx *state.Tx) error {
		for i := range entries {
			e := &entries[i]
			if e.skip {
				continue
			}
			if e.log.Index <= tx.AppliedIndex() {
				e.skip = true
				continue
			}
			if err := tx.SetAppliedIndex(e.log.Index); err != nil {
				return err
			}
			v, err := e.h(tx, e.body)
			if err != nil {
				return errBatchRefused
			}
			e.value = v
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, errBatchRefused) {
			f.log.Error("apply batch", "first", logs[0].Index, "entries", len(logs), "err", err)
		}
		return f.applyEach(logs)
	}
	out := make([]any, len(entries))
	for i, e := range entries {
		f.advance(e.log.Index)
		f.applied1(e.log.Index)
		out[i] = valueResult(e.value)
	}
	return out
}

// applyEach applies logs one at a time.
func (f *FSM) applyEach(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	for i, l := range logs {
		out[i] = f.Apply(l)
	}
	return out
}

// valueResult is the Result of a command that succeeded with v.
func valueResult(v any) Result {
	if v == nil {
		return Result{}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return Result{Err: &state.Error{Code: "internal", Message: err.Error()}}
	}
	return Result{Value: raw}
}
