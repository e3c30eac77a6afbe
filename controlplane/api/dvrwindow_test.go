package api

import (
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestStreamDVRWindow: dvr_window is 0 (the edge's default) or 6 s to 6 h,
// on create and on update; a PATCH without it keeps it.
func TestStreamDVRWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	ctx := testutil.Context(t, 60*time.Second)
	c := e.admin.typed()

	def, err := c.Streams().Create(ctx, client.StreamCreate{Name: "default"})
	if err != nil || def.DVRWindow != 0 {
		t.Fatalf("create without dvr_window: %+v, %v", def.Stream, err)
	}
	s, err := c.Streams().Create(ctx, client.StreamCreate{Name: "ten minutes", DVRWindow: 600})
	if err != nil || s.DVRWindow != 600 {
		t.Fatalf("create with dvr_window 600: %+v, %v", s.Stream, err)
	}
	name := "renamed"
	up, err := c.Streams().Update(ctx, s.ID, client.StreamUpdate{Name: &name})
	if err != nil || up.DVRWindow != 600 {
		t.Fatalf("update without dvr_window: %+v, %v", up, err)
	}
	for _, sec := range []int{6, 6 * 3600, 0} {
		up, err := c.Streams().Update(ctx, s.ID, client.StreamUpdate{DVRWindow: &sec})
		if err != nil || up.DVRWindow != sec {
			t.Fatalf("update dvr_window %d: %+v, %v", sec, up, err)
		}
	}
	for _, sec := range []int{-1, 1, 5, 6*3600 + 1} {
		if _, err := c.Streams().Create(ctx, client.StreamCreate{Name: "bad", DVRWindow: sec}); client.StatusOf(err) != 400 {
			t.Errorf("create dvr_window %d: %v, want 400", sec, err)
		}
		if _, err := c.Streams().Update(ctx, s.ID, client.StreamUpdate{DVRWindow: &sec}); client.StatusOf(err) != 400 {
			t.Errorf("update dvr_window %d: %v, want 400", sec, err)
		}
	}
	got := e.admin.must(200, "GET", "/v1/streams/"+s.ID, nil).json(t)
	if got["dvr_window"] != float64(0) {
		t.Errorf("stream view dvr_window = %v", got["dvr_window"])
	}
}
