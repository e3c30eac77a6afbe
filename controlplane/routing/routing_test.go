package routing

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/livestreams/livestreams/shared/geoip"
)

type place struct{ lat, lon float64 }

var (
	london    = place{51.5074, -0.1278}
	reading   = place{51.4543, -0.9781}
	paris     = place{48.8566, 2.3522}
	frankfurt = place{50.1109, 8.6821}
	seattle   = place{47.6062, -122.3321}
	newYork   = place{40.7128, -74.0060}
	sydney    = place{-33.8688, 151.2093}
	tokyo     = place{35.6762, 139.6503}
)

func TestHaversine(t *testing.T) {
	tests := []struct {
		name   string
		a, b   place
		wantKm float64
		tolPct float64
	}{
		{"London-Seattle", london, seattle, 7707, 1},
		{"London-Paris", london, paris, 344, 1},
		{"New York-London", newYork, london, 5570, 1},
		{"Sydney-Tokyo", sydney, tokyo, 7823, 1},
		{"same point", london, london, 0, 0},
		{"antipodes on the equator", place{0, 0}, place{0, 180}, AntipodeKm, 0.0001},
		{"pole to pole", place{90, 0}, place{-90, 0}, AntipodeKm, 0.0001},
		{"across the date line", place{0, 179.5}, place{0, -179.5}, 111.2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Haversine(tt.a.lat, tt.a.lon, tt.b.lat, tt.b.lon)
			if math.Abs(got-tt.wantKm) > tt.wantKm*tt.tolPct/100+1e-9 {
				t.Errorf("Haversine = %.1f km, want %.1f ± %.2f%%", got, tt.wantKm, tt.tolPct)
			}
			if back := Haversine(tt.b.lat, tt.b.lon, tt.a.lat, tt.a.lon); math.Abs(back-got) > 1e-9 {
				t.Errorf("not symmetric: %v and %v", got, back)
			}
		})
	}
}

// edge builds a live candidate at p.
func edge(id, region string, p place, cpu float64) Candidate {
	return Candidate{ID: id, Region: region, Lat: p.lat, Lon: p.lon, HasLocation: true,
		Alive: true, Load: Load{CPU: cpu}, URL: "https://" + id + ".example"}
}

func with(c Candidate, f func(*Candidate)) Candidate { f(&c); return c }

func at(p place) Client {
	return Client{Loc: geoip.Location{Lat: p.lat, Lon: p.lon}, Known: true}
}

