package cli

import (
	"context"
	"fmt"
)

type userView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	CreatedAt timestamp `json:"created_at"`
}

func userCreate(ctx context.Context, e *env, args []string) error {
	c := e.command("user create", "", `
Create a user, and with --org make them a member of that org with --role.
Needs a cluster admin. Prefer --password-stdin: a --password is visible to
other users of the machine while the command runs.`)
	email := c.fs.String("email", "", "email address, the login name (required)")
	pw := c.fs.String("password", "", "password")
	pwStdin := c.fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	name := c.fs.String("name", "", "display name")
	org := c.fs.String("org", "", "org ID to make the user a member of")
	role := c.fs.String("role", "", "role in --org: owner, admin, member or viewer (server default: member)")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *email == "" {
		return c.usage("--email is required")
	}
	if *role != "" {
		if *org == "" {
			return c.usage("--role needs --org")
		}
		if !validRole(*role) {
			return c.usage("--role must be owner, admin, member or viewer, not %q", *role)
		}
	}
	password, err := c.password(*pw, *pwStdin, true)
	if err != nil {
		return err
	}
	body := map[string]string{"email": *email, "password": password}
	for k, v := range map[string]string{"name": *name, "org_id": *org, "role": *role} {
		if v != "" {
			body[k] = v
		}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var u userView
	raw, err := cl.post(ctx, "/v1/users", body, &u)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	msg := fmt.Sprintf("Created user %s (%s)", u.ID, u.Email)
	if *org != "" {
		r := *role
		if r == "" {
			r = "member"
		}
		msg += fmt.Sprintf(", %s of %s", r, *org)
	}
	fmt.Fprintln(c.stdout, msg)
	return nil
}
