package client

import (
	"context"
	"time"
)

// Invitation is an invitation to join an org, as its org's admins see it
// (the email they typed, never whether it belongs to a user) and as its
// invitee sees it (OrgName too).
type Invitation struct {
	ID        string     `json:"id"`
	OrgID     string     `json:"org_id"`
	OrgName   string     `json:"org_name,omitempty"`
	Email     string     `json:"email"`
	Role      string     `json:"role"`
	Status    string     `json:"status"` // pending, accepted, declined, revoked or expired
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	DoneAt    *time.Time `json:"done_at,omitempty"`
}

// InvitationCreate invites an email address to an org with a role.
type InvitationCreate struct {
	Email string `json:"email"`
	Role  string `json:"role,omitempty"`
}

// Invite invites email to org; the answer is the same whether or not the
// address belongs to a user.
func (o Orgs) Invite(ctx context.Context, org string, r InvitationCreate) (Invitation, error) {
	var out Invitation
	return out, o.c.post(ctx, pathf("/v1/orgs/%s/invitations", org), r, &out)
}

// Invitations lists an org's invitations.
func (o Orgs) Invitations(ctx context.Context, org string) ([]Invitation, error) {
	var out List[Invitation]
	return out.Items, o.c.get(ctx, pathf("/v1/orgs/%s/invitations", org), nil, &out)
}

// RevokeInvitation withdraws a pending invitation of an org.
func (o Orgs) RevokeInvitation(ctx context.Context, org, id string) error {
	return o.c.delete(ctx, pathf("/v1/orgs/%s/invitations/%s", org, id), nil)
}

// Invitations are the calling user's own invitations.
type Invitations struct{ c *Client }

func (c *Client) Invitations() Invitations { return Invitations{c} }

// List lists the caller's pending invitations.
func (i Invitations) List(ctx context.Context) ([]Invitation, error) {
	var out List[Invitation]
	return out.Items, i.c.get(ctx, "/v1/invitations", nil, &out)
}

// Accept joins the org of an invitation; the answer is the membership.
func (i Invitations) Accept(ctx context.Context, id string) (Member, error) {
	var out Member
	return out, i.c.post(ctx, pathf("/v1/invitations/%s/accept", id), struct{}{}, &out)
}

// Decline refuses an invitation.
func (i Invitations) Decline(ctx context.Context, id string) error {
	return i.c.post(ctx, pathf("/v1/invitations/%s/decline", id), struct{}{}, nil)
}
