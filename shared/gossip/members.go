package gossip

import (
	"cmp"
	"net"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
)

// member is one entry of the member table: what memberlist says of a node
// (liveness, address, meta) joined with its latest record.
//
// Liveness comes from memberlist alone; a record never makes a member
// alive. A record may arrive before memberlist reports the node (an
// orphan, not listed until it joins) or after it died.
type member struct {
	name    string
	addr    string
	ip      net.IP
	port    uint16
	meta    stable // zero if the meta did not decode
	rec     record
	hasRec  bool
	streams map[string]struct{}
	// floor is the version of the last record of an earlier life of the
	// node: copies of it still in flight are ignored.
	floor uint64
	live  bool // memberlist has it alive
	// joined is set once the node has been live; until then the entry is
	// an orphan record.
	joined bool
	gone   State  // StateDead or StateLeft, once joined and no longer live
	goneAt uint64 // record version when it went
	since  time.Time
	heard  time.Time // last record, for pruning orphans
}

func (m *member) state() State {
	switch {
	case !m.joined:
		return ""
	case m.live && m.hasRec && m.rec.Leaving:
		return StateLeft
	case m.live:
		return StateAlive
	default:
		return m.gone
	}
}

func (m *member) setRecord(r record) {
	m.rec, m.hasRec = r, true
	m.streams = make(map[string]struct{}, len(r.Streams))
	for _, s := range r.Streams {
		m.streams[s] = struct{}{}
	}
}

func (m *member) dropRecord() {
	if m.hasRec {
		m.floor = max(m.floor, m.rec.Version)
	}
	m.rec, m.hasRec, m.streams = record{}, false, nil
}

// Members lists the members alive now and those dead or left within
// Config.DeadRetention, sorted by NodeID. A member whose meta did not
// decode (another version of this software, say) is listed with its
// liveness and without its Info.
func (n *Node) Members() []Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pruneLocked(time.Now())
	out := make([]Member, 0, len(n.members))
	for _, m := range n.members {
		if m.state() != "" {
			out = append(out, n.memberLocked(m))
		}
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return out
}

// Origin returns the alive edge that originates the stream with the given
// playback id. Should two claim it (a creator reconnected to another edge
// before the first one noticed), the one updated last wins.
func (n *Node) Origin(playbackID string) (Member, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var best *member
	for _, m := range n.members {
		if m.state() != StateAlive || m.meta.Role != RoleEdge {
			continue
		}
		if _, ok := m.streams[playbackID]; !ok {
			continue
		}
		if best == nil || m.rec.UpdatedAt.After(best.rec.UpdatedAt) ||
			m.rec.UpdatedAt.Equal(best.rec.UpdatedAt) && m.name < best.name {
			best = m
		}
	}
	if best == nil {
		return Member{}, false
	}
	return n.memberLocked(best), true
}

func (n *Node) memberLocked(m *member) Member {
	info := Info{NodeID: m.name}
	setStable(&info, m.meta)
	if m.hasRec {
		info.Load, info.Draining, info.UpdatedAt = m.rec.Load, m.rec.Draining, m.rec.UpdatedAt
		info.Streams = slices.Clone(m.rec.Streams)
	}
	return Member{Info: info, Addr: m.addr, State: m.state(), Since: m.since, Self: m.name == n.cfg.NodeID}
}

// pruneLocked forgets members gone longer than DeadRetention and orphan
// records not followed by a join within it.
func (n *Node) pruneLocked(now time.Time) {
	for name, m := range n.members {
		switch {
		case m.live || name == n.cfg.NodeID:
		case m.joined && now.Sub(m.since) > n.cfg.DeadRetention,
			!m.joined && now.Sub(m.heard) > n.cfg.DeadRetention:
			delete(n.members, name)
		}
	}
}

// changedLocked stamps a change of m's state and tells subscribers.
func (n *Node) changedLocked(m *member, before State, infoChanged bool) {
	after := m.state()
	var t EventType
	switch {
	case after == before:
		if after != StateAlive || !infoChanged {
			return
		}
		t = EventUpdate
	case after == StateAlive:
		t = EventJoin
	case after == StateLeft:
		t = EventLeave
	case after == StateDead:
		t = EventDead
	default:
		return
	}
	if after != before {
		m.since = time.Now()
		if m.name != n.cfg.NodeID {
			n.log.Info("gossip: member state", "member", m.name, "state", after, "addr", m.addr, "role", m.meta.Role)
		}
	}
	n.publishLocked(Event{Type: t, Member: n.memberLocked(m)})
}

