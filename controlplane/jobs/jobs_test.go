package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/testcluster"
	"github.com/livestreams/livestreams/shared/testutil"
)

// clock is a test clock the services and reapers share: leases and
// expiries are judged by it, so tests move time instead of sleeping.
type clock struct{ ns atomic.Int64 }

// newClock starts a day ahead of the real clock: the cluster's own
// reapers judge leases by the real clock, and must find none of the
// test's overdue.
func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().Add(24 * time.Hour).Truncate(time.Second).UnixNano())
	return c
}

func (c *clock) Now() time.Time               { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration)      { c.ns.Add(int64(d)) }
func (c *clock) At(d time.Duration) time.Time { return c.Now().Add(d) }

type env struct {
	c     *testcluster.Cluster
	clock *clock
	nodes []*cluster.Node // leader first
	svcs  []*jobs.Service // one per node, same order
	ctx   context.Context
}

// TestJobsOnCluster runs every service test on one 3-node in-process
// cluster: starting one costs more than the tests themselves.
func TestJobsOnCluster(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 3})
	leader := c.Leader(10 * time.Second)
	e := &env{c: c, clock: newClock()}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e.ctx = ctx
	members := []*testcluster.Member{leader}
	for _, m := range c.Members {
		if m != leader {
			members = append(members, m)
		}
	}
	for _, m := range members {
		n := m.Server().Node()
		svc, err := jobs.New(jobs.Config{Node: n, Clock: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		e.nodes, e.svcs = append(e.nodes, n), append(e.svcs, svc)
	}
	for _, org := range []string{"org_a", "org_b", "org_many"} {
		if _, err := e.nodes[0].Apply(ctx, fsm.CmdCreateOrg, fsm.CreateOrg{Org: state.Org{ID: org, Name: org, CreatedAt: e.clock.Now()}}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, e) })
	t.Run("ListAndGet", func(t *testing.T) { testListAndGet(t, e) })
	t.Run("ConcurrentLeasing", func(t *testing.T) { testConcurrentLeasing(t, e) })
	t.Run("ReaperOnLeaderOnly", func(t *testing.T) { testReaper(t, e) })
}

// testLifecycle goes through followers: enqueue, lease, renew, fail with
// the clip policy's backoff, cancel at renewal, complete.
func testLifecycle(t *testing.T, e *env) {
	svc := e.svcs[1] // a follower
	ctx := e.ctx
	if _, err := svc.Enqueue(ctx, state.Job{OrgID: "org_a", Type: "webhook"}); !isCode(err, state.CodeInvalid) {
		t.Errorf("enqueue of a type without a policy: %v", err)
	}
	if _, err := svc.Enqueue(ctx, state.Job{OrgID: "org_a", Type: state.JobLive}); !isCode(err, state.CodeInvalid) {
		t.Errorf("enqueue of an unpinned live job: %v", err)
	}
	clip, err := svc.Enqueue(ctx, state.Job{OrgID: "org_a", Type: state.JobClip, Payload: json.RawMessage(`{"start":1,"end":9}`)})
	if err != nil {
		t.Fatal(err)
	}
	if clip.State != state.JobQueued || clip.MaxAttempts != 3 || clip.Timeout != 30*time.Minute || clip.BackoffBase != 10*time.Second {
		t.Fatalf("enqueued clip lacks its policy: %+v", clip)
	}
	if _, err := svc.Enqueue(ctx, state.Job{ID: clip.ID, OrgID: "org_a", Type: state.JobClip}); !isCode(err, state.CodeConflict) {
		t.Errorf("enqueue with a taken id: %v", err)
	}

	got, err := svc.Lease(ctx, "edge1", []string{state.JobClip}, "", 5)
	if err != nil || len(got) != 1 || got[0].ID != clip.ID || !got[0].LeaseExpiresAt.Equal(e.clock.At(jobs.DefaultLeaseTTL)) {
		t.Fatalf("lease = %+v, %v", got, err)
	}
	e.clock.Advance(10 * time.Second)
	res, err := svc.Renew(ctx, "edge1", []fsm.JobReport{{ID: clip.ID, Progress: &state.Progress{Percent: 50}}})
	if err != nil || !slices.Equal(res.Renewed, []string{clip.ID}) {
		t.Fatalf("renew = %+v, %v", res, err)
	}
	j, err := svc.Fail(ctx, "edge1", clip.ID, jobs.Failure{Message: "exit status 1"})
	if err != nil || j.State != state.JobQueued || !j.NotBefore.Equal(e.clock.At(10*time.Second)) {
		t.Fatalf("fail = %+v, %v; want re-queued after the 10 s clip backoff", j, err)
	}
	if got, _ := svc.Lease(ctx, "edge2", []string{state.JobClip}, "", 5); len(got) != 0 {
		t.Fatalf("leased during backoff: %+v", got)
	}
	e.clock.Advance(10 * time.Second)
	if got, err := svc.Lease(ctx, "edge2", []string{state.JobClip}, "", 5); err != nil || len(got) != 1 || got[0].Attempts != 2 {
		t.Fatalf("lease after backoff = %+v, %v", got, err)
	}
	if _, err := svc.Cancel(ctx, "org_b", clip.ID); !isCode(err, state.CodeNotFound) {
		t.Errorf("cancel by another org: %v", err)
	}
	if j, err := e.svcs[2].Cancel(ctx, "org_a", clip.ID); err != nil || !j.CancelRequested || j.State != state.JobLeased {
		t.Fatalf("cancel of a leased job = %+v, %v", j, err)
	}
	res, err = svc.Renew(ctx, "edge2", []fsm.JobReport{{ID: clip.ID}})
	if err != nil || !slices.Equal(res.Cancelled, []string{clip.ID}) {
		t.Fatalf("renew after cancel = %+v, %v; want it cancelled", res, err)
	}
	if _, err := svc.Complete(ctx, "edge2", clip.ID, nil); !isCode(err, state.CodeConflict) {
		t.Errorf("complete of a cancelled job: %v", err)
	}

	vod, err := e.svcs[2].Enqueue(ctx, state.Job{OrgID: "org_a", Type: state.JobVOD})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Lease(ctx, "edge1", []string{state.JobVOD}, "", 1); err != nil {
		t.Fatal(err)
	}
	j, err = svc.Complete(ctx, "edge1", vod.ID, json.RawMessage(`{"renditions":["720p","480p"]}`))
	if err != nil || j.State != state.JobSucceeded || string(j.Result) != `{"renditions":["720p","480p"]}` {
		t.Fatalf("complete = %+v, %v", j, err)
	}
}

