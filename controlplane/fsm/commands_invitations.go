package fsm

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Invitation command types.
const (
	CmdInvite           = "invite"
	CmdAnswerInvitation = "answer_invitation"
	CmdRevokeInvitation = "revoke_invitation"
)

// AnswerInvitation is a user accepting or declining an invitation
// addressed to their email.
type AnswerInvitation struct {
	ID, UserID string
	Accept     bool
	At         time.Time
}

// RevokeInvitation withdraws a pending invitation of an org.
type RevokeInvitation struct {
	OrgID, ID string
	At        time.Time
}

// errNoInvitation is every refusal of an invitation the caller may not
// answer: missing, someone else's, answered or expired look alike.
func errNoInvitation(id string) error { return state.NotFound("invitation %s", id) }

func (f *FSM) registerInvitations() {
	handle(f, CmdInvite, func(tx *state.Tx, inv state.Invitation) (any, error) {
		if inv.ID == "" || inv.Email == "" {
			return nil, state.Invalid("an invitation needs an id and an email")
		}
		if !inv.Role.Valid() {
			return nil, state.Invalid("unknown role %q", inv.Role)
		}
		if _, err := tx.Org(inv.OrgID); err != nil {
			return nil, err
		}
		inv.Email = state.NormalizeEmail(inv.Email)
		return inv, tx.PutInvitation(inv)
	})
	handle(f, CmdAnswerInvitation, func(tx *state.Tx, c AnswerInvitation) (any, error) {
		inv, err := tx.Invitation(c.ID)
		if err != nil {
			return nil, errNoInvitation(c.ID)
		}
		u, err := tx.User(c.UserID)
		if err != nil || state.NormalizeEmail(u.Email) != inv.Email || !inv.Pending(c.At) {
			return nil, errNoInvitation(c.ID)
		}
		at := c.At
		inv.DoneAt, inv.Outcome = &at, "declined"
		var m state.Member
		if c.Accept {
			inv.Outcome = "accepted"
			if _, err := tx.Org(inv.OrgID); err != nil {
				return nil, err
			}
			old, err := tx.Member(inv.OrgID, u.ID)
			switch {
			case err == nil:
				// Already a member: an invitation never lowers a role.
				m = old
				if inv.Role.Rank() > old.Role.Rank() {
					m.Role = inv.Role
				}
			case state.IsNotFound(err):
				m = state.Member{OrgID: inv.OrgID, UserID: u.ID, Role: inv.Role, CreatedAt: c.At}
			default:
				return nil, err
			}
			if err := tx.PutMember(m); err != nil {
				return nil, err
			}
		}
		return m, tx.PutInvitation(inv)
	})
	handle(f, CmdRevokeInvitation, func(tx *state.Tx, c RevokeInvitation) (any, error) {
		inv, err := tx.Invitation(c.ID)
		if err != nil || inv.OrgID != c.OrgID {
			return nil, errNoInvitation(c.ID)
		}
		if inv.DoneAt == nil {
			at := c.At
			inv.DoneAt, inv.Outcome = &at, "revoked"
		}
		return inv, tx.PutInvitation(inv)
	})
}
