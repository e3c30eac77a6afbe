package beacon

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"path"
	"sync"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/geoip"
)

// Bounds on what the aggregator keeps.
const (
	// DefaultMaxCells bounds the (minute, playback id, place, device)
	// cells held; beyond it new cells are dropped until the next take.
	DefaultMaxCells = 50_000
	// maxViewsPerCell bounds the view ids remembered for concurrency.
	maxViewsPerCell = 10_000
	// seenTTL is how long a playback id served here admits beacons.
	seenTTL = 15 * time.Minute
	// maxSeen bounds the playback ids remembered as served.
	maxSeen = 100_000
	// Unknown is the country of a viewer GeoIP cannot place.
	Unknown = "unknown"
)

// Viewer is who sent a request: the client address (after trusted
// proxies) and user agent. Neither is stored.
type Viewer struct {
	IP        netip.Addr
	UserAgent string
}

// Owner is whose a playback id is: an org's stream or asset.
type Owner struct {
	OrgID, StreamID, AssetID string
}

// Config configures an Aggregator.
type Config struct {
	// GeoIP places viewers; nil places everyone in "unknown".
	GeoIP *geoip.Resolver
	// Now defaults to time.Now.
	Now func() time.Time
	// MaxCells defaults to DefaultMaxCells.
	MaxCells int
}

type cellKey struct {
	minute                  int64
	pid, country, city, dev string
}

type cell struct {
	c     protocol.Counters
	views map[string]struct{}
}

// Stats are the aggregator's own counters, for metrics and tests.
type Stats struct {
	Events, Skipped, Unknown, Dropped int64
}

// Aggregator counts beacons and served media per minute. It is safe for
// concurrent use.
type Aggregator struct {
	cfg Config

	mu    sync.Mutex
	cells map[cellKey]*cell
	seen  map[string]time.Time // playback ids served here, when last
	salts map[string][]byte    // day -> salt, from the control plane
	local []byte               // this process's salt while none is known
	stats Stats
}

// New returns an aggregator.
func New(cfg Config) *Aggregator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxCells <= 0 {
		cfg.MaxCells = DefaultMaxCells
	}
	local := make([]byte, 32)
	rand.Read(local)
	return &Aggregator{cfg: cfg, cells: map[cellKey]*cell{}, seen: map[string]time.Time{},
		salts: map[string][]byte{}, local: local}
}

// SetSalts installs the daily viewer salts (from the control plane),
// forgetting the others.
func (a *Aggregator) SetSalts(salts []protocol.ViewerSalt) {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.salts)
	for _, s := range salts {
		if len(s.Salt) > 0 {
			a.salts[s.Day] = s.Salt
		}
	}
}

