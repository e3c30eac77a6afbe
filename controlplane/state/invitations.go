package state

import "time"

// Invitation asks whoever holds an email address to join an org with a
// role. Membership begins only when that user accepts, so nobody is added
// to an org without consent and an inviter learns nothing about whether
// the address belongs to a user.
type Invitation struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	// Email is normalized (NormalizeEmail).
	Email     string     `json:"email"`
	Role      Role       `json:"role"`
	InvitedBy string     `json:"invited_by"` // a user or API key id
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	DoneAt    *time.Time `json:"done_at,omitempty"`
	// Outcome is "accepted", "declined" or "revoked" once DoneAt is set.
	Outcome string `json:"outcome,omitempty"`
}

// Pending reports whether the invitation can still be answered at at.
func (i Invitation) Pending(at time.Time) bool { return i.DoneAt == nil && at.Before(i.ExpiresAt) }

// Status is "pending", "expired" or the outcome.
func (i Invitation) Status(at time.Time) string {
	switch {
	case i.DoneAt != nil:
		return i.Outcome
	case !at.Before(i.ExpiresAt):
		return "expired"
	}
	return "pending"
}

// Invitation returns one invitation.
func (t *Tx) Invitation(id string) (Invitation, error) {
	var i Invitation
	ok, err := t.get(bInvitations, id, &i)
	if err == nil && !ok {
		err = NotFound("invitation %s", id)
	}
	return i, err
}

// Invitations lists the invitations for which keep is true.
func (t *Tx) Invitations(keep func(Invitation) bool) ([]Invitation, error) {
	var out []Invitation
	err := scan(t, bInvitations, "", func(i Invitation) bool {
		if keep(i) {
			out = append(out, i)
		}
		return true
	})
	return out, err
}

// PutInvitation stores an invitation.
func (t *Tx) PutInvitation(i Invitation) error { return t.put(bInvitations, i.ID, i) }

// DeleteOrgInvitations forgets the invitations of an org being deleted.
func (t *Tx) DeleteOrgInvitations(orgID string) error {
	inv, err := t.Invitations(func(i Invitation) bool { return i.OrgID == orgID })
	if err != nil {
		return err
	}
	for _, i := range inv {
		if err := t.del(bInvitations, i.ID); err != nil {
			return err
		}
	}
	return nil
}
