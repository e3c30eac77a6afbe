// Package gossip is fleet membership over hashicorp/memberlist. Edges form
// one encrypted cluster and control-plane nodes join it as observers; each
// member advertises who it is (role, region, location, public URLs) and how
// it is doing (load, draining, the live streams it originates), and every
// member learns within seconds that another joined, changed, left or died.
//
// What travels where: the fields fixed for a process lifetime go in
// memberlist's node meta (at most 512 bytes, so Start rejects a region and
// URLs that do not fit); load, draining and streams go in a record with a
// per-node version (the node's start time in nanoseconds, then one more per
// update), so a stale record never overwrites a newer one, not even one
// from before a restart. A record is broadcast by gossip when it fits in a
// packet and sent to each member over TCP when it does not (hundreds of
// streams); push-pull carries all records to joining members and repairs
// whatever gossip missed.
//
// Timing. With memberlist's LAN defaults (probe every 1 s, 500 ms probe
// timeout, suspicion multiplier 4) a member that crashes is reported dead
// after about 5-6 s in a fleet of under ten members: up to a second or two
// until a peer probes it and the probe and indirect probes fail, then a
// suspicion timeout of 4 s × max(1, log10(members)), longer (up to six
// times that) when too few peers confirm the suspicion. A member that
// calls Leave is reported left at once. Updates spread in a few gossip
// rounds (200 ms each).
//
// It is soft state: it records nothing and decides nothing. Routing reads
// it; the lease in the replicated state stands in when gossip does not
// know an edge. Nor does it report suspicion: memberlist v0.5 keeps it
// internal (the State of the nodes it hands out is never set), so a
// suspect member stays alive here until it is declared dead.
package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Role is what a member does in the fleet.
type Role string

const (
	// RoleEdge serves and ingests streams; it is routable.
	RoleEdge Role = "edge"
	// RoleControl is a control-plane node watching the fleet; it is
	// never routable and originates no streams.
	RoleControl Role = "control"
)

// State is a member's liveness as this node sees it. There is no
// suspect state: see the package comment.
type State string

const (
	StateAlive State = "alive" // answering probes, or suspected and not yet declared dead
	StateDead  State = "dead"  // failed: stopped answering probes
	StateLeft  State = "left"  // announced its leave
)

// Load is what an edge reports of its load.
type Load struct {
	CPU        float64 // 0..1 of all cores
	Transcodes int
	Viewers    int
	EgressBps  int64
}

// Info is what a member advertises.
type Info struct {
	NodeID      string
	Role        Role
	Region      string
	Lat, Lon    float64
	HasLocation bool
	HLSURL      string
	RTMPURL     string
	SRTURL      string
	WHIPURL     string
	Load        Load
	Draining    bool
	Streams     []string // playback ids this node originates, sorted
	// UpdatedAt is when the member last changed its Info, by its clock.
	UpdatedAt time.Time
}

// Member is a member as this node sees it.
type Member struct {
	Info
	Addr  string // gossip address, host:port
	State State
	// Since is when State last changed, by this node's clock.
	Since time.Time
	Self  bool
}

// Routable reports whether new viewers and creators may be sent to m.
func (m Member) Routable() bool {
	return m.Role == RoleEdge && m.State == StateAlive && !m.Draining
}

var errClosed = errors.New("gossip: node is closed")

// Node is this process's membership in the fleet.
type Node struct {
	cfg   Config
	log   *slog.Logger
	ml    *memberlist.Memberlist // set before any goroutine of ours starts; memberlist callbacks never use it
	queue *memberlist.TransmitLimitedQueue
	// live counts members memberlist has alive, this one included. The
	// broadcast queue reads it while holding its own lock, so it is not
	// under mu.
	live atomic.Int32

	updateMu sync.Mutex // serializes Update, whose fn runs without mu

	mu        sync.Mutex
	self      Info
	version   uint64
	meta      []byte
	metaDirty bool   // meta changed; the sender re-advertises it
	large     []byte // own record too large for gossip, for the sender
	leaving   bool
	closed    bool
	members   map[string]*member
	subs      map[*subscriber]struct{}

	kick      chan struct{} // wakes the sender
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	joinAttempts atomic.Int64 // counted for logs and tests
}

