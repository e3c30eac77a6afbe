package edge

// Viewer analytics on the edge. Package beacon takes the player's beacons
// (POST /beacon) and counts what the HLS origin serves; this file wires it
// in: the origin's responses are observed (watch/done), and once a minute
// the finished minutes are taken, their playback ids resolved to the org's
// stream or asset, and shipped to the control plane over QUIC in one
// request (and everything left on shutdown). A failed shipment is kept
// and retried with the same batch id, so the control plane counts it once.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/livestreams/livestreams/edgenode/beacon"
	"github.com/livestreams/livestreams/edgenode/hls"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/geoip"
)

// BeaconConfig configures viewer analytics.
type BeaconConfig struct {
	// GeoIPDB is a City database placing viewers; "" counts everyone in
	// country "unknown".
	GeoIPDB string
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// viewer (a CDN or load balancer in front of the edge).
	TrustedProxies []netip.Prefix
	// ShipEvery is how often finished minutes are shipped; a minute if
	// zero.
	ShipEvery time.Duration
}

const (
	ownerTTL     = 5 * time.Minute
	ownerMissTTL = 30 * time.Second
	maxPending   = 20        // shipments kept while the control plane is away
	maxShipBytes = 600 << 10 // below protocol.DefaultMaxFrame
	shipTimeout  = 10 * time.Second
)

func registerBeaconFlags(fs *flag.FlagSet, cfg *Config) {
	fs.Func("geoip-db", "GeoLite2/GeoIP2 City database placing viewers in analytics (default: none, country \"unknown\")", func(v string) error {
		r, err := geoip.Open(v, nil)
		if err != nil {
			return err
		}
		r.Close()
		cfg.Beacons.GeoIPDB = v
		return nil
	})
	fs.Func("trusted-proxies", "comma-separated CIDRs of proxies whose X-Forwarded-For names the viewer", func(v string) error {
		p, err := geoip.ParsePrefixes(v)
		cfg.Beacons.TrustedProxies = p
		return err
	})
	fs.DurationVar(&cfg.Beacons.ShipEvery, "analytics-interval", time.Minute, "how often finished minutes of viewer analytics are shipped to the control plane")
}

type ownerEntry struct {
	owner beacon.Owner
	ok    bool
	at    time.Time
}

// beaconing is the edge's analytics: the aggregator, its handler, and what
// it knows of playback ids' owners.
type beaconing struct {
	n       *Node
	geo     *geoip.Resolver
	agg     *beacon.Aggregator
	handler http.Handler

	mu      sync.Mutex
	owners  map[string]ownerEntry
	pending []protocol.AnalyticsRollups // not yet acknowledged, oldest first
}

func newBeaconing(n *Node) *beaconing {
	log := n.log.With("component", "beacons")
	geo, err := geoip.Open(n.cfg.Beacons.GeoIPDB, log)
	if err != nil {
		log.Error("analytics without GeoIP", "err", err)
		geo = geoip.Nop(log)
	}
	agg := beacon.New(beacon.Config{GeoIP: geo})
	return &beaconing{n: n, geo: geo, agg: agg, handler: beacon.NewHandler(agg, n.cfg.Beacons.TrustedProxies, nil),
		owners: map[string]ownerEntry{}}
}

// servedWriter sees what the origin answers, for the served-media counts.
type servedWriter struct {
	http.ResponseWriter
	r      *http.Request
	status int
	bytes  int64
}

func (s *servedWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *servedWriter) Write(p []byte) (int, error) {
	k, err := s.ResponseWriter.Write(p)
	s.bytes += int64(k)
	return k, err
}

// ReadFrom keeps the server's sendfile path for segments.
func (s *servedWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		k, err := rf.ReadFrom(r)
		s.bytes += k
		return k, err
	}
	return io.Copy(struct{ io.Writer }{s}, r)
}

func (s *servedWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// watch wraps the writer of one origin request.
func (b *beaconing) watch(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	return &servedWriter{ResponseWriter: w, r: r}
}

// done counts a finished origin request: successful answers to viewers
// (not to edges relaying) count for the playback id.
func (b *beaconing) done(w http.ResponseWriter) {
	s, ok := w.(*servedWriter)
	if !ok || s.status != 0 && s.status != http.StatusOK && s.status != http.StatusPartialContent {
		return
	}
	if rl := b.n.relay; rl != nil && s.r.Header.Get("Authorization") == rl.auth {
		return
	}
	if pid, name, _, ok := hls.SplitPath(s.r.URL.Path); ok {
		b.agg.Served(pid, name, s.bytes, beacon.ViewerOf(s.r, b.n.cfg.Beacons.TrustedProxies))
	}
}

// runBeacons starts the shipping loop, owned by n.wg.
func (n *Node) runBeacons(ctx context.Context) {
	b := n.beacons
	n.wg.Add(2)
	go func() { defer n.wg.Done(); b.geo.Watch(ctx) }()
	go func() {
		defer n.wg.Done()
		defer b.geo.Close()
		b.run(ctx)
	}()
}

func (b *beaconing) run(ctx context.Context) {
	every := b.n.cfg.Beacons.ShipEvery
	if every <= 0 {
		every = time.Minute
	}
	b.ship(ctx, nil) // learn today's salts
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// Everything counted so far, the running minute included.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*shipTimeout)
			b.ship(fctx, b.agg.Take(0, func(pid string) (beacon.Owner, bool) { return b.owner(fctx, pid) }))
			cancel()
			return
		case <-t.C:
		}
		b.ship(ctx, b.agg.Take(protocol.MinuteOf(time.Now()), func(pid string) (beacon.Owner, bool) { return b.owner(ctx, pid) }))
	}
}

