package edgeapi

import (
	"context"

	"github.com/livestreams/livestreams/protocol"
)

// analyticsRollups stores an edge's batch of viewer rollups (one Raft
// write) and answers the daily viewer salts.
func (s *Service) analyticsRollups(ctx context.Context, peer protocol.Peer, r protocol.AnalyticsRollups) (any, error) {
	if s.cfg.Analytics == nil {
		return nil, &protocol.Error{Code: protocol.CodeUnavailable, Message: "analytics are not enabled on this control plane"}
	}
	return s.cfg.Analytics.Store(ctx, peer.Hello.NodeID, r)
}
