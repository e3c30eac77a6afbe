package fsm

import (
	"github.com/livestreams/livestreams/controlplane/state"
)

// Cluster command types.
const (
	CmdInitCluster   = "init_cluster"
	CmdPutNode       = "put_node"
	CmdRemoveNode    = "remove_node"
	CmdPutEdge       = "put_edge"
	CmdPutJoinToken  = "put_join_token"
	CmdCompleteSetup = "complete_setup"
	CmdDrainEdge     = "drain_edge"
)

// DrainEdge sets or clears an edge's draining order.
type DrainEdge struct {
	ID       string
	Draining bool
}

// InitCluster creates the cluster meta once; later proposals are no-ops so a
// re-bootstrapped leader cannot replace the CA or secrets.
type InitCluster struct{ Meta state.Meta }

// RemoveNode forgets a control-plane node.
type RemoveNode struct{ ID string }

// CompleteSetup creates the first org, its owner, and burns the setup token.
type CompleteSetup struct {
	SetupTokenHash string
	Org            state.Org
	User           state.User
}

func (f *FSM) registerCluster() {
	handle(f, CmdInitCluster, func(tx *state.Tx, c InitCluster) (any, error) {
		if m, ok, err := tx.Meta(); err != nil {
			return nil, err
		} else if ok {
			return m.ClusterID, nil
		}
		return c.Meta.ClusterID, tx.PutMeta(c.Meta)
	})
	handle(f, CmdPutNode, func(tx *state.Tx, n state.Node) (any, error) {
		if old, ok, err := tx.Node(n.ID); err != nil {
			return nil, err
		} else if ok && !old.JoinedAt.IsZero() {
			n.JoinedAt = old.JoinedAt
		}
		return nil, tx.PutNode(n)
	})
	handle(f, CmdRemoveNode, func(tx *state.Tx, c RemoveNode) (any, error) {
		return nil, tx.DeleteNode(c.ID)
	})
	handle(f, CmdPutEdge, func(tx *state.Tx, e state.Edge) (any, error) {
		if old, err := tx.Edge(e.ID); err == nil {
			e.FirstSeenAt, e.Draining = old.FirstSeenAt, old.Draining
		}
		return nil, tx.PutEdge(e)
	})
	handle(f, CmdDrainEdge, func(tx *state.Tx, c DrainEdge) (any, error) {
		e, err := tx.Edge(c.ID)
		if err != nil {
			return nil, err
		}
		e.Draining = c.Draining
		return e, tx.PutEdge(e)
	})
	handle(f, CmdPutJoinToken, func(tx *state.Tx, j state.JoinToken) (any, error) {
		return nil, tx.PutJoinToken(j)
	})
	handle(f, CmdCompleteSetup, func(tx *state.Tx, c CompleteSetup) (any, error) {
		m, ok, err := tx.Meta()
		if err != nil {
			return nil, err
		}
		if !ok || m.SetupTokenHash == "" || m.SetupTokenHash != c.SetupTokenHash {
			return nil, &state.Error{Code: "forbidden", Message: "setup token is invalid or already used"}
		}
		if err := tx.PutOrg(c.Org); err != nil {
			return nil, err
		}
		if err := tx.PutUser(c.User); err != nil {
			return nil, err
		}
		if err := tx.PutMember(state.Member{OrgID: c.Org.ID, UserID: c.User.ID, Role: state.RoleOwner, CreatedAt: c.Org.CreatedAt}); err != nil {
			return nil, err
		}
		m.SetupTokenHash = ""
		return nil, tx.PutMeta(m)
	})
}

// CmdSetSetupToken replaces the setup token while no owner exists.
const CmdSetSetupToken = "set_setup_token"

// SetSetupToken carries the hash of a newly issued setup token.
type SetSetupToken struct{ Hash string }

func (f *FSM) registerSetup() {
	handle(f, CmdSetSetupToken, func(tx *state.Tx, c SetSetupToken) (any, error) {
		m, ok, err := tx.Meta()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, state.Invalid("cluster is not initialized")
		}
		if m.SetupTokenHash == "" && tx.CountUsers() > 0 {
			return nil, state.Conflict("setup is complete")
		}
		m.SetupTokenHash = c.Hash
		return nil, tx.PutMeta(m)
	})
}
