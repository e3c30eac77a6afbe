package edgeapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
)

// signingKeysPoll is how often a watch looks at this node's state: a
// revocation applied through Raft reaches the watching edges within it
// plus the replication delay (well under the 2 s promised).
const signingKeysPoll = 100 * time.Millisecond

// watchSigningKeys answers as soon as the signing keys differ from the
// revision the edge holds (at once for ""), or when the wait ends.
func (s *Service) watchSigningKeys(ctx context.Context, r protocol.WatchSigningKeysRequest) (any, error) {
	wait := min(max(time.Duration(r.WaitMS)*time.Millisecond, 0), maxWatchWait)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(signingKeysPoll)
	defer tick.Stop()
	for {
		reply, err := s.signingKeySet()
		if err != nil {
			return nil, err
		}
		if reply.Revision != r.Revision {
			return reply, nil
		}
		select {
		case <-ctx.Done():
			return reply, nil
		case <-deadline.C:
			return reply, nil
		case <-tick.C:
		}
	}
}

// signingKeySet is every org's signing keys as edges see them, with a
// revision that changes whenever a key is created or revoked.
func (s *Service) signingKeySet() (protocol.WatchSigningKeysReply, error) {
	var keys []state.SigningKey
	if err := s.view(func(tx *state.Tx) error { var err error; keys, err = tx.AllSigningKeys(); return err }); err != nil {
		return protocol.WatchSigningKeysReply{}, err
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	reply := protocol.WatchSigningKeysReply{Active: []protocol.OrgSigningKey{}, Revoked: []string{}}
	h := sha256.New()
	for _, k := range keys {
		if k.RevokedAt != nil {
			reply.Revoked = append(reply.Revoked, k.ID)
			h.Write([]byte("r:" + k.ID + "\n"))
			continue
		}
		reply.Active = append(reply.Active, protocol.OrgSigningKey{ID: k.ID, OrgID: k.OrgID, PublicPEM: k.PublicPEM})
		h.Write([]byte("a:" + k.ID + "\n"))
	}
	reply.Revision = hex.EncodeToString(h.Sum(nil)[:12])
	return reply, nil
}
