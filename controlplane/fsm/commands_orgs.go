package fsm

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Org and membership command types.
const (
	CmdCreateOrg    = "create_org"
	CmdDeleteOrg    = "delete_org"
	CmdPutMember    = "put_member"
	CmdRemoveMember = "remove_member"
)

// CreateOrg creates an org and makes OwnerID its owner (when set).
type CreateOrg struct {
	Org     state.Org
	OwnerID string
}

// DeleteOrg removes an org with everything it owns.
type DeleteOrg struct{ ID string }

// PutMember adds a member or changes a member's role.
type PutMember struct {
	Member state.Member
	// RequireExisting makes the command a role change that fails if the
	// membership is gone.
	RequireExisting bool
}

// RemoveMember removes a member; the last owner cannot be removed. The
// API keys whose power derives from the member are revoked at At.
type RemoveMember struct {
	OrgID, UserID string
	At            time.Time
}

func (f *FSM) registerOrgs() {
	handle(f, CmdCreateOrg, func(tx *state.Tx, c CreateOrg) (any, error) {
		if c.Org.ID == "" || c.Org.Name == "" {
			return nil, state.Invalid("org needs an id and a name")
		}
		if _, err := tx.Org(c.Org.ID); err == nil {
			return nil, state.Conflict("org %s already exists", c.Org.ID)
		}
		if err := tx.PutOrg(c.Org); err != nil {
			return nil, err
		}
		if c.OwnerID != "" {
			if _, err := tx.User(c.OwnerID); err != nil {
				return nil, err
			}
			if err := tx.PutMember(state.Member{OrgID: c.Org.ID, UserID: c.OwnerID, Role: state.RoleOwner, CreatedAt: c.Org.CreatedAt}); err != nil {
				return nil, err
			}
		}
		return c.Org, nil
	})
	handle(f, CmdDeleteOrg, func(tx *state.Tx, c DeleteOrg) (any, error) {
		if _, err := tx.Org(c.ID); err != nil {
			return nil, err
		}
		return nil, tx.DeleteOrg(c.ID)
	})
	handle(f, CmdPutMember, func(tx *state.Tx, c PutMember) (any, error) {
		m := c.Member
		if !m.Role.Valid() {
			return nil, state.Invalid("unknown role %q", m.Role)
		}
		if _, err := tx.Org(m.OrgID); err != nil {
			return nil, err
		}
		if _, err := tx.User(m.UserID); err != nil {
			return nil, err
		}
		old, err := tx.Member(m.OrgID, m.UserID)
		switch {
		case err == nil:
			m.CreatedAt = old.CreatedAt
			if old.Role == state.RoleOwner && m.Role != state.RoleOwner {
				if err := ensureAnotherOwner(tx, m.OrgID, m.UserID); err != nil {
					return nil, err
				}
			}
		case state.IsNotFound(err) && !c.RequireExisting:
		default:
			return nil, err
		}
		return m, tx.PutMember(m)
	})
	handle(f, CmdRemoveMember, func(tx *state.Tx, c RemoveMember) (any, error) {
		old, err := tx.Member(c.OrgID, c.UserID)
		if err != nil {
			return nil, err
		}
		if old.Role == state.RoleOwner {
			if err := ensureAnotherOwner(tx, c.OrgID, c.UserID); err != nil {
				return nil, err
			}
		}
		if err := tx.RevokeCreatorKeys(c.OrgID, c.UserID, c.At); err != nil {
			return nil, err
		}
		return nil, tx.DeleteMember(c.OrgID, c.UserID)
	})
}

func ensureAnotherOwner(tx *state.Tx, orgID, leaving string) error {
	members, err := tx.Members(orgID)
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.Role == state.RoleOwner && m.UserID != leaving {
			return nil
		}
	}
	return state.Conflict("an org must keep at least one owner")
}