// applyRecordLocked takes f if it is newer than what this node holds, and
// then passes it on by gossip (when it fits a packet), so that an update
// reaches every member even if its origin's own retransmissions miss some,
// and a joining member's first record spreads from the member it joined
// through.
func (n *Node) applyRecordLocked(f frame) {
	if n.closed {
		return
	}
	r := f.record
	if r.NodeID == n.cfg.NodeID {
		if r.Version > n.version && !n.leaving {
			// A record of an earlier life of this node, whose clock ran
			// ahead of ours: outbid it, or peers would ignore us.
			n.log.Debug("gossip: refuting a newer record of this node", "version", r.Version)
			n.version = r.Version + 1
			n.publishSelfLocked()
		}
		return
	}
	m := n.members[r.NodeID]
	if m == nil {
		if len(n.members) >= maxMembers {
			n.log.Debug("gossip: member table full, record dropped", "member", r.NodeID)
			return
		}
		m = &member{name: r.NodeID}
		n.members[r.NodeID] = m
	}
	if r.Version <= m.floor || m.hasRec && r.Version <= m.rec.Version {
		return
	}
	before := m.state()
	m.setRecord(r)
	m.heard = time.Now()
	if !m.live && m.gone == StateDead && r.Leaving {
		// The leave announcement lost the race with the failure
		// detector.
		m.gone = StateLeft
	}
	n.changedLocked(m, before, true)
	if msg := f.relayMsg(); len(msg) <= maxBroadcastLen {
		n.queue.QueueBroadcast(&broadcast{node: r.NodeID, msg: msg})
	}
}

func (n *Node) joinLocked(node *memberlist.Node) {
	m := n.members[node.Name]
	if m == nil {
		m = &member{name: node.Name}
		n.members[node.Name] = m
	}
	before := m.state()
	n.setNodeLocked(m, node)
	if !m.live {
		if m.name != n.cfg.NodeID && m.hasRec && (m.rec.Leaving || m.joined && m.rec.Version <= m.goneAt) {
			// The record is the last word of the node's earlier life.
			m.dropRecord()
		}
		m.live, m.joined = true, true
		n.live.Add(1)
	}
	n.changedLocked(m, before, true)
}

func (n *Node) updateLocked(node *memberlist.Node) {
	m := n.members[node.Name]
	if m == nil || !m.live {
		n.joinLocked(node)
		return
	}
	before, oldMeta, oldAddr := m.state(), m.meta, m.addr
	n.setNodeLocked(m, node)
	n.changedLocked(m, before, m.meta != oldMeta || m.addr != oldAddr)
}

func (n *Node) leaveLocked(node *memberlist.Node) {
	m := n.members[node.Name]
	if m == nil || !m.live {
		return
	}
	before := m.state()
	m.live = false
	n.live.Add(-1)
	m.gone, m.goneAt = StateDead, m.rec.Version
	if m.hasRec && m.rec.Leaving {
		m.gone = StateLeft
	}
	n.changedLocked(m, before, false)
	n.pruneLocked(time.Now())
}

func (n *Node) setNodeLocked(m *member, node *memberlist.Node) {
	m.addr = node.Address()
	m.ip, m.port = slices.Clone(node.Addr), node.Port
	meta, err := decodeMeta(node.Meta)
	if err != nil {
		n.log.Debug("gossip: member meta dropped", "member", node.Name, "err", err)
	}
	m.meta = meta
}

// delegate is memberlist's view of a Node. memberlist calls it from its
// own goroutines, the event methods while holding its node lock: nothing
// here calls back into memberlist or blocks.
type delegate struct{ n *Node }

func (d delegate) NodeMeta(limit int) []byte {
	d.n.mu.Lock()
	defer d.n.mu.Unlock()
	if len(d.n.meta) > limit {
		return nil // unreachable: Start and Update keep meta within MetaMaxSize
	}
	return slices.Clone(d.n.meta)
}

func (d delegate) NotifyMsg(b []byte) {
	rs, err := decodeMessage(b)
	if err != nil {
		d.n.log.Debug("gossip: malformed message dropped", "bytes", len(b), "err", err)
		return
	}
	d.n.mu.Lock()
	defer d.n.mu.Unlock()
	for _, f := range rs {
		d.n.applyRecordLocked(f)
	}
}

func (d delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.n.queue.GetBroadcasts(overhead, limit)
}

func (d delegate) LocalState(join bool) []byte {
	d.n.mu.Lock()
	defer d.n.mu.Unlock()
	var rs []record
	for _, m := range d.n.members {
		if m.live && m.hasRec {
			rs = append(rs, m.rec)
		}
	}
	return encodeStateMsg(rs)
}

func (d delegate) MergeRemoteState(buf []byte, join bool) {
	rs, err := decodeMessage(buf)
	if err != nil {
		d.n.log.Debug("gossip: malformed state dropped", "bytes", len(buf), "err", err)
		return
	}
	d.n.mu.Lock()
	defer d.n.mu.Unlock()
	for _, f := range rs {
		d.n.applyRecordLocked(f)
	}
}

func (d delegate) NotifyJoin(node *memberlist.Node) {
	d.n.mu.Lock()
	defer d.n.mu.Unlock()
	d.n.joinLocked(node)
}

func (d delegate) NotifyUpdate(node *memberlist.Node) {
	d.n.mu.Lock()
	defer d.n.mu.Unlock()
	d.n.updateLocked(node)
}

func (d delegate) NotifyLeave(node *memberlist.Node) {
	d.n.mu.Lock()
	defer d.n.mu.Unlock()
	d.n.leaveLocked(node)
}
