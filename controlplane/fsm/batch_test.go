package fsm_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
)

// A batch applies exactly as its entries one by one would: the same
// results (a refused command refused, the others applied), the same state,
// and entries already held are skipped on replay.
func TestApplyBatchEqualsApplyOneByOne(t *testing.T) {
	var logs []*raft.Log
	add := func(typ string, body any) {
		data, err := fsm.Encode(typ, body)
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Type: raft.LogCommand, Data: data})
	}
	org := func(id string) fsm.CreateOrg {
		return fsm.CreateOrg{Org: state.Org{ID: id, Name: id, CreatedAt: time.Unix(0, 0).UTC()}}
	}
	for i := range 5 {
		add(fsm.CmdCreateOrg, org(fmt.Sprintf("org_%d", i)))
	}
	add(fsm.CmdCreateOrg, org("org_2")) // refused: it exists
	logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Type: raft.LogNoop})
	add(fsm.CmdCreateOrg, org("org_last"))

	open := func() (*fsm.FSM, *state.Store) {
		st, err := state.Open(filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return fsm.New(st, slog.New(slog.DiscardHandler)), st
	}
	one, oneStore := open()
	var want []any
	for _, l := range logs {
		want = append(want, one.Apply(l))
	}
	batched, batchStore := open()
	got := batched.ApplyBatch(logs)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("batch results differ:\n got %v\nwant %v", got, want)
	}
	if r, _ := got[5].(fsm.Result); r.Err == nil {
		t.Fatalf("the duplicate org was not refused: %+v", got[5])
	}
	if batched.Applied() != one.Applied() || batched.Applied() != uint64(len(logs)) {
		t.Fatalf("applied %d, one by one %d, want %d", batched.Applied(), one.Applied(), len(logs))
	}
	if a, b := dump(t, oneStore), dump(t, batchStore); a != b {
		t.Fatalf("states differ:\n%s\n%s", a, b)
	}
	// A replay of entries the state holds changes nothing.
	for _, r := range batched.ApplyBatch(logs[:3]) {
		if res, _ := r.(fsm.Result); res.Err != nil || len(res.Value) != 0 {
			t.Fatalf("replayed entry answered %+v", res)
		}
	}
	if a, b := dump(t, oneStore), dump(t, batchStore); a != b {
		t.Fatalf("replay changed the state:\n%s\n%s", a, b)
	}
}

func dump(t *testing.T, st *state.Store) string {
	t.Helper()
	var out []state.Org
	err := st.View(func(tx *state.Tx) error {
		for _, id := range []string{"org_0", "org_1", "org_2", "org_3", "org_4", "org_last"} {
			o, err := tx.Org(id)
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(out)
	return string(raw)
}
