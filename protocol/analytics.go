package protocol

import (
	"context"
	"math"
	"math/bits"
	"slices"
	"time"
)

// Viewer analytics. An edge aggregates its viewers' beacons and its own
// segment counts per minute and ships the rollups in one request, once a
// minute and on shutdown; the control plane stores each batch with one
// Raft write. The reply carries the daily salts that key the hashes of
// unique viewers, so every edge hashes a viewer alike on a given day.
const TypeAnalyticsRollups = "analytics_rollups"

// MaxRollupsPerBatch bounds one AnalyticsRollups request.
const MaxRollupsPerBatch = 5000

// AnalyticsRollups is one shipment. BatchID is unique per shipment, so a
// shipment repeated after an error of unknown outcome is counted once.
type AnalyticsRollups struct {
	BatchID string   `json:"batch_id"`
	Rollups []Rollup `json:"rollups"`
}

// AnalyticsRollupsReply hands the edge the viewer salts of today and
// tomorrow (UTC).
type AnalyticsRollupsReply struct {
	Salts []ViewerSalt `json:"salts"`
}

// ViewerSalt keys the daily hash of a viewer (HMAC of address and user
// agent) on Day ("2006-01-02", UTC). The control plane forgets it after
// two days, so a stored hash cannot be tied back to an address.
type ViewerSalt struct {
	Day  string `json:"day"`
	Salt []byte `json:"salt"`
}

// Rollup is what one edge saw of one stream or asset in one minute from
// one place and one class of device. Exactly one of StreamID and AssetID
// is set.
type Rollup struct {
	Minute   int64  `json:"minute"` // unix seconds at the start of the UTC minute
	OrgID    string `json:"org_id"`
	StreamID string `json:"stream_id,omitempty"`
	AssetID  string `json:"asset_id,omitempty"`
	Country  string `json:"country"` // ISO code or "unknown"
	City     string `json:"city"`    // "" when unknown
	Device   string `json:"device"`  // desktop, mobile, tablet, tv, bot or other
	Counters
}

// Counters are the additive figures of a rollup; Merge adds two.
type Counters struct {
	Views   int64 `json:"views,omitempty"`
	WatchMS int64 `json:"watch_ms,omitempty"`
	// Concurrent is the views seen playing in the minute; summed over the
	// rows of a minute and maximized over minutes it is the peak.
	Concurrent      int64     `json:"concurrent,omitempty"`
	Startup         Histogram `json:"startup,omitempty"` // time to first frame, ms
	Rebuffers       int64     `json:"rebuffers,omitempty"`
	RebufferMS      int64     `json:"rebuffer_ms,omitempty"`
	BitrateSwitches int64     `json:"bitrate_switches,omitempty"`
	Errors          int64     `json:"errors,omitempty"`
	FatalErrors     int64     `json:"fatal_errors,omitempty"`
	// Segments and SegmentBytes are the media requests the edge served,
	// with or without the player script.
	Segments     int64   `json:"segments,omitempty"`
	SegmentBytes int64   `json:"segment_bytes,omitempty"`
	Viewers      Viewers `json:"viewers,omitempty"`
}

// Merge adds o into c. Concurrent adds too: callers that merge rows of
// different minutes keep their own peak.
func (c *Counters) Merge(o Counters) {
	c.Views += o.Views
	c.WatchMS += o.WatchMS
	c.Concurrent += o.Concurrent
	c.Startup.Merge(o.Startup)
	c.Rebuffers += o.Rebuffers
	c.RebufferMS += o.RebufferMS
	c.BitrateSwitches += o.BitrateSwitches
	c.Errors += o.Errors
	c.FatalErrors += o.FatalErrors
	c.Segments += o.Segments
	c.SegmentBytes += o.SegmentBytes
	c.Viewers.Merge(o.Viewers)
}

// MinuteOf is the start of t's UTC minute in unix seconds.
func MinuteOf(t time.Time) int64 { return t.Unix() - t.Unix()%60 }

// Histogram counts values (milliseconds) in fixed, geometrically growing
// buckets, so histograms from any edge and any minute merge by adding and
// percentiles stay within a bucket's width (about 12 %) of the truth.
// Element i counts values in [HistogramBound(i-1), HistogramBound(i)).
type Histogram []uint32

const (
	histBase    = 10.0 // ms, upper bound of bucket 0
	histFactor  = 1.12
	histBuckets = 90 // the last bucket holds everything above ~270 s
)

