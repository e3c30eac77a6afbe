package directupload_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/directupload"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

// env is a one-node control plane, a Local object store and a test clock
// the watcher judges expiries by.
type env struct {
	t     *testing.T
	ctx   context.Context
	node  *cluster.Node
	jobs  *jobs.Service
	store *objstore.Local
	now   atomic.Int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	n, err := cluster.Open(cluster.Config{NodeID: "cp1", DataDir: t.TempDir(), RaftAddr: testutil.FreeAddr(t),
		HTTPAdvertise: "http://127.0.0.1:1", Bootstrap: true, ClusterKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if err := n.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	store, err := objstore.NewLocal(t.TempDir(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{t: t, ctx: ctx, node: n, store: store}
	e.now.Store(time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	e.jobs, err = jobs.New(jobs.Config{Node: n, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) clock() time.Time           { return time.Unix(0, e.now.Load()).UTC() }
func (e *env) advance(d time.Duration)    { e.now.Add(int64(d)) }
func (e *env) apply(typ string, body any) { e.t.Helper(); e.applyInto(typ, body, nil) }

func (e *env) applyInto(typ string, body, out any) {
	e.t.Helper()
	if err := e.node.ApplyInto(e.ctx, typ, body, out); err != nil {
		e.t.Fatalf("%s: %v", typ, err)
	}
}

func (e *env) org(id string) {
	e.t.Helper()
	e.apply(fsm.CmdCreateOrg, fsm.CreateOrg{Org: state.Org{ID: id, Name: id, CreatedAt: e.clock()}})
}

// upload creates a preparing upload asset as POST /v1/uploads does.
func (e *env) upload(org string) state.Asset {
	e.t.Helper()
	return e.asset(org, state.AssetUpload)
}

func (e *env) asset(org, typ string) state.Asset {
	e.t.Helper()
	id := ids.New("ast")
	prefix, _ := objstore.AssetPrefix(org, id)
	src, _ := objstore.AssetKey(org, id, objstore.SourceFile)
	a := state.Asset{ID: id, OrgID: org, Type: typ, PlaybackID: ids.PlaybackID(), PlaybackPolicy: state.PolicyPublic,
		ObjectPrefix: prefix, SourceKey: src, CreatedAt: e.clock()}
	e.applyInto(fsm.CmdCreateAsset, fsm.CreateAsset{Asset: a}, &a)
	return a
}

func (e *env) put(key string, n int) {
	e.t.Helper()
	if _, err := e.store.Put(e.ctx, key, bytes.NewReader(bytes.Repeat([]byte{'x'}, n)), int64(n), objstore.PutOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) get(id string) (state.Asset, []state.Job) {
	e.t.Helper()
	var a state.Asset
	var js []state.Job
	err := e.node.Store().View(func(tx *state.Tx) error {
		var err error
		if a, err = tx.Asset(id); err != nil {
			return err
		}
		js, err = tx.JobsOfAsset(id)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return a, js
}

func (e *env) watcher(cfg directupload.Config) *directupload.Watcher {
	e.t.Helper()
	if cfg.Node == nil {
		cfg.Node = e.node
	}
	cfg.Jobs, cfg.Store, cfg.Clock = e.jobs, e.store, e.clock
	w, err := directupload.NewWatcher(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

func (e *env) check(w *directupload.Watcher) directupload.Result {
	e.t.Helper()
	res, err := w.Check(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func TestWatcher(t *testing.T) {
	e := newEnv(t)
	e.org("org_a")
	w := e.watcher(directupload.Config{Limits: directupload.Limits{MaxBytes: 1000}})

	landed := e.upload("org_a")
	waiting := e.upload("org_a")
	tooBig := e.upload("org_a")
	recording := e.asset("org_a", state.AssetRecording)
	e.put(landed.SourceKey, 600)
	e.put(tooBig.SourceKey, 1500)
	e.put(recording.SourceKey, 10)

	if res := e.check(w); res != (directupload.Result{Checked: 3, Queued: 1, TooLarge: 1}) {
		t.Fatalf("first pass = %+v", res)
	}

	// The landed file has its VOD job, named after the asset.
	a, js := e.get(landed.ID)
	if a.Status != state.AssetPreparing || len(js) != 1 {
		t.Fatalf("landed upload: %s with jobs %+v", a.Status, js)
	}
	j := js[0]
	if j.ID != "job_"+strings.TrimPrefix(landed.ID, "ast_") || j.Type != state.JobVOD || j.OrgID != "org_a" || j.State != state.JobQueued {
		t.Fatalf("vod job = %+v", j)
	}
	var p protocol.VODJob
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p != (protocol.VODJob{SourceKey: landed.SourceKey, Prefix: landed.ObjectPrefix, MaxSourceBytes: 1000, DeleteRejected: true}) {
		t.Fatalf("vod payload = %+v", p)
	}

	// The file over the limit is gone and its asset says why.
	a, js = e.get(tooBig.ID)
	if a.Status != state.AssetErrored || a.Error != "file is 1.5 KiB, over the 1000 bytes upload limit" || len(js) != 0 {
		t.Fatalf("upload over the limit: %s %q, jobs %v", a.Status, a.Error, js)
	}
	if _, err := e.store.Stat(e.ctx, tooBig.SourceKey); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("the file over the limit is still stored: %v", err)
	}

	// Recordings are not the watcher's, and nothing is queued twice.
	if _, js := e.get(recording.ID); len(js) != 0 {
		t.Fatalf("a recording got jobs from the upload watcher: %+v", js)
	}
	if res := e.check(w); res != (directupload.Result{Checked: 2}) {
		t.Fatalf("second pass = %+v, want the waiting upload and the refused one (for late PUTs) checked", res)
	}
	if _, js := e.get(landed.ID); len(js) != 1 {
		t.Fatalf("landed upload has %d jobs after a second pass", len(js))
	}

	// The waiting upload is given up on a minute after its URL expires.
	e.advance(directupload.DefaultURLTTL + directupload.ExpiryGrace - time.Second)
	if res := e.check(w); res.Expired != 0 {
		t.Fatalf("expired before the grace passed: %+v", res)
	}
	e.advance(2 * time.Second)
	if res := e.check(w); res != (directupload.Result{Checked: 2, Expired: 1}) {
		t.Fatalf("pass after the expiry = %+v", res)
	}
	if a, _ := e.get(waiting.ID); a.Status != state.AssetErrored || a.Error != "no file was uploaded before the upload URL expired" {
		t.Fatalf("expired upload: %s %q", a.Status, a.Error)
	}

	// A file that landed in time is queued even when the watcher comes
	// round late (it was down, or another node led).
	late := e.upload("org_a")
	e.put(late.SourceKey, 10)
	e.advance(3 * time.Hour)
	if res := e.check(w); res != (directupload.Result{Checked: 1, Queued: 1}) {
		t.Fatalf("late pass = %+v", res)
	}
}

// TestWatcherRemovesLateUploads: a file that lands on an upload already
// refused (a second PUT of its URL after the first file was deleted) is
// deleted too, for as long as the URL could still be used (issue 12,
// finding 4).
func TestWatcherRemovesLateUploads(t *testing.T) {
	e := newEnv(t)
	e.org("org_a")
	w := e.watcher(directupload.Config{Limits: directupload.Limits{MaxBytes: 1000}})
	tooBig := e.upload("org_a")
	e.put(tooBig.SourceKey, 1500)
	if res := e.check(w); res.TooLarge != 1 {
		t.Fatalf("first pass = %+v", res)
	}
	e.put(tooBig.SourceKey, 900) // the late second attempt
	if res := e.check(w); res.Removed != 1 {
		t.Fatalf("pass after a late PUT = %+v, want it removed", res)
	}
	if _, err := e.store.Stat(e.ctx, tooBig.SourceKey); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("the late upload is still stored: %v", err)
	}
	if a, _ := e.get(tooBig.ID); a.Status != state.AssetErrored {
		t.Fatalf("refused upload is %s", a.Status)
	}
	// The same at the last moment the URL (and a PUT begun with it) can
	// land; after that the upload is no longer watched.
	e.advance(directupload.DefaultURLTTL + directupload.LateLanding - time.Second)
	e.put(tooBig.SourceKey, 10)
	if res := e.check(w); res.Removed != 1 {
		t.Fatalf("pass at the end of the window = %+v", res)
	}
	e.advance(2 * time.Second)
	if res := e.check(w); res != (directupload.Result{}) {
		t.Fatalf("pass after the window = %+v, want nothing checked", res)
	}
}

// follower is a node that never leads.
type follower struct{ *cluster.Node }

func (follower) IsLeader() bool { return false }

func TestWatcherActsOnlyOnTheLeader(t *testing.T) {
	e := newEnv(t)
	e.org("org_a")
	a := e.upload("org_a")
	e.put(a.SourceKey, 10)
	w := e.watcher(directupload.Config{Node: follower{e.node}})
	if res := e.check(w); res != (directupload.Result{}) {
		t.Fatalf("a follower's pass = %+v", res)
	}
	if _, js := e.get(a.ID); len(js) != 0 {
		t.Fatalf("a follower queued %+v", js)
	}
}

// TestWatcherResumes gives the watcher a budget of one page: each pass
// reads one org's assets and the next pass goes on with the next org.
func TestWatcherResumes(t *testing.T) {
	e := newEnv(t)
	var assets []state.Asset
	for _, org := range []string{"org_a", "org_b", "org_c"} {
		e.org(org)
		a := e.upload(org)
		e.put(a.SourceKey, 10)
		assets = append(assets, a)
	}
	w := e.watcher(directupload.Config{ScanBudget: 1})
	for pass := 1; pass <= 3; pass++ {
		if res := e.check(w); res != (directupload.Result{Checked: 1, Queued: 1}) {
			t.Fatalf("pass %d = %+v", pass, res)
		}
	}
	for _, a := range assets {
		if _, js := e.get(a.ID); len(js) != 1 {
			t.Errorf("%s of %s has %d jobs", a.ID, a.OrgID, len(js))
		}
	}
	if res := e.check(w); res != (directupload.Result{}) {
		t.Fatalf("pass after all were queued = %+v", res)
	}
}

// TestWatcherRun runs the loop itself: a file that lands is queued
// without anyone calling Check.
func TestWatcherRun(t *testing.T) {
	e := newEnv(t)
	e.org("org_a")
	w := e.watcher(directupload.Config{Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	a := e.upload("org_a")
	e.put(a.SourceKey, 10)
	testutil.Eventually(t, 10*time.Second, "the running watcher queues the landed upload", func() bool {
		_, js := e.get(a.ID)
		return len(js) == 1
	})
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1023: "1023 bytes", 1024: "1 KiB", 1536: "1.5 KiB",
		10 << 30: "10 GiB", 13207024435: "12.3 GiB", 3 << 40: "3 TiB"} {
		if got := directupload.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
