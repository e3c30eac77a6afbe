package edge

import (
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/livestreams/livestreams/shared/gossip"
)

// startGossip joins the fleet's gossip, advertising this edge's location,
// URLs, load, drain state and the streams it originates.
func (n *Node) startGossip() error {
	if n.cfg.GossipAddr == "" {
		return nil
	}
	key, secondary, err := gossip.ParseKeyring(n.cfg.GossipKey)
	if err != nil {
		return err
	}
	g, err := gossip.Start(gossip.Config{NodeID: n.cfg.NodeID, Role: gossip.RoleEdge, BindAddr: n.cfg.GossipAddr,
		Join: n.cfg.GossipJoin, Key: key, SecondaryKeys: secondary, Logger: n.cfg.Logger, ProbeInterval: n.cfg.GossipProbeInterval},
		gossip.Info{NodeID: n.cfg.NodeID, Role: gossip.RoleEdge, Region: n.cfg.Region, Lat: n.cfg.Lat, Lon: n.cfg.Lon,
			HasLocation: n.cfg.Lat != 0 || n.cfg.Lon != 0, HLSURL: n.cfg.PublicURL, RTMPURL: n.cfg.PublicRTMP})
	if err != nil {
		return err
	}
	n.gossip = g
	n.relay = newRelaying(n)
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
		streams = append(streams, s.PlaybackID)
	}
	transcodes := len(n.sessions)
	n.mu.Unlock()
	sort.Strings(streams)
	cpu := n.cpuFraction()
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

// cpuFraction is the share of the machine's cores this edge used since the
// previous call: its own CPU time plus that of its running transcoders
// (read from /proc, since they are only reaped when their session ends).
// It measures the edge, not the whole machine, so edges sharing a host
// (or a noisy neighbour) do not report each other's work.
func (n *Node) cpuFraction() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, pid := range n.TranscoderPIDs() {
		used += procCPU(pid)
	}
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	prevAt, prev := n.cpuAt, n.cpuPrev
	n.cpuAt, n.cpuPrev = now, used
	if prevAt.IsZero() || !now.After(prevAt) || used < prev {
		return 0 // first sample, or a transcoder ended and took its time with it
	}
	return (used - prev).Seconds() / now.Sub(prevAt).Seconds() / float64(runtime.NumCPU())
}

// procCPU is a process's user+system CPU time from /proc/PID/stat.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces; fields resume after its ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}
