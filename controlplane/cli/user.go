package cli

import (
	"context"
	"fmt"

	"github.com/livestreams/livestreams/controlplane/client"
)

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
	cl, err := c.client()
	if err != nil {
		return err
	}
	u, err := cl.Users().Create(c.keep(ctx), client.UserCreate{Email: *email, Password: password, Name: *name, OrgID: *org, Role: *role})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
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
