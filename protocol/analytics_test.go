package protocol

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestHistogramQuantile(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var vals []float64
	var a, b Histogram
	for i := range 5000 {
		v := 200 + r.ExpFloat64()*800
		vals = append(vals, v)
		if i%2 == 0 {
			a.Add(v)
		} else {
			b.Add(v)
		}
	}
	// Through JSON, as it travels and is stored.
	raw, _ := json.Marshal(b)
	var back Histogram
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	a.Merge(back)
	sort.Float64s(vals)
	for _, q := range []float64{0.5, 0.95} {
		want := vals[int(q*float64(len(vals)))]
		got := a.Quantile(q)
		if math.Abs(got-want)/want > 0.12 {
			t.Errorf("p%v = %.0f, want %.0f within 12 %%", q*100, got, want)
		}
	}
	if a.Count() != 5000 {
		t.Errorf("count %d", a.Count())
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
	empty.Add(-1)
	empty.Add(math.NaN())
	empty.Add(1e12)
	if empty.Count() != 1 {
		t.Errorf("count %d after one valid value", empty.Count())
	}
}

func TestViewersExactThenSketch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var small Viewers
	for range 300 {
		h := r.Uint64()
		small.Add(h)
		small.Add(h)
	}
	if small.Count() != 300 || small.Registers != nil {
		t.Fatalf("300 viewers counted %d (sketch %v)", small.Count(), small.Registers != nil)
	}
	var parts [4]Viewers
	for i := range 20000 {
		parts[i%4].Add(r.Uint64())
	}
	var all Viewers
	all.Merge(small)
	for _, p := range parts {
		raw, _ := json.Marshal(p)
		var back Viewers
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		all.Merge(back)
	}
	if got := float64(all.Count()); math.Abs(got-20300)/20300 > 0.05 {
		t.Errorf("20300 viewers estimated as %.0f", got)
	}
}