// HistogramBound is the upper bound of bucket i.
func HistogramBound(i int) float64 { return histBase * math.Pow(histFactor, float64(i)) }

func histBucket(ms float64) int {
	if ms < histBase {
		return 0
	}
	i := int(math.Log(ms/histBase)/math.Log(histFactor)) + 1
	return min(i, histBuckets-1)
}

// Add counts one value.
func (h *Histogram) Add(ms float64) {
	if math.IsNaN(ms) || ms < 0 {
		return
	}
	i := histBucket(ms)
	if len(*h) <= i {
		*h = append(*h, make([]uint32, i+1-len(*h))...)
	}
	(*h)[i]++
}

// Merge adds o into h.
func (h *Histogram) Merge(o Histogram) {
	if len(o) > histBuckets {
		o = o[:histBuckets] // from a newer or broken sender
	}
	if len(*h) < len(o) {
		*h = append(*h, make([]uint32, len(o)-len(*h))...)
	}
	for i, n := range o {
		(*h)[i] += n
	}
}

// Count is how many values were added.
func (h Histogram) Count() int64 {
	var n int64
	for _, c := range h {
		n += int64(c)
	}
	return n
}

// Quantile estimates the q-quantile (0..1), interpolating inside its
// bucket; 0 when empty.
func (h Histogram) Quantile(q float64) float64 {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for i, c := range h {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo := 0.0
			if i > 0 {
				lo = HistogramBound(i - 1)
			}
			hi := HistogramBound(i)
			return lo + (hi-lo)*(rank-seen)/float64(c)
		}
		seen += float64(c)
	}
	return HistogramBound(len(h) - 1)
}

// Viewers is a mergeable set of hashed viewers: exact (the sorted hashes)
// while small, a HyperLogLog sketch (2^12 registers, about 1.6 % error)
// once larger. Hashes are keyed by a daily salt the control plane forgets,
// so they identify no one.
type Viewers struct {
	Hashes    []uint64 `json:"h,omitempty"`
	Registers []byte   `json:"r,omitempty"`
}

const (
	hllP       = 12
	hllM       = 1 << hllP
	exactLimit = 512 // hashes kept exactly: as many bytes as the sketch
)

// Add counts one hashed viewer.
func (v *Viewers) Add(h uint64) {
	if v.Registers != nil {
		v.addRegister(h)
		return
	}
	i, found := slices.BinarySearch(v.Hashes, h)
	if found {
		return
	}
	v.Hashes = slices.Insert(v.Hashes, i, h)
	if len(v.Hashes) > exactLimit {
		v.toSketch()
	}
}

func (v *Viewers) addRegister(h uint64) {
	idx := h >> (64 - hllP)
	rank := byte(bits.LeadingZeros64(h<<hllP|1<<(hllP-1)) + 1)
	if rank > v.Registers[idx] {
		v.Registers[idx] = rank
	}
}

func (v *Viewers) toSketch() {
	v.Registers = make([]byte, hllM)
	for _, h := range v.Hashes {
		v.addRegister(h)
	}
	v.Hashes = nil
}

// Merge adds the viewers of o into v.
func (v *Viewers) Merge(o Viewers) {
	if len(o.Registers) == hllM {
		if v.Registers == nil {
			v.toSketch()
		}
		for i, r := range o.Registers {
			v.Registers[i] = max(v.Registers[i], r)
		}
		return
	}
	for _, h := range o.Hashes {
		v.Add(h)
	}
}

// Count estimates how many distinct viewers were added.
func (v Viewers) Count() int64 {
	if len(v.Registers) != hllM {
		return int64(len(v.Hashes))
	}
	sum, zeros := 0.0, 0
	for _, r := range v.Registers {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	m := float64(hllM)
	est := 0.7213 / (1 + 1.079/m) * m * m / sum
	if est <= 2.5*m && zeros > 0 {
		est = m * math.Log(m/float64(zeros))
	}
	return int64(math.Round(est))
}

// AnalyticsRollups ships one batch of rollups.
func (c *Client) AnalyticsRollups(ctx context.Context, req AnalyticsRollups) (AnalyticsRollupsReply, error) {
	var reply AnalyticsRollupsReply
	err := c.Call(ctx, TypeAnalyticsRollups, req, &reply)
	return reply, err
}