func TestChoose(t *testing.T) {
	lon := edge("lon", "eu", london, 0)
	fra := edge("fra", "eu", frankfurt, 0)
	par := edge("par", "eu", paris, 0)
	sea := edge("sea", "us-west", seattle, 0)
	nyc := edge("nyc", "us-east", newYork, 0)

	tests := []struct {
		name         string
		client       Client
		cands        []Candidate
		opts         Options
		want         string // chosen ID, "" for ErrNoEdge
		wantFallback bool
		wantExcluded map[string]string // ID → substring of the reason
	}{
		{name: "nearest wins", client: at(london), cands: []Candidate{sea, fra, lon, nyc}, want: "lon"},
		{name: "nearest wins from Seattle", client: at(seattle), cands: []Candidate{lon, fra, nyc, sea}, want: "sea"},
		{name: "dead excluded", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Alive = false }), fra, sea},
			want:  "fra", wantExcluded: map[string]string{"lon": "dead"}},
		{name: "draining excluded", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Draining = true }), fra},
			want:  "fra", wantExcluded: map[string]string{"lon": "draining"}},
		{name: "over the default limit excluded", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.CPU = 0.95 }), fra},
			want:  "fra", wantExcluded: map[string]string{"lon": "load 0.95 at or over limit 0.90"}},
		{name: "at the limit is excluded", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.CPU = 0.9 }), fra},
			want:  "fra", wantExcluded: map[string]string{"lon": "at or over"}},
		{name: "edge's own limit", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.CPU = 0.5; c.LoadLimit = 0.4 }), fra},
			want:  "fra", wantExcluded: map[string]string{"lon": "limit 0.40"}},
		{name: "options' limit", client: at(london), opts: Options{LoadLimit: 0.4},
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.CPU = 0.5 }), fra},
			want:  "fra", wantExcluded: map[string]string{"lon": "limit 0.40"}},
		{name: "moderate load does not outweigh distance", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.CPU = 0.5 }), fra},
			want:  "lon"},
		{name: "heavy load outweighs a short trip", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.CPU = 0.8 }), with(par, func(c *Candidate) { c.Load.CPU = 0.1 })},
			want:  "par"},
		{name: "no load penalty", client: at(london), opts: Options{LoadPenaltyKm: -1},
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.CPU = 0.8 }), par},
			want:  "lon"},
		{name: "viewers capacity", client: at(london), opts: Options{Capacity: Capacity{Viewers: 1000}},
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.Viewers = 950 }), fra},
			want:  "fra", wantExcluded: map[string]string{"lon": "load 0.95"}},
		{name: "viewers ignored without a capacity", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.Viewers = 950 }), fra},
			want:  "lon"},
		{name: "egress capacity", client: at(london), opts: Options{Capacity: Capacity{EgressBps: 1e9}},
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.EgressBps = 9.5e8 }), fra},
			want:  "fra", wantExcluded: map[string]string{"lon": "load 0.95"}},
		{name: "NaN load counts as full", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.CPU = math.NaN() }), fra},
			want:  "fra", wantExcluded: map[string]string{"lon": "load 1.00"}},
		{name: "negative load counts as idle, not better", client: at(london),
			cands: []Candidate{with(fra, func(c *Candidate) { c.Load.CPU = -5 }), lon},
			want:  "lon"},
		{name: "all full: least loaded live one", client: at(london),
			cands: []Candidate{
				with(lon, func(c *Candidate) { c.Load.CPU = 0.99 }),
				with(fra, func(c *Candidate) { c.Load.CPU = 0.95 }),
				with(sea, func(c *Candidate) { c.Load.CPU = 0.91 }),
				with(nyc, func(c *Candidate) { c.Alive = false }),
				with(par, func(c *Candidate) { c.Draining = true }),
			},
			want: "sea", wantFallback: true,
			wantExcluded: map[string]string{"nyc": "dead", "par": "draining"}},
		{name: "nothing alive", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Alive = false }), with(fra, func(c *Candidate) { c.Draining = true })},
			want:  "", wantExcluded: map[string]string{"lon": "dead", "fra": "draining"}},
		{name: "no candidates", client: at(london), want: ""},
		{name: "far origin gets no preference", client: at(london),
			cands: []Candidate{with(sea, func(c *Candidate) { c.IsOrigin = true }), lon},
			want:  "lon"},
		{name: "origin just outside the radius gets no bonus", client: at(london),
			cands: []Candidate{with(par, func(c *Candidate) { c.IsOrigin = true }), with(lon, func(c *Candidate) { c.Load.CPU = 0.3 })},
			want:  "lon"},
		{name: "near origin gets a small bonus", client: at(london),
			cands: []Candidate{lon, edge("rdg", "eu", reading, 0), with(edge("org", "eu", reading, 0), func(c *Candidate) { c.IsOrigin = true })},
			want:  "org"},
		{name: "origin bonus off", client: at(london), opts: Options{OriginBonusKm: -1},
			cands: []Candidate{lon, with(edge("org", "eu", reading, 0), func(c *Candidate) { c.IsOrigin = true })},
			want:  "lon"},
		{name: "unknown client: hinted region, then least loaded", client: Client{Region: "eu"},
			cands: []Candidate{with(fra, func(c *Candidate) { c.Load.CPU = 0.5 }), with(lon, func(c *Candidate) { c.Load.CPU = 0.2 }), sea},
			want:  "lon"},
		{name: "unknown client: region hint is case-insensitive", client: Client{Region: "EU"},
			cands: []Candidate{sea, with(fra, func(c *Candidate) { c.Load.CPU = 0.5 })},
			want:  "fra"},
		{name: "unknown client: hinted region full, next least loaded", client: Client{Region: "eu"},
			cands: []Candidate{with(fra, func(c *Candidate) { c.Load.CPU = 0.95 }), with(sea, func(c *Candidate) { c.Load.CPU = 0.3 }), with(nyc, func(c *Candidate) { c.Load.CPU = 0.2 })},
			want:  "nyc", wantExcluded: map[string]string{"fra": "load"}},
		{name: "unknown client, no hint: least loaded", client: Client{},
			cands: []Candidate{with(lon, func(c *Candidate) { c.Load.CPU = 0.5 }), with(sea, func(c *Candidate) { c.Load.CPU = 0.1 }), with(fra, func(c *Candidate) { c.Load.CPU = 0.3 })},
			want:  "sea"},
		{name: "unknown client gets no origin bonus", client: Client{},
			cands: []Candidate{with(lon, func(c *Candidate) { c.IsOrigin = true; c.Load.CPU = 0.1 }), with(fra, func(c *Candidate) { c.Load.CPU = 0.05 })},
			want:  "fra"},
		{name: "known flag with NaN coordinates is unknown", client: Client{Loc: geoip.Location{Lat: math.NaN()}, Known: true, Region: "us-west"},
			cands: []Candidate{lon, sea},
			want:  "sea"},
		{name: "edge without a location is a last resort", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.HasLocation = false }), with(sea, func(c *Candidate) { c.Load.CPU = 0.5 })},
			want:  "sea"},
		{name: "edge with bad coordinates is a last resort", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.Lat = 200 }), sea},
			want:  "sea"},
		{name: "unlocated edge beats nothing", client: at(london),
			cands: []Candidate{with(lon, func(c *Candidate) { c.HasLocation = false }), with(sea, func(c *Candidate) { c.Alive = false })},
			want:  "lon", wantExcluded: map[string]string{"sea": "dead"}},
		{name: "ties go to the smaller ID", client: at(london),
			cands: []Candidate{edge("b", "eu", paris, 0.1), edge("c", "eu", paris, 0.1), edge("a", "eu", paris, 0.1)},
			want:  "a"},
		{name: "ties for an unknown client go to the smaller ID", client: Client{},
			cands: []Candidate{edge("z", "eu", paris, 0), edge("m", "us-west", seattle, 0)},
			want:  "m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Choose(tt.client, tt.cands, tt.opts)
			if tt.want == "" {
				if !errors.Is(err, ErrNoEdge) {
					t.Fatalf("err = %v, want ErrNoEdge (chose %q)", err, d.Chosen.ID)
				}
			} else if err != nil {
				t.Fatalf("err = %v, want %q", err, tt.want)
			} else if d.Chosen.ID != tt.want {
				t.Errorf("chose %q, want %q\n%s", d.Chosen.ID, tt.want, dump(d))
			}
			if (d.Fallback != "") != tt.wantFallback {
				t.Errorf("Fallback = %q, want fallback %v", d.Fallback, tt.wantFallback)
			}
			if len(d.Scores) != len(tt.cands) {
				t.Fatalf("%d scores for %d candidates", len(d.Scores), len(tt.cands))
			}
			for _, s := range d.Scores {
				want, ok := tt.wantExcluded[s.Candidate.ID]
				switch {
				case ok && !strings.Contains(s.Excluded, want):
					t.Errorf("%s excluded %q, want %q", s.Candidate.ID, s.Excluded, want)
				case !ok && s.Excluded != "":
					t.Errorf("%s excluded %q, want it eligible", s.Candidate.ID, s.Excluded)
				}
			}
			checkExplained(t, d)
			if err == nil && d.Scores[0].Candidate.ID != d.Chosen.ID {
				t.Errorf("Scores[0] is %q, chosen %q", d.Scores[0].Candidate.ID, d.Chosen.ID)
			}
		})
	}
}

