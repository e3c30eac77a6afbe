// Package routing chooses the edge a client should use: the nearest live
// edge with room, by great-circle distance from the client's GeoIP
// location plus a penalty for load. It is pure (no clock, no I/O, no
// randomness), so the same inputs choose the same edge on every
// control-plane node, and every Decision carries the score of every
// candidate and why any was excluded, so that an operator can see why
// (`livestreams route --ip …`).
//
// The rules:
//
//   - Dead and draining edges are excluded, and so are edges whose load
//     fraction (Load.Fraction) is at or over their limit. If that leaves
//     nothing but live edges that are all over their limit, the least
//     loaded of those is chosen rather than none (Decision.Fallback says
//     so); if no edge is live and not draining, Choose fails with
//     ErrNoEdge.
//   - Score = distance + region penalty + load penalty − origin bonus, in
//     km; the lowest wins and ties go to the smaller ID.
//   - Distance is the haversine distance, when both the client's and the
//     edge's locations are known.
//   - When the distance is unknown the region penalty stands in for it.
//     For a client of unknown location, an edge in the client's hinted
//     region (or any edge, without a hint) counts as 0 km and any other as
//     AntipodeKm, so the hinted region is preferred and load decides within
//     it. For a client of known location, an edge without coordinates
//     counts as AntipodeKm: a last resort.
//   - Load penalty = LoadPenaltyKm × load fraction.
//   - The stream's origin edge gets OriginBonusKm off only when the client
//     is known to be within OriginRadiusKm of it. Serving from the origin
//     saves an edge-to-edge relay hop, which is worth a little but never a
//     long trip, so a far origin gets no preference at all.
//
// It does not gather its inputs: liveness and load come from gossip,
// coordinates and regions from edge registration, the client's location
// from shared/geoip. Nor does it know about streams beyond which edge is
// the origin.
package routing

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/livestreams/livestreams/shared/geoip"
)

// Defaults for the Options fields left zero.
const (
	DefaultLoadPenaltyKm  = 1000
	DefaultLoadLimit      = 0.9
	DefaultOriginBonusKm  = 100
	DefaultOriginRadiusKm = 300
)

// ErrNoEdge is returned (wrapped) by Choose when no candidate is alive and
// not draining.
var ErrNoEdge = errors.New("no eligible edge")

// Load is an edge's current load, as it gossips it.
type Load struct {
	CPU        float64 // 0..1 of all cores
	Transcodes int
	Viewers    int
	EgressBps  float64
}

// Capacity is what one edge can carry in each dimension of Load other
// than CPU, which is already a fraction. A zero leaves that dimension out
// of Load.Fraction: by default only CPU counts.
type Capacity struct {
	Transcodes int
	Viewers    int
	EgressBps  float64
}

// Fraction is how full an edge with load l is: the highest of its CPU and
// each dimension that has a capacity, taken over that capacity. 0 is idle
// and 1 is full; it may go over 1. A NaN value counts as full and a
// negative one as idle, so bad gossip cannot make an edge look best.
func (l Load) Fraction(c Capacity) float64 {
	f := clampLoad(l.CPU)
	if c.Transcodes > 0 {
		f = max(f, clampLoad(float64(l.Transcodes)/float64(c.Transcodes)))
	}
	if c.Viewers > 0 {
		f = max(f, clampLoad(float64(l.Viewers)/float64(c.Viewers)))
	}
	if c.EgressBps > 0 {
		f = max(f, clampLoad(l.EgressBps/c.EgressBps))
	}
	return f
}

func clampLoad(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return 1
	case x < 0:
		return 0
	}
	return x
}

// Candidate is an edge that might serve the client.
type Candidate struct {
	ID, Region  string
	Lat, Lon    float64
	HasLocation bool // Lat and Lon are set
	Alive       bool
	Draining    bool
	Load        Load
	LoadLimit   float64 // load fraction at which the edge is full; 0 means Options.LoadLimit
	IsOrigin    bool    // the stream is published to this edge
	URL         string
}

// Client is who is being routed.
type Client struct {
	Loc   geoip.Location
	Known bool // Loc came from a GeoIP lookup that found the address
	// Region is a hint used only when Loc is not known, such as the region
	// the request came in through or one the client asked for.
	Region string
}

// Options tunes Choose. The zero value means the defaults.
type Options struct {
	// LoadPenaltyKm is how many km of extra distance a full edge (load
	// fraction 1) is worth; half full costs half. With the default 1000,
	// an edge at 80% loses to an idle one up to 800 km farther away.
	// Negative means no load penalty.
	LoadPenaltyKm float64
	// LoadLimit is the load fraction at or over which an edge takes no new
	// clients, for candidates whose own LoadLimit is 0. Default 0.9.
	LoadLimit float64
	// Capacity turns Load into a fraction; see Load.Fraction.
	Capacity Capacity
	// OriginBonusKm is taken off the origin edge's score when the client is
	// within OriginRadiusKm of it. Negative means no bonus.
	OriginBonusKm  float64
	OriginRadiusKm float64
}

func (o Options) withDefaults() Options {
	o.LoadPenaltyKm = orDefault(o.LoadPenaltyKm, DefaultLoadPenaltyKm)
	if !(o.LoadLimit > 0) {
		o.LoadLimit = DefaultLoadLimit
	}
	o.OriginBonusKm = orDefault(o.OriginBonusKm, DefaultOriginBonusKm)
	o.OriginRadiusKm = orDefault(o.OriginRadiusKm, DefaultOriginRadiusKm)
	return o
}

