package cli

import (
	"context"
	"fmt"

	"github.com/livestreams/livestreams/controlplane/client"
)

func orgInvite(ctx context.Context, e *env, args []string) error {
	c := e.command("org invite", "ORG", `
Invite an email address to an org. Whoever logs in with that address sees
the invitation ('livestreams invite list') and joins by accepting it; the
answer is the same whether or not the address belongs to a user. Needs
the admin role, and owner to invite an owner.`)
	email := c.fs.String("email", "", "address to invite (required)")
	role := c.fs.String("role", "", "role to join with: owner, admin, member or viewer (server default: member)")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	if *email == "" {
		return c.usage("--email is required")
	}
	if *role != "" && !validRole(*role) {
		return c.usage("--role must be owner, admin, member or viewer, not %q", *role)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	inv, err := cl.Orgs().Invite(c.keep(ctx), c.pos[0], client.InvitationCreate{Email: *email, Role: *role})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	fmt.Fprintf(c.stdout, "Invited %s to org %s as %s (invitation %s, valid until %s)\n",
		inv.Email, inv.OrgID, inv.Role, inv.ID, inv.ExpiresAt.Format("2006-01-02 15:04 MST"))
	return nil
}

func orgInvitations(ctx context.Context, e *env, args []string) error {
	c := e.command("org invitations", "ORG", "List the invitations of an org and their status.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.Invitation, error) {
		return cl.Orgs().Invitations(ctx, c.pos[0])
	}
	return listTable(ctx, c, list, "No invitations.", []string{"ID", "EMAIL", "ROLE", "STATUS", "CREATED"}, func(i client.Invitation) []string {
		return []string{i.ID, i.Email, i.Role, i.Status, c.ago(i.CreatedAt)}
	})
}

func inviteList(ctx context.Context, e *env, args []string) error {
	c := e.command("invite list", "", "List the invitations addressed to you (needs a user session: 'livestreams login').")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.Invitation, error) {
		return cl.Invitations().List(ctx)
	}
	return listTable(ctx, c, list, "No invitations.", []string{"ID", "ORG", "ORG NAME", "ROLE", "EXPIRES"}, func(i client.Invitation) []string {
		return []string{i.ID, i.OrgID, orDash(i.OrgName), i.Role, i.ExpiresAt.Format("2006-01-02 15:04 MST")}
	})
}

func inviteAccept(ctx context.Context, e *env, args []string) error {
	c := e.command("invite accept", "ID", "Accept an invitation addressed to you: join its org with its role.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	m, err := cl.Invitations().Accept(c.keep(ctx), c.pos[0])
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	fmt.Fprintf(c.stdout, "Accepted invitation %s: you are %s of the org\n", c.pos[0], m.Role)
	return nil
}

func inviteDecline(ctx context.Context, e *env, args []string) error {
	c := e.command("invite decline", "ID", "Decline an invitation addressed to you.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.Invitations().Decline(ctx, c.pos[0]) }, "Declined invitation "+c.pos[0])
}
