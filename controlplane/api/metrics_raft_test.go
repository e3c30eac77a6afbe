package api

import (
	"strconv"
	"strings"
	"testing"
)

// TestRaftApplyMetrics: the writes the API makes through Raft are timed
// in the node's /metrics, by outcome.
func TestRaftApplyMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "timed"})
	e.admin.must(400, "POST", "/v1/streams", map[string]any{"name": "bad", "dvr_window": 1}) // refused before Raft

	body := string(e.anon.must(200, "GET", "/metrics", nil).body)
	value := func(series string) float64 {
		for _, l := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(l, series+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%q: %v", l, err)
				}
				return f
			}
		}
		t.Fatalf("no series %s in /metrics:\n%s", series, grepLines([]byte(body), "livestreams_raft"))
		return 0
	}
	// The signup, the stream and whatever the node wrote itself.
	if n := value(`livestreams_raft_apply_duration_seconds_count{outcome="committed"}`); n < 2 {
		t.Errorf("committed applies counted: %v, want at least 2", n)
	}
	if sum := value(`livestreams_raft_apply_duration_seconds_sum{outcome="committed"}`); sum <= 0 || sum > 60 {
		t.Errorf("apply time sum %v s", sum)
	}
	if b := value(`livestreams_raft_apply_duration_seconds_bucket{outcome="committed",le="+Inf"}`); b < 2 {
		t.Errorf("+Inf bucket %v", b)
	}
}