// orDefault is def for zero or NaN, 0 for negative, else v.
func orDefault(v, def float64) float64 {
	switch {
	case v == 0 || math.IsNaN(v):
		return def
	case v < 0:
		return 0
	}
	return v
}

// Scored is one candidate as Choose weighed it. Score is the sum of the
// terms beside it, so a listing of Scored explains the decision.
type Scored struct {
	Candidate Candidate
	// DistanceKm is the great-circle distance from the client; -1 when
	// the client's or the edge's location is unknown.
	DistanceKm float64
	// RegionPenalty stands in for the distance when it is unknown: 0 or
	// AntipodeKm (see the package doc).
	RegionPenalty float64
	LoadFraction  float64
	LoadPenalty   float64
	OriginBonus   float64
	// Score is max(DistanceKm, 0) + RegionPenalty + LoadPenalty −
	// OriginBonus; lower is better.
	Score float64
	// Excluded says why the edge may not be chosen; "" if it may.
	Excluded string
}

// Decision is the edge chosen and how every candidate scored.
type Decision struct {
	Chosen Candidate
	// Scores lists every candidate, best first: those that may be chosen,
	// then the excluded ones, each group by score and then ID.
	Scores []Scored
	// Fallback is "" when the rules were followed as stated, else what
	// was done instead.
	Fallback string
}

// fallbackAllFull is Decision.Fallback when every live edge is full.
const fallbackAllFull = "every live edge is at or over its load limit; chose the least loaded"

// Choose picks the edge for client among cands by the rules in the package
// doc. When no candidate is alive and not draining it returns ErrNoEdge,
// wrapped, along with a Decision whose Scores still explain each
// exclusion.
func Choose(client Client, cands []Candidate, opts Options) (Decision, error) {
	opts = opts.withDefaults()
	clientKnown := client.Known && validCoords(client.Loc.Lat, client.Loc.Lon)

	scores := make([]Scored, len(cands))
	eligible, full := 0, 0
	var dead, draining int
	for i, c := range cands {
		s := score(client, clientKnown, c, opts)
		switch {
		case !c.Alive:
			s.Excluded = "dead"
			dead++
		case c.Draining:
			s.Excluded = "draining"
			draining++
		default:
			limit := c.LoadLimit
			if !(limit > 0) {
				limit = opts.LoadLimit
			}
			if s.LoadFraction >= limit {
				s.Excluded = fmt.Sprintf("load %.2f at or over limit %.2f", s.LoadFraction, limit)
				full++
			} else {
				eligible++
			}
		}
		scores[i] = s
	}

	var d Decision
	if eligible == 0 && full > 0 {
		// Sending the client somewhere overloaded beats sending it nowhere.
		for i := range scores {
			if scores[i].Candidate.Alive && !scores[i].Candidate.Draining {
				scores[i].Excluded = ""
			}
		}
		d.Fallback = fallbackAllFull
	}
	// Sorting indexes rather than the wide Scored values is several times
	// faster; the index as the last key keeps equal IDs in input order.
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	fallback := d.Fallback != ""
	slices.SortFunc(order, func(i, j int) int {
		a, b := &scores[i], &scores[j]
		ax, bx := a.Excluded != "", b.Excluded != ""
		if ax != bx {
			if ax {
				return 1
			}
			return -1
		}
		if fallback && !ax {
			if c := cmp.Compare(a.LoadFraction, b.LoadFraction); c != 0 {
				return c
			}
		}
		if c := cmp.Compare(a.Score, b.Score); c != 0 {
			return c
		}
		if c := strings.Compare(a.Candidate.ID, b.Candidate.ID); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	sorted := make([]Scored, len(scores))
	for k, i := range order {
		sorted[k] = scores[i]
	}
	scores = sorted
	d.Scores = scores
	if len(scores) == 0 || scores[0].Excluded != "" {
		return d, fmt.Errorf("choose edge from %d candidates (%d dead, %d draining): %w",
			len(cands), dead, draining, ErrNoEdge)
	}
	d.Chosen = scores[0].Candidate
	return d, nil
}

// score fills in every term of c's score; exclusion is Choose's business.
func score(client Client, clientKnown bool, c Candidate, opts Options) Scored {
	s := Scored{Candidate: c, DistanceKm: -1}
	edgeKnown := c.HasLocation && validCoords(c.Lat, c.Lon)
	switch {
	case clientKnown && edgeKnown:
		s.DistanceKm = Haversine(client.Loc.Lat, client.Loc.Lon, c.Lat, c.Lon)
	case clientKnown:
		s.RegionPenalty = AntipodeKm
	case client.Region != "" && !strings.EqualFold(client.Region, c.Region):
		s.RegionPenalty = AntipodeKm
	}
	s.LoadFraction = c.Load.Fraction(opts.Capacity)
	if opts.LoadPenaltyKm > 0 {
		s.LoadPenalty = opts.LoadPenaltyKm * s.LoadFraction
	}
	if c.IsOrigin && s.DistanceKm >= 0 && s.DistanceKm <= opts.OriginRadiusKm {
		s.OriginBonus = opts.OriginBonusKm
	}
	s.Score = max(s.DistanceKm, 0) + s.RegionPenalty + s.LoadPenalty - s.OriginBonus
	return s
}

func validCoords(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 // false for NaN
}
