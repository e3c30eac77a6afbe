package edge

import (
	"context"
	"errors"
	"time"

	"github.com/livestreams/livestreams/protocol"
)

// heartbeatLoop renews this edge's lease and reconciles sessions with the
// control plane: it lists what runs here and cancels what the control plane
// says is over (stream disabled or deleted, lease lapsed during a partition).
func (n *Node) heartbeatLoop(ctx context.Context) {
	interval := 2 * time.Second
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, interval)
		var reply protocol.HeartbeatReply
		err := n.client.Call(hctx, protocol.TypeHeartbeat, protocol.Heartbeat{NodeID: n.cfg.NodeID, Sessions: n.heartbeatSessions(),
			Load: protocol.Load{Transcodes: len(n.Sessions())}}, &reply)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn("heartbeat", "err", err)
			}
		} else {
			for _, id := range reply.CancelSessions {
				if n.core.Cancel(id, errors.New("session ended by the control plane")) {
					n.log.Info("control plane ended session", "session_id", id)
				}
			}
			if was := n.draining.Swap(reply.Drain); was != reply.Drain {
				n.log.Info("drain order changed", "draining", reply.Drain)
				n.onDrainChange(reply.Drain)
			}
			if reply.CABundlePEM != "" || reply.RenewCertificate {
				n.onConnect(protocol.HelloReply{CABundlePEM: reply.CABundlePEM, RenewCertificate: reply.RenewCertificate})
			}
			if reply.LeaseTTLMS > 0 {
				// Renew well inside the lease so one lost heartbeat costs nothing.
				interval = time.Duration(reply.LeaseTTLMS) * time.Millisecond / 4
			}
		}
		t.Reset(interval)
	}
}