// checkExplained asserts that every score is the sum of its terms and the
// list is ordered as documented.
func checkExplained(t *testing.T, d Decision) {
	t.Helper()
	for i, s := range d.Scores {
		sum := max(s.DistanceKm, 0) + s.RegionPenalty + s.LoadPenalty - s.OriginBonus
		if math.Abs(sum-s.Score) > 1e-6 {
			t.Errorf("%s: score %v is not the sum of its terms %v", s.Candidate.ID, s.Score, sum)
		}
		if i == 0 {
			continue
		}
		p := d.Scores[i-1]
		switch {
		case p.Excluded != "" && s.Excluded == "":
			t.Errorf("excluded %s listed before eligible %s", p.Candidate.ID, s.Candidate.ID)
		case (p.Excluded == "") == (s.Excluded == "") && d.Fallback == "" &&
			(p.Score > s.Score || p.Score == s.Score && p.Candidate.ID > s.Candidate.ID):
			t.Errorf("%s (%.1f) listed before %s (%.1f)", p.Candidate.ID, p.Score, s.Candidate.ID, s.Score)
		}
	}
}

func dump(d Decision) string {
	var b strings.Builder
	for _, s := range d.Scores {
		fmt.Fprintf(&b, "  %-4s dist=%8.1f region=%8.1f load=%.2f pen=%6.1f bonus=%5.1f score=%8.1f %s\n",
			s.Candidate.ID, s.DistanceKm, s.RegionPenalty, s.LoadFraction, s.LoadPenalty, s.OriginBonus, s.Score, s.Excluded)
	}
	return b.String()
}