// Start joins the fleet as cfg.NodeID advertising self (whose NodeID and
// Role are taken from cfg). It returns once gossip is listening; joining
// the seeds goes on in the background.
func Start(cfg Config, self Info) (*Node, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	cfg.setDefaults()
	if self.NodeID != "" && self.NodeID != cfg.NodeID {
		return nil, fmt.Errorf("gossip: info for node %q, config for %q", self.NodeID, cfg.NodeID)
	}
	if self.Role != "" && self.Role != cfg.Role {
		return nil, fmt.Errorf("gossip: info with role %q, config with %q", self.Role, cfg.Role)
	}
	self.NodeID, self.Role = cfg.NodeID, cfg.Role
	self.Load = cleanLoad(self.Load)
	self.Streams = slices.Clone(self.Streams)
	meta, err := encodeMeta(stableOf(self))
	if err != nil {
		return nil, fmt.Errorf("gossip: advertise %s: %w", cfg.NodeID, err)
	}
	now := time.Now()
	self.UpdatedAt = now
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("node_id", cfg.NodeID),
		self:    self,
		version: uint64(now.UnixNano()),
		meta:    meta,
		members: map[string]*member{},
		subs:    map[*subscriber]struct{}{},
		kick:    make(chan struct{}, 1),
	}
	rec := n.selfRecordLocked()
	if err := checkRecord(&rec); err != nil {
		return nil, fmt.Errorf("gossip: advertise %s: %w", cfg.NodeID, err)
	}
	n.self.Streams = rec.Streams
	n.members[cfg.NodeID] = &member{name: cfg.NodeID, meta: stableOf(self)}
	n.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return int(n.live.Load()) },
		RetransmitMult: memberlist.DefaultLANConfig().RetransmitMult,
	}

	n.mu.Lock()
	n.publishSelfLocked()
	n.mu.Unlock()
	ml, err := memberlist.Create(n.memberlistConfig())
	if err != nil {
		return nil, fmt.Errorf("gossip: listen on %s: %w", cfg.BindAddr, err)
	}
	n.ml = ml

	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(1)
	go n.sendLoop(ctx)
	if len(cfg.Join) > 0 {
		n.wg.Add(1)
		go n.joinLoop(ctx)
	}
	n.log.Info("gossip: started", "addr", n.Addr(), "role", cfg.Role, "seeds", strings.Join(cfg.Join, ","))
	return n, nil
}

// Addr is the address peers gossip with this node at (host:port).
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.members[n.cfg.NodeID].addr
}

// Update changes this node's Info and spreads it: fn gets a copy of the
// current Info to change. NodeID, Role and UpdatedAt are not fn's to set;
// an Update that changes nothing sends nothing.
// Load is clamped to its range and an invalid playback id is dropped with
// an error log. A change of region, location or URLs is re-advertised in
// node meta (and ignored, with an error log, if it no longer fits).
// fn must not call Update.
func (n *Node) Update(fn func(*Info)) {
	n.updateMu.Lock()
	defer n.updateMu.Unlock()

	n.mu.Lock()
	next := n.self
	done := n.closed || n.leaving
	n.mu.Unlock()
	if done {
		return
	}
	next.Streams = slices.Clone(next.Streams)
	fn(&next)
	next.NodeID, next.Role = n.cfg.NodeID, n.cfg.Role
	next.Load = cleanLoad(next.Load)
	next.Streams = n.cleanStreams(next.Streams)

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || n.leaving {
		return
	}
	if st := stableOf(next); st != stableOf(n.self) {
		if meta, err := encodeMeta(st); err != nil {
			n.log.Error("gossip: region, location and URL change ignored", "err", err)
			setStable(&next, stableOf(n.self))
		} else {
			n.meta, n.metaDirty = meta, true
			n.members[n.cfg.NodeID].meta = st
			n.kickSender()
		}
	}
	if sameInfo(next, n.self) {
		return // UpdatedAt says when the Info last changed
	}
	next.UpdatedAt = time.Now()
	n.self = next
	n.bumpVersionLocked()
	n.publishSelfLocked()
}

