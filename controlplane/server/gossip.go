package server

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/fleet"
	"github.com/livestreams/livestreams/controlplane/routing"
	"github.com/livestreams/livestreams/shared/gossip"
)

// startGossip joins the edge fleet's gossip as an observer, so routing sees
// deaths, load and draining within seconds instead of at lease expiry.
func (s *Server) startGossip() error {
	if s.cfg.GossipAddr == "" {
		return nil
	}
	key, secondary, err := gossip.ParseKeyring(s.cfg.GossipKey)
	if err != nil {
		return err
	}
	g, err := gossip.Start(gossip.Config{NodeID: "control-" + s.cfg.NodeID, Role: gossip.RoleControl,
		BindAddr: s.cfg.GossipAddr, Join: s.cfg.GossipJoin, Key: key, SecondaryKeys: secondary, Logger: s.cfg.Logger,
		ProbeInterval: s.cfg.GossipProbeInterval},
		gossip.Info{NodeID: "control-" + s.cfg.NodeID, Role: gossip.RoleControl})
	if err != nil {
		return err
	}
	s.gossip = g
	return nil
}

// gossipMembers adapts the gossip view to the fleet's.
type gossipMembers struct{ g *gossip.Node }

func (m gossipMembers) Members() []fleet.Member {
	all := m.g.Members()
	out := make([]fleet.Member, 0, len(all))
	for _, x := range all {
		if x.Role != gossip.RoleEdge {
			continue
		}
		out = append(out, fleet.Member{ID: x.NodeID, State: string(x.State), Region: x.Region,
			Lat: x.Lat, Lon: x.Lon, HasLoc: x.HasLocation, HLSURL: x.HLSURL, RTMPURL: x.RTMPURL,
			SRTURL: x.SRTURL, WHIPURL: x.WHIPURL, Draining: x.Draining, Streams: x.Streams,
			Load: routing.Load{CPU: x.Load.CPU, Transcodes: x.Load.Transcodes, Viewers: x.Load.Viewers, EgressBps: float64(x.Load.EgressBps)}})
	}
	return out
}

func (s *Server) leaveGossip() {
	if s.gossip != nil {
		s.gossip.Leave(2 * time.Second)
	}
}

// GossipAddr is the address edges join the fleet's gossip through ("" when
// this node takes no part).
func (s *Server) GossipAddr() string {
	if s.gossip == nil {
		return ""
	}
	return s.gossip.Addr()
}
