package fsm

import "github.com/livestreams/livestreams/controlplane/state"

// User command types.
const (
	CmdCreateUser = "create_user"
)

// CreateUser creates a user, optionally as a member of an org.
type CreateUser struct {
	User       state.User
	Membership *state.Member
}

func (f *FSM) registerUsers() {
	handle(f, CmdCreateUser, func(tx *state.Tx, c CreateUser) (any, error) {
		if c.User.ID == "" || c.User.Email == "" {
			return nil, state.Invalid("user needs an id and an email")
		}
		if _, err := tx.UserByEmail(c.User.Email); err == nil {
			return nil, state.Conflict("a user with that email already exists")
		}
		if err := tx.PutUser(c.User); err != nil {
			return nil, err
		}
		if c.Membership != nil {
			if _, err := tx.Org(c.Membership.OrgID); err != nil {
				return nil, err
			}
			if !c.Membership.Role.Valid() {
				return nil, state.Invalid("unknown role %q", c.Membership.Role)
			}
			if err := tx.PutMember(*c.Membership); err != nil {
				return nil, err
			}
		}
		return c.User.ID, nil
	})
}