func (n *Node) cleanStreams(ids []string) []string {
	out := make([]string, 0, len(ids)) // not in place: ids may be the caller's
	for _, id := range ids {
		err := checkString(id, maxIDLen)
		if err == nil && id == "" {
			err = errors.New("empty")
		}
		if err != nil {
			n.log.Error("gossip: playback id not advertised", "playback_id", strconv.Quote(id), "err", err)
			continue
		}
		out = append(out, id)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxStreams {
		n.log.Error("gossip: too many streams to advertise", "streams", len(out), "limit", maxStreams)
		out = out[:maxStreams]
	}
	return out
}

func cleanLoad(l Load) Load {
	switch {
	case math.IsNaN(l.CPU) || l.CPU > 1:
		l.CPU = 1 // unknown counts as full, as in routing
	case l.CPU < 0:
		l.CPU = 0
	}
	l.Transcodes = min(max(l.Transcodes, 0), maxTranscodes)
	l.Viewers = min(max(l.Viewers, 0), maxViewers)
	l.EgressBps = max(l.EgressBps, 0)
	return l
}

func sameInfo(a, b Info) bool {
	return stableOf(a) == stableOf(b) && a.Load == b.Load && a.Draining == b.Draining && slices.Equal(a.Streams, b.Streams)
}

func stableOf(i Info) stable {
	return stable{Role: i.Role, Region: i.Region, Lat: i.Lat, Lon: i.Lon, HasLocation: i.HasLocation,
		HLSURL: i.HLSURL, RTMPURL: i.RTMPURL, SRTURL: i.SRTURL, WHIPURL: i.WHIPURL}
}

func setStable(i *Info, s stable) {
	i.Role, i.Region, i.Lat, i.Lon, i.HasLocation = s.Role, s.Region, s.Lat, s.Lon, s.HasLocation
	i.HLSURL, i.RTMPURL, i.SRTURL, i.WHIPURL = s.HLSURL, s.RTMPURL, s.SRTURL, s.WHIPURL
}

// bumpVersionLocked moves the version past the last one and the clock,
// so that versions also grow across restarts.
func (n *Node) bumpVersionLocked() {
	n.version = max(n.version+1, uint64(time.Now().UnixNano()))
}

func (n *Node) selfRecordLocked() record {
	r := record{NodeID: n.cfg.NodeID, Version: n.version, UpdatedAt: n.self.UpdatedAt,
		Draining: n.self.Draining, Leaving: n.leaving, Load: n.self.Load, Streams: n.self.Streams}
	if n.leaving {
		// A leaving node originates nothing, and its last record must
		// fit in one packet.
		r.Streams = nil
	}
	return r
}

// publishSelfLocked records this node's current record in the table and
// sends it: by gossip if it fits, else through the sender over TCP. It
// returns the encoded message.
func (n *Node) publishSelfLocked() []byte {
	r := n.selfRecordLocked()
	m := n.members[n.cfg.NodeID]
	before := m.state()
	m.setRecord(r)
	n.changedLocked(m, before, true)
	msg := encodeRecordMsg(r)
	if len(msg) <= maxBroadcastLen {
		n.large = nil
		n.queue.QueueBroadcast(&broadcast{node: r.NodeID, msg: msg})
	} else {
		n.large = msg
		n.kickSender()
	}
	return msg
}

func (n *Node) kickSender() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// sendLoop does what must not run under mu or in Update's caller:
// re-advertising changed node meta and sending records too large for
// gossip to each member over TCP. Bursts of updates coalesce into one send
// of the latest.
func (n *Node) sendLoop(ctx context.Context) {
	defer n.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		n.mu.Lock()
		msg, metaDirty := n.large, n.metaDirty
		n.large, n.metaDirty = nil, false
		var peers []*memberlist.Node
		if msg != nil {
			peers = n.peersLocked()
		}
		n.mu.Unlock()
		if metaDirty {
			// The wait only confirms the broadcast went out; bound it so
			// Close is not held up.
			if err := n.ml.UpdateNode(5 * n.cfg.GossipInterval); err != nil {
				n.log.Debug("gossip: meta update not yet confirmed", "err", err)
			}
		}
		for _, p := range peers {
			if ctx.Err() != nil {
				return
			}
			if err := n.ml.SendReliable(p, msg); err != nil {
				n.log.Debug("gossip: send record", "peer", p.Name, "err", err)
			}
		}
	}
}