// ship sends the pending shipments and then rollups, split to fit a
// frame; it keeps what fails for the next round.
func (b *beaconing) ship(ctx context.Context, rollups []protocol.Rollup) {
	b.mu.Lock()
	for len(rollups) > 0 {
		var batch protocol.AnalyticsRollups
		batch.BatchID = b.n.cfg.NodeID[:min(len(b.n.cfg.NodeID), 20)] + "-" + randomHex(8)
		size := 0
		for len(rollups) > 0 && len(batch.Rollups) < protocol.MaxRollupsPerBatch {
			raw, _ := json.Marshal(rollups[0])
			if size+len(raw) > maxShipBytes && len(batch.Rollups) > 0 {
				break
			}
			size += len(raw)
			batch.Rollups, rollups = append(batch.Rollups, rollups[0]), rollups[1:]
		}
		b.pending = append(b.pending, batch)
	}
	if len(b.pending) > maxPending {
		b.n.log.Warn("analytics: dropping unshipped minutes", "batches", len(b.pending)-maxPending)
		b.pending = b.pending[len(b.pending)-maxPending:]
	}
	pending := b.pending
	b.pending = nil
	b.mu.Unlock()

	if len(pending) == 0 {
		pending = []protocol.AnalyticsRollups{{}} // just the salts
	}
	var failed []protocol.AnalyticsRollups
	for i, batch := range pending {
		sctx, cancel := context.WithTimeout(ctx, shipTimeout)
		reply, err := b.n.client.AnalyticsRollups(sctx, batch)
		cancel()
		if err != nil {
			if len(batch.Rollups) > 0 {
				failed = append(failed, pending[i:]...)
			}
			if ctx.Err() == nil {
				b.n.log.Warn("analytics: ship rollups", "rollups", len(batch.Rollups), "err", err)
			}
			break
		}
		b.agg.SetSalts(reply.Salts)
	}
	if len(failed) > 0 {
		b.mu.Lock()
		b.pending = append(failed, b.pending...)
		b.mu.Unlock()
	}
}

// owner says whose a playback id is: a session live here, else the
// control plane's answer (cached).
func (b *beaconing) owner(ctx context.Context, pid string) (beacon.Owner, bool) {
	b.n.mu.Lock()
	for _, st := range b.n.sessions {
		if st.PlaybackID == pid {
			b.n.mu.Unlock()
			return beacon.Owner{OrgID: st.OrgID, StreamID: st.ID}, true
		}
	}
	b.n.mu.Unlock()
	b.mu.Lock()
	e, ok := b.owners[pid]
	b.mu.Unlock()
	if ok && (e.ok && time.Since(e.at) < ownerTTL || !e.ok && time.Since(e.at) < ownerMissTTL) {
		return e.owner, e.ok
	}
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	reply, err := b.n.client.PlaybackInfo(ictx, protocol.PlaybackInfoRequest{PlaybackID: pid})
	cancel()
	var pe *protocol.Error
	switch {
	case err == nil && reply.Asset != nil:
		e = ownerEntry{owner: beacon.Owner{OrgID: reply.OrgID, AssetID: reply.Asset.ID}, ok: reply.OrgID != ""}
	case err == nil:
		e = ownerEntry{owner: beacon.Owner{OrgID: reply.OrgID, StreamID: reply.StreamID}, ok: reply.OrgID != "" && reply.StreamID != ""}
	case errors.As(err, &pe) && pe.Code == protocol.CodeNotFound:
		e = ownerEntry{}
	default:
		b.n.log.Warn("analytics: playback info", "playback_id", pid, "err", err)
		return e.owner, e.ok // the last answer, if any
	}
	e.at = time.Now()
	b.mu.Lock()
	if len(b.owners) > 10000 {
		clear(b.owners)
	}
	b.owners[pid] = e
	b.mu.Unlock()
	return e.owner, e.ok
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// BeaconStats reports the beacon aggregator's counters (tests, metrics).
func (n *Node) BeaconStats() beacon.Stats {
	if n.beacons == nil {
		return beacon.Stats{}
	}
	return n.beacons.agg.Stats()
}
