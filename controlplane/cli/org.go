package cli

import (
	"context"
	"fmt"

	"github.com/livestreams/livestreams/controlplane/client"
)

func orgCreate(ctx context.Context, e *env, args []string) error {
	c := e.command("org create", "NAME", `
Create an org; you become its owner. Needs a user session token (from
'livestreams login'), not an API key: an API key belongs to one org.`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	o, err := cl.Orgs().Create(c.keep(ctx), client.OrgCreate{Name: c.pos[0]})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	fmt.Fprintf(c.stdout, "Created org %s (%s)\n", o.ID, o.Name)
	return nil
}

func orgList(ctx context.Context, e *env, args []string) error {
	c := e.command("org list", "", "List your orgs; a cluster admin sees all of them.")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.Org, error) { return cl.Orgs().List(ctx) }
	return listTable(ctx, c, list, "No orgs.", []string{"ID", "NAME", "CREATED"}, func(o client.Org) []string {
		return []string{o.ID, o.Name, c.ago(o.CreatedAt)}
	})
}

func orgDelete(ctx context.Context, e *env, args []string) error {
	c := e.command("org delete", "ID", `
Delete an org with its members, API keys, streams and signing keys. Needs
the owner role.`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.Orgs().Delete(ctx, c.pos[0]) }, "Deleted org "+c.pos[0])
}

func orgMembers(ctx context.Context, e *env, args []string) error {
	c := e.command("org members", "ORG", "List the members of an org and their roles.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.Member, error) {
		return cl.Orgs().Members(ctx, c.pos[0])
	}
	return listTable(ctx, c, list, "No members.", []string{"USER ID", "EMAIL", "NAME", "ROLE", "SINCE"}, func(m client.Member) []string {
		return []string{m.UserID, m.Email, orDash(m.Name), m.Role, c.ago(m.CreatedAt)}
	})
}