func (n *Node) peersLocked() []*memberlist.Node {
	var out []*memberlist.Node
	for _, m := range n.members {
		if m.live && m.name != n.cfg.NodeID {
			out = append(out, &memberlist.Node{Name: m.name, Addr: m.ip, Port: m.port})
		}
	}
	return out
}

// joinLoop joins the seeds with backoff, and again whenever this node is
// alone: after all its peers restarted, say.
func (n *Node) joinLoop(ctx context.Context) {
	defer n.wg.Done()
	backoff := n.cfg.JoinRetryMin
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n.live.Load() > 1 {
			backoff = n.cfg.JoinRetryMin
			t.Reset(n.cfg.JoinRetryMax)
			continue
		}
		attempt := n.joinAttempts.Add(1)
		k, err := n.ml.Join(n.cfg.Join)
		if k > 0 {
			n.log.Info("gossip: joined", "seeds_answered", k, "attempt", attempt)
		} else {
			n.log.Warn("gossip: join failed, retrying", "attempt", attempt, "retry_in", backoff, "err", err)
		}
		// Jitter keeps a fleet restarted at once from retrying in step.
		t.Reset(backoff + rand.N(backoff/4+1))
		backoff = min(2*backoff, n.cfg.JoinRetryMax)
	}
}

// Leave tells the fleet this node is leaving and shuts it down. Peers
// report it left at once instead of dead after the failure timeout.
// timeout bounds the wait for the leave to go out (5 s when not positive).
func (n *Node) Leave(timeout time.Duration) error {
	if timeout <= 0 {
		timeout = defaultLeaveTimeout
	}
	n.updateMu.Lock()
	n.mu.Lock()
	if n.closed || n.leaving {
		n.mu.Unlock()
		n.updateMu.Unlock()
		return errClosed
	}
	n.leaving = true
	n.bumpVersionLocked()
	n.self.UpdatedAt = time.Now()
	msg := n.publishSelfLocked()
	peers := n.peersLocked()
	n.mu.Unlock()
	n.updateMu.Unlock()

	// Stop the sender first: a meta update after memberlist's leave
	// would announce this node alive again.
	n.cancel()
	n.wg.Wait()
	// Straight to every peer by UDP, ahead of memberlist's own leave
	// message, so peers see "left" rather than "dead" first.
	for _, p := range peers {
		if err := n.ml.SendBestEffort(p, msg); err != nil {
			n.log.Debug("gossip: send leave", "peer", p.Name, "err", err)
		}
	}
	err := n.ml.Leave(timeout)
	if cerr := n.Close(); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("gossip: leave %s: %w", n.cfg.NodeID, err)
	}
	n.log.Info("gossip: left")
	return nil
}

// Close shuts this node down without telling the fleet; its peers report
// it dead once it fails their probes. Subscriptions end.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.cancel()
		if err := n.ml.Shutdown(); err != nil {
			n.closeErr = fmt.Errorf("gossip: shut down %s: %w", n.cfg.NodeID, err)
		}
		n.wg.Wait()
		n.mu.Lock()
		n.closed = true
		for s := range n.subs {
			delete(n.subs, s)
			close(s.ch)
		}
		n.mu.Unlock()
	})
	return n.closeErr
}

// broadcast is a record queued for gossip; a newer one of the same node
// replaces it in the queue.
type broadcast struct {
	node string
	msg  []byte
}

func (b *broadcast) Invalidates(o memberlist.Broadcast) bool {
	ob, ok := o.(memberlist.NamedBroadcast)
	return ok && ob.Name() == b.Name()
}
func (b *broadcast) Name() string    { return "record/" + b.node }
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}
