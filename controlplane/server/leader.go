package server

import (
	"context"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
)

// leaderLoop runs the duties that exactly one node must perform: closing the
// sessions of edges whose lease lapsed, and sealing the secrets the
// keyring's active key did not seal (a state from before sealing, or a
// rotated keyring). Every node takes a changed keyring file at each tick;
// followers skip the rest.
func (s *Server) leaderLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	sealed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.reloadKeyring() {
			sealed = false
		}
		if !s.node.IsLeader() {
			sealed = false // a new leader looks again
			continue
		}
		s.expireEdges(ctx)
		if !sealed {
			if err := s.resealSecrets(ctx); err != nil {
				s.log.Warn("seal plaintext secrets", "err", err)
			} else {
				sealed = true
			}
		}
	}
}

func (s *Server) expireEdges(ctx context.Context) {
	now := time.Now().UTC()
	var lapsed []string
	s.node.Store().View(func(tx *state.Tx) error {
		edges, err := tx.Edges()
		if err != nil {
			return err
		}
		open, err := tx.Sessions(func(x state.Session) bool { return x.EndedAt == nil })
		if err != nil {
			return err
		}
		busy := map[string]bool{}
		for _, x := range open {
			busy[x.EdgeID] = true
		}
		for _, e := range edges {
			if busy[e.ID] && now.After(e.LeaseExpiresAt) {
				lapsed = append(lapsed, e.ID)
			}
		}
		return nil
	})
	for _, id := range lapsed {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var closed int
		err := s.node.ApplyInto(actx, fsm.CmdExpireEdge, fsm.ExpireEdge{EdgeID: id, At: now}, &closed)
		cancel()
		if err != nil {
			s.log.Warn("expire edge lease", "edge_id", id, "err", err)
		} else if closed > 0 {
			s.log.Info("edge lease lapsed; closed its sessions", "edge_id", id, "sessions", closed)
		}
	}
}
