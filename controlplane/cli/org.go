package cli

import (
	"context"
	"fmt"
)

type orgView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt timestamp `json:"created_at"`
}

type memberView struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt timestamp `json:"created_at"`
}

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
	var o orgView
	raw, err := cl.post(ctx, "/v1/orgs", map[string]string{"name": c.pos[0]}, &o)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	fmt.Fprintf(c.stdout, "Created org %s (%s)\n", o.ID, o.Name)
	return nil
}

func orgList(ctx context.Context, e *env, args []string) error {
	c := e.command("org list", "", "List your orgs; a cluster admin sees all of them.")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	return listTable(ctx, c, "/v1/orgs", "No orgs.", []string{"ID", "NAME", "CREATED"}, func(o orgView) []string {
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
	return c.deleteAndSay(ctx, pathf("/v1/orgs/%s", c.pos[0]), "Deleted org "+c.pos[0])
}

func orgMembers(ctx context.Context, e *env, args []string) error {
	c := e.command("org members", "ORG", "List the members of an org and their roles.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return listTable(ctx, c, pathf("/v1/orgs/%s/members", c.pos[0]), "No members.", []string{"USER ID", "EMAIL", "NAME", "ROLE", "SINCE"}, func(m memberView) []string {
		return []string{m.UserID, m.Email, orDash(m.Name), m.Role, c.ago(m.CreatedAt)}
	})
}