// Stats returns the counters so far.
func (a *Aggregator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// viewerHash is the daily keyed hash of a viewer; a.mu is held.
func (a *Aggregator) viewerHash(v Viewer, now time.Time) uint64 {
	salt, ok := a.salts[now.UTC().Format(time.DateOnly)]
	if !ok {
		salt = a.local
	}
	m := hmac.New(sha256.New, salt)
	ip := v.IP.Unmap().AsSlice()
	m.Write(ip)
	m.Write([]byte{0})
	m.Write([]byte(v.UserAgent))
	return binary.BigEndian.Uint64(m.Sum(nil))
}

func (a *Aggregator) place(v Viewer) (country, city string) {
	loc, ok := a.cfg.GeoIP.Lookup(v.IP)
	if !ok || loc.Country == "" {
		return Unknown, ""
	}
	return loc.Country, loc.City
}

// cell returns the cell for key, or nil when the bound is reached; a.mu
// is held.
func (a *Aggregator) cell(k cellKey) *cell {
	c := a.cells[k]
	if c == nil {
		if len(a.cells) >= a.cfg.MaxCells {
			return nil
		}
		c = &cell{}
		a.cells[k] = c
	}
	return c
}

// Ingest counts a batch of events from one viewer. Events for playback ids
// not served here recently are dropped. It returns how many were counted.
func (a *Aggregator) Ingest(v Viewer, events []Event) int {
	now := a.cfg.Now()
	country, city := a.place(v)
	dev := DeviceClass(v.UserAgent)
	minute := protocol.MinuteOf(now)

	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.Events += int64(len(events))
	hash := a.viewerHash(v, now)
	counted := 0
	var last *cell
	var lastPID string
	for _, e := range events {
		c := last
		if c == nil || e.PlaybackID != lastPID {
			if t, ok := a.seen[e.PlaybackID]; !ok || now.Sub(t) > seenTTL {
				a.stats.Unknown++
				continue
			}
			if c = a.cell(cellKey{minute, e.PlaybackID, country, city, dev}); c == nil {
				a.stats.Dropped++
				continue
			}
			c.c.Viewers.Add(hash)
			last, lastPID = c, e.PlaybackID
		}
		counted++
		switch e.Type {
		case EventViewStart:
			c.c.Views++
			c.active(e.ViewID)
		case EventFirstFrame:
			c.c.Startup.Add(e.MS)
			c.active(e.ViewID)
		case EventRebuffer:
			c.c.Rebuffers++
			c.c.RebufferMS += int64(e.MS)
		case EventBitrate:
			c.c.BitrateSwitches++
		case EventError:
			c.c.Errors++
			if e.Fatal {
				c.c.FatalErrors++
			}
		case EventHeartbeat, EventViewEnd:
			c.c.WatchMS += int64(e.MS)
			if e.Type == EventHeartbeat {
				c.active(e.ViewID)
			}
		}
	}
	return counted
}

func (c *cell) active(view string) {
	if c.views == nil {
		c.views = map[string]struct{}{}
	}
	if len(c.views) < maxViewsPerCell {
		c.views[view] = struct{}{}
	}
}

// Served counts one response of the HLS origin for playbackID: every
// response admits beacons for the id; media segments are counted with
// their bytes and their viewer, so viewers without the player script count
// too.
func (a *Aggregator) Served(playbackID, name string, bytes int64, v Viewer) {
	now := a.cfg.Now()
	media := isMedia(name)
	var country, city, dev string
	if media {
		country, city = a.place(v)
		dev = DeviceClass(v.UserAgent)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.seen[playbackID]; ok || len(a.seen) < maxSeen {
		a.seen[playbackID] = now
	}
	if !media {
		return
	}
	c := a.cell(cellKey{protocol.MinuteOf(now), playbackID, country, city, dev})
	if c == nil {
		a.stats.Dropped++
		return
	}
	c.c.Segments++
	c.c.SegmentBytes += bytes
	c.c.Viewers.Add(a.viewerHash(v, now))
}

func isMedia(name string) bool {
	switch path.Ext(name) {
	case ".ts", ".m4s", ".mp4", ".aac", ".m4a", ".vtt":
		return name != "init.mp4" && path.Base(name) != "init.mp4"
	}
	return false
}

// Take removes the minutes before before (unix seconds; every minute when
// before is 0) and returns them as rollups, with each playback id's owner
// from resolve; cells of ids resolve does not know are dropped. Cells of
// one owner, minute, place and device are merged.
func (a *Aggregator) Take(before int64, resolve func(playbackID string) (Owner, bool)) []protocol.Rollup {
	a.mu.Lock()
	taken := map[cellKey]*cell{}
	for k, c := range a.cells {
		if before == 0 || k.minute < before {
			taken[k] = c
			delete(a.cells, k)
		}
	}
	now := a.cfg.Now()
	for pid, t := range a.seen {
		if now.Sub(t) > seenTTL {
			delete(a.seen, pid)
		}
	}
	a.mu.Unlock()

	type rk struct {
		minute                int64
		owner                 Owner
		country, city, device string
	}
	owners := map[string]*Owner{}
	merged := map[rk]*protocol.Rollup{}
	var order []rk
	for k, c := range taken {
		o, done := owners[k.pid]
		if !done {
			if ow, ok := resolve(k.pid); ok {
				o = &ow
			}
			owners[k.pid] = o
		}
		if o == nil {
			continue
		}
		key := rk{k.minute, *o, k.country, k.city, k.dev}
		r := merged[key]
		if r == nil {
			r = &protocol.Rollup{Minute: k.minute, OrgID: o.OrgID, StreamID: o.StreamID, AssetID: o.AssetID,
				Country: k.country, City: k.city, Device: k.dev}
			merged[key] = r
			order = append(order, key)
		}
		c.c.Concurrent = int64(len(c.views))
		r.Merge(c.c)
	}
	out := make([]protocol.Rollup, 0, len(order))
	for _, k := range order {
		out = append(out, *merged[k])
	}
	return out
}
