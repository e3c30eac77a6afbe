package main

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/testutil"
)

// eventLog follows the org's event stream in the background.
type eventLog struct {
	mu  sync.Mutex
	evs []client.Event
}

func followEvents(t *testing.T, c *devCluster) *eventLog {
	t.Helper()
	l := &eventLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.API.Events().Follow(ctx, client.EventFilter{}, "", func(ev client.Event) error {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.evs = append(l.evs, ev)
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

// of returns the types of the events that match, in order.
func (l *eventLog) of(match func(client.Event) bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.evs {
		if match(ev) {
			out = append(out, ev.Type)
		}
	}
	return out
}

// TestEventsOfALiveSession follows the event stream while ffmpeg publishes
// to the dev cluster, the recording becomes an asset and a re-encoded clip
// is cut from it: every step arrives, in order, with the clip job's
// progress on the way (ephemeral, without an id) and its log readable.
func TestEventsOfALiveSession(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	evs := followEvents(t, c)
	s := newStream(t, c, client.StreamCreate{Name: "events"})
	pub := publish(t, c.RTMPURL(s.Key), 640, 360, 12, true)
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	rec := recordingOf(t, c, s.ID, 3*time.Minute, func(a recordingAsset) bool { return a.Status == "ready" })
	stream := func(ev client.Event) bool { return ev.StreamID == s.ID && ev.Type != "job.progress" }
	want := []string{"publish.authorized", "session.started", "transcode.started", "session.ended", "recording.finalized",
		"recording.uploaded", "asset.created", "job.queued", "job.started", "job.succeeded", "asset.ready"}
	testutil.EventuallyEvery(t, 30*time.Second, devPoll, "the stream's events", func() bool { return len(evs.of(stream)) >= len(want) })
	if got := evs.of(stream); !slices.Equal(got[:len(want)], want) {
		t.Fatalf("the stream's events: %v\nwant %v", got, want)
	}

	ctx := testutil.Context(t, 3*time.Minute)
	start, end := 0.0, 11.0
	clip, err := c.API.Assets().Clip(ctx, rec.ID, client.ClipCreate{Start: &start, End: &end, Reencode: true})
	if err != nil {
		t.Fatal(err)
	}
	ofJob := func(ev client.Event) bool { return ev.JobID == clip.Job.ID }
	testutil.EventuallyEvery(t, 3*time.Minute, devPoll, "the clip job's end", func() bool {
		return slices.Contains(evs.of(ofJob), "job.succeeded")
	})
	got := evs.of(ofJob)
	durable := slices.DeleteFunc(slices.Clone(got), func(t string) bool { return t == "job.progress" })
	if !slices.Equal(durable, []string{"job.queued", "job.started", "job.succeeded"}) {
		t.Fatalf("the clip job's events: %v", got)
	}
	if !slices.Contains(got, "job.progress") {
		t.Fatalf("no job.progress among the clip job's events: %v", got)
	}
	evs.mu.Lock()
	for _, ev := range evs.evs {
		if ev.Type == "job.progress" && ev.ID != "" {
			t.Errorf("a progress event with an id: %+v", ev)
		}
	}
	evs.mu.Unlock()
	l, err := c.API.JobLog(ctx, clip.Job.ID)
	if err != nil || l.Running || l.JobID != clip.Job.ID {
		t.Fatalf("job log: %+v %v", l, err)
	}
}