func testListAndGet(t *testing.T, e *env) {
	ctx := e.ctx
	var made []string
	for i := range 7 {
		typ := state.JobVOD
		if i%2 == 1 {
			typ = state.JobClip
		}
		e.clock.Advance(time.Millisecond)
		j, err := e.svcs[i%3].Enqueue(ctx, state.Job{OrgID: "org_b", Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, j.ID)
	}
	svc := e.svcs[0]
	if _, err := svc.Get("org_a", made[0]); !isCode(err, state.CodeNotFound) {
		t.Errorf("get of another org's job: %v", err)
	}
	if j, err := svc.Get("org_b", made[0]); err != nil || j.ID != made[0] {
		t.Errorf("get = %+v, %v", j, err)
	}
	var seen []string
	p := jobs.PageRequest{Limit: 3}
	for range 5 {
		page, err := svc.List("org_b", jobs.Filter{}, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.Jobs {
			seen = append(seen, j.ID)
		}
		if p.After = page.Next; p.After == "" {
			break
		}
	}
	want := slices.Clone(made)
	slices.Reverse(want)
	if !slices.Equal(seen, want) {
		t.Errorf("pages %v, want newest first %v", seen, want)
	}
	page, err := svc.List("org_b", jobs.Filter{Type: state.JobClip, State: state.JobQueued}, jobs.PageRequest{})
	if err != nil || len(page.Jobs) != 3 || page.Next != "" {
		t.Errorf("filtered list = %d jobs, next %q, %v; want the 3 clips", len(page.Jobs), page.Next, err)
	}
	if _, err := svc.List("org_b", jobs.Filter{State: "paused"}, jobs.PageRequest{}); !isCode(err, state.CodeInvalid) {
		t.Errorf("unknown state filter: %v", err)
	}
	if _, err := svc.List("org_b", jobs.Filter{}, jobs.PageRequest{Limit: 1000}); !isCode(err, state.CodeInvalid) {
		t.Errorf("oversized page: %v", err)
	}
	// Cancelling queued jobs ends them at once (and keeps them out of the
	// next test's queue).
	for _, id := range made {
		if j, err := svc.Cancel(ctx, "org_b", id); err != nil || j.State != state.JobCancelled {
			t.Fatalf("cancel of a queued job = %+v, %v", j, err)
		}
	}
}

// testConcurrentLeasing enqueues many jobs and lets three edges lease them
// at once, each through a different node (two of them followers, which
// forward to the leader): no job may go to two edges.
func testConcurrentLeasing(t *testing.T, e *env) {
	const n = 120
	ctx := e.ctx
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 3 {
				if _, err := e.svcs[w].Enqueue(ctx, state.Job{OrgID: "org_many", Type: state.JobVOD}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var mu sync.Mutex
	holder := map[string]string{}
	var dup []string
	for w := range 3 {
		edge := fmt.Sprintf("edge-c%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			empty := 0
			for empty < 3 {
				got, err := e.svcs[w].Lease(ctx, edge, []string{state.JobVOD}, "", 4)
				if err != nil {
					t.Errorf("%s: lease: %v", edge, err)
					return
				}
				if len(got) == 0 {
					empty++
					continue
				}
				empty = 0
				mu.Lock()
				for _, j := range got {
					if prev, ok := holder[j.ID]; ok {
						dup = append(dup, fmt.Sprintf("%s to %s and %s", j.ID, prev, edge))
					}
					holder[j.ID] = edge
				}
				mu.Unlock()
				for _, j := range got {
					if _, err := e.svcs[w].Complete(ctx, edge, j.ID, nil); err != nil {
						t.Errorf("%s: complete %s: %v", edge, j.ID, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(dup) > 0 {
		t.Fatalf("jobs handed to two edges: %v", dup)
	}
	per := map[string]int{}
	for _, edge := range holder {
		per[edge]++
	}
	t.Logf("leases per edge: %v", per)
	if len(holder) != n {
		t.Fatalf("%d of %d jobs leased", len(holder), n)
	}
	// Every node agrees on who ran each job.
	for i, node := range e.nodes {
		if err := node.ConsistentRead(ctx); err != nil {
			t.Fatal(err)
		}
		page, err := e.svcs[i].List("org_many", jobs.Filter{}, jobs.PageRequest{Limit: jobs.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.Jobs {
			if j.State != state.JobSucceeded || len(j.History) != 1 || j.History[0].Edge != holder[j.ID] {
				t.Fatalf("node %s: job %s is %s with history %+v; leased to %s", node.ID(), j.ID, j.State, j.History, holder[j.ID])
			}
		}
	}
}

// testReaper runs a reaper on every node; only the leader's takes the
// lapsed job back, and another edge then leases it.
func testReaper(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(e.ctx)
	var reapers []*jobs.Reaper
	var wg sync.WaitGroup
	for _, n := range e.nodes {
		r := jobs.NewReaper(jobs.ReaperConfig{Node: n, Interval: 20 * time.Millisecond, Clock: e.clock.Now})
		reapers = append(reapers, r)
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()

	svc := e.svcs[1]
	j, err := svc.Enqueue(e.ctx, state.Job{OrgID: "org_a", Type: state.JobRecordingVOD})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.Lease(e.ctx, "edge-dies", []string{state.JobRecordingVOD}, "", 1); err != nil || len(got) != 1 {
		t.Fatalf("lease = %+v, %v", got, err)
	}
	if res, err := reapers[1].Reap(e.ctx); err != nil || len(res.Requeued) != 0 {
		t.Fatalf("reap of a live lease = %+v, %v", res, err)
	}
	e.clock.Advance(jobs.DefaultLeaseTTL)
	testutil.Eventually(t, 10*time.Second, "the lapsed lease is taken back", func() bool {
		got, err := e.svcs[0].Get("org_a", j.ID)
		return err == nil && got.State == state.JobQueued
	})
	// The reaper counts what it did once its write returns, a moment
	// after the state shows it.
	testutil.Eventually(t, 5*time.Second, "the leader's reaper counts the job it took back", func() bool {
		return reapers[0].Reaped() > 0
	})
	for i, r := range reapers[1:] {
		if r.Reaped() != 0 {
			t.Errorf("follower %s's reaper acted", e.nodes[i+1].ID())
		}
	}
	e.clock.Advance(time.Minute) // past the 30 s backoff
	got, err := e.svcs[2].Lease(e.ctx, "edge-lives", []string{state.JobRecordingVOD}, "", 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("lease by the second edge = %+v, %v", got, err)
	}
	var hist []string
	for _, a := range got[0].History {
		hist = append(hist, a.Edge+":"+a.Error)
	}
	if want := []string{"edge-dies:" + state.OverdueLeaseLapsed, "edge-lives:"}; !slices.Equal(hist, want) {
		t.Errorf("history %v, want %v", hist, want)
	}
	if res, err := svc.Renew(e.ctx, "edge-dies", []fsm.JobReport{{ID: j.ID}}); err != nil || !slices.Equal(res.Lost, []string{j.ID}) {
		t.Errorf("renew by the dead edge = %+v, %v; want lost", res, err)
	}
}

func isCode(err error, code string) bool {
	var se *state.Error
	return errors.As(err, &se) && se.Code == code
}
