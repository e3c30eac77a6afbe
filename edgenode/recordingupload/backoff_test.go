package recordingupload

import (
	"testing"
	"time"
)

func TestBackoffFullJitter(t *testing.T) {
	const base, ceiling = 100 * time.Millisecond, 2 * time.Second
	for _, c := range []struct {
		attempt int
		limit   time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, 1600 * time.Millisecond},
		{6, 2 * time.Second},
		{1000, 2 * time.Second},
	} {
		var top time.Duration
		for range 2000 {
			d := backoff(c.attempt, base, ceiling)
			if d < 0 || d > c.limit {
				t.Fatalf("backoff(%d) = %s, want within [0, %s]", c.attempt, d, c.limit)
			}
			top = max(top, d)
		}
		// Full jitter spreads over the whole range; 2000 draws all in the
		// lower half would be a broken generator (odds 2^-2000).
		if top <= c.limit/2 {
			t.Errorf("backoff(%d): largest of 2000 draws %s, want above %s", c.attempt, top, c.limit/2)
		}
	}
}
