package edge

import (
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/livestreams/livestreams/shared/gossip"
)

// startGossip joins the fleet's gossip, advertising this edge's location,
// URLs, load, drain state and the streams it originates.
func (n *Node) startGossip() error {
	if n.cfg.GossipAddr == "" {
		return nil
	}
	key, err := gossip.ParseKey(n.cfg.GossipKey)
	if err != nil {
		return err
	}
	g, err := gossip.Start(gossip.Config{NodeID: n.cfg.NodeID, Role: gossip.RoleEdge, BindAddr: n.cfg.GossipAddr,
		Join: n.cfg.GossipJoin, Key: key, Logger: n.cfg.Logger, ProbeInterval: n.cfg.GossipProbeInterval},
		gossip.Info{NodeID: n.cfg.NodeID, Role: gossip.RoleEdge, Region: n.cfg.Region, Lat: n.cfg.Lat, Lon: n.cfg.Lon,
			HasLocation: n.cfg.Lat != 0 || n.cfg.Lon != 0, HLSURL: n.cfg.PublicURL, RTMPURL: n.cfg.PublicRTMP})
	if err != nil {
		return err
	}
	n.gossip = g
	n.relay = newRelay(n)
	return nil
}

// GossipAddr is the address other fleet members join through ("" without
// gossip).
func (n *Node) GossipAddr() string {
	if n.gossip == nil {
		return ""
	}
	return n.gossip.Addr()
}

// advertise pushes this edge's current streams, load and drain state to
// the fleet; called when a session starts or ends, the drain order
// changes, and periodically for load.
func (n *Node) advertise() {
	if n.gossip == nil {
		return
	}
	n.mu.Lock()
	streams := make([]string, 0, len(n.sessions))
	for _, s := range n.sessions {
		streams = append(streams, s.stream.PlaybackID)
	}
	transcodes := len(n.sessions)
	n.mu.Unlock()
	sort.Strings(streams)
	cpu := loadFraction()
	egress := n.egressRate()
	n.gossip.Update(func(i *gossip.Info) {
		i.Streams = streams
		i.Draining = n.draining.Load()
		i.Load = gossip.Load{CPU: cpu, Transcodes: transcodes, Viewers: int(n.viewers.Load()), EgressBps: egress}
	})
}

// egressRate is the bit rate sent to viewers since the previous call.
func (n *Node) egressRate() int64 {
	now, total := time.Now(), n.egress.Load()
	n.mu.Lock()
	defer n.mu.Unlock()
	prevAt, prev := n.egressAt, n.egressPrev
	n.egressAt, n.egressPrev = now, total
	if prevAt.IsZero() || !now.After(prevAt) {
		return 0
	}
	return int64(float64(total-prev) * 8 / now.Sub(prevAt).Seconds())
}

func (n *Node) advertiseLoop(stop <-chan struct{}) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			n.advertise()
		}
	}
}

// loadFraction is the one-minute load average over the number of cores: a
// cheap, system-wide measure that includes the ffmpeg children.
func loadFraction() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return 0
	}
	return v / float64(runtime.NumCPU())
}