func TestChooseExplains(t *testing.T) {
	cands := []Candidate{
		with(edge("sea", "us-west", seattle, 0.2), func(c *Candidate) { c.IsOrigin = true }),
		edge("lon", "eu", london, 0.5),
		with(edge("fra", "eu", frankfurt, 0), func(c *Candidate) { c.Alive = false }),
		with(edge("x", "eu", place{}, 0), func(c *Candidate) { c.HasLocation = false }),
	}
	d, err := Choose(at(reading), cands, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(d.Scores))
	for i, s := range d.Scores {
		got[i] = s.Candidate.ID
	}
	if want := []string{"lon", "sea", "x", "fra"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v\n%s", got, want, dump(d))
	}
	lon := d.Scores[0]
	if math.Abs(lon.DistanceKm-59) > 2 || lon.LoadFraction != 0.5 || lon.LoadPenalty != 500 || lon.OriginBonus != 0 || lon.RegionPenalty != 0 {
		t.Errorf("lon scored %+v", lon)
	}
	if sea := d.Scores[1]; sea.OriginBonus != 0 || sea.LoadPenalty != 200 {
		t.Errorf("far origin scored %+v", sea)
	}
	if x := d.Scores[2]; x.DistanceKm != -1 || x.RegionPenalty != AntipodeKm {
		t.Errorf("unlocated edge scored %+v", x)
	}
	if fra := d.Scores[3]; fra.Excluded != "dead" || fra.DistanceKm <= 0 {
		t.Errorf("dead edge not scored and explained: %+v", fra)
	}
}

func TestChooseNoEdgeError(t *testing.T) {
	cands := []Candidate{
		with(edge("a", "eu", london, 0), func(c *Candidate) { c.Alive = false }),
		with(edge("b", "eu", london, 0), func(c *Candidate) { c.Alive = false }),
		with(edge("c", "eu", london, 0), func(c *Candidate) { c.Draining = true }),
	}
	d, err := Choose(at(london), cands, Options{})
	if !errors.Is(err, ErrNoEdge) {
		t.Fatalf("err = %v", err)
	}
	if want := "3 candidates (2 dead, 1 draining)"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if d.Chosen.ID != "" || len(d.Scores) != 3 {
		t.Errorf("decision = %+v", d)
	}
}

// TestChooseIsDeterministic shuffles the input and expects the same
// decision every time.
func TestChooseIsDeterministic(t *testing.T) {
	cands := benchCandidates(30)
	first, err := Choose(at(london), cands, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		perm := slices.Clone(cands)
		for j := range perm { // a fixed permutation per round, not random
			k := (j*7 + i*13) % len(perm)
			perm[j], perm[k] = perm[k], perm[j]
		}
		d, err := Choose(at(london), perm, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for k := range d.Scores {
			if d.Scores[k].Candidate.ID != first.Scores[k].Candidate.ID {
				t.Fatalf("round %d: order differs at %d: %s vs %s", i, k, d.Scores[k].Candidate.ID, first.Scores[k].Candidate.ID)
			}
		}
	}
}

func TestLoadFraction(t *testing.T) {
	caps := Capacity{Transcodes: 4, Viewers: 1000, EgressBps: 1e9}
	tests := []struct {
		load Load
		caps Capacity
		want float64
	}{
		{Load{}, caps, 0},
		{Load{CPU: 0.3}, Capacity{}, 0.3},
		{Load{CPU: 0.3, Viewers: 5000}, Capacity{}, 0.3},
		{Load{CPU: 0.3, Transcodes: 2}, caps, 0.5},
		{Load{CPU: 0.3, Viewers: 800}, caps, 0.8},
		{Load{CPU: 0.3, EgressBps: 1.2e9}, caps, 1.2},
		{Load{CPU: math.NaN()}, caps, 1},
		{Load{CPU: -1, EgressBps: -5}, caps, 0},
	}
	for _, tt := range tests {
		if got := tt.load.Fraction(tt.caps); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%+v.Fraction(%+v) = %v, want %v", tt.load, tt.caps, got, tt.want)
		}
	}
}

// benchCandidates spreads n edges over a deterministic grid of places and
// loads, with a few dead, draining and full ones.
func benchCandidates(n int) []Candidate {
	cands := make([]Candidate, n)
	for i := range cands {
		c := Candidate{
			ID:          fmt.Sprintf("edge-%03d", i),
			Region:      []string{"eu", "us-east", "us-west", "ap"}[i%4],
			Lat:         float64((i*37)%140 - 70),
			Lon:         float64((i*91)%360 - 180),
			HasLocation: true,
			Alive:       i%17 != 0,
			Draining:    i%23 == 0,
			Load:        Load{CPU: float64((i*29)%100) / 100, Viewers: i * 10, EgressBps: float64(i) * 1e7},
			IsOrigin:    i == 42,
		}
		cands[i] = c
	}
	return cands
}

func BenchmarkChoose(b *testing.B) {
	cands := benchCandidates(100)
	client := at(london)
	opts := Options{Capacity: Capacity{Viewers: 2000, EgressBps: 2e9}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Choose(client, cands, opts); err != nil {
			b.Fatal(err)
		}
	}
}
