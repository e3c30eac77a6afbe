package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/livestreams/livestreams/controlplane/client"
)

func bootstrap(ctx context.Context, e *env, args []string) error {
	c := e.command("bootstrap", "", `
Set up a new cluster: create its first user with the one-time setup token
the control plane printed at start, as owner of a new org and cluster admin;
then create a cluster-admin API key for that user and print, on stdout,

  export LIVESTREAMS_ADDR=… LIVESTREAMS_TOKEN=lsk_…

so that 'eval "$(livestreams bootstrap …)"' makes the other commands work at
once. Without --password or --password-stdin a password is generated and
printed on stderr.`)
	setup := c.fs.String("token", "", "the setup token printed by the control plane, lst_… (required)")
	email := c.fs.String("email", "", "email of the first user (required)")
	pw := c.fs.String("password", "", "password of the first user")
	pwStdin := c.fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	orgName := c.fs.String("org", "", "name of the first org")
	name := c.fs.String("name", "", "display name of the first user")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *setup == "" {
		return c.usage("--token is required: the setup token printed by the control plane at its first start")
	}
	if *email == "" {
		return c.usage("--email is required")
	}
	password, err := c.password(*pw, *pwStdin, false)
	if err != nil {
		return err
	}
	generated := password == ""
	if generated {
		password = rand.Text()
	}
	cl, err := c.client()
	if err != nil {
		return err
	}

	s, err := cl.Auth().Signup(ctx, client.Signup{Email: *email, Password: password, SetupToken: *setup, Name: *name, OrgName: *orgName})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "Created user %s (%s), owner of org %q (%s) and cluster admin.\n", s.User.Email, s.User.ID, s.Org.Name, s.Org.ID)
	if generated {
		fmt.Fprintf(c.stderr, "Generated password for %s: %s\nStore it now: it is not shown again.\n", *email, password)
	}
	failed := func(err error) error {
		return fmt.Errorf("the user exists, but %w; log in with 'livestreams login --email %s' and create a key with 'livestreams apikey create --name admin --role owner --cluster-admin'", err, *email)
	}
	jwt := s.Token
	if jwt == "" {
		l, err := cl.Auth().Login(ctx, client.Login{Email: *email, Password: password})
		if err != nil {
			return failed(fmt.Errorf("login failed: %w", err))
		}
		jwt = l.Token
	}
	cl = c.as(cl, jwt, s.Org.ID)
	var raw []byte
	k, err := createAPIKey(client.KeepAnswer(ctx, &raw), cl, "admin", "owner", true)
	if err != nil {
		return failed(fmt.Errorf("creating the API key failed: %w", err))
	}
	addr := strings.Join(cl.Addrs(), ",")
	if c.g.json {
		return c.printValue(map[string]any{"addr": addr, "user": s.User, "org": s.Org, "api_key": json.RawMessage(raw)})
	}
	fmt.Fprintf(c.stderr, "Created cluster-admin API key %s (%s). %s\n", k.Name, k.ID, keyShownOnce)
	fmt.Fprintf(c.stdout, "export LIVESTREAMS_ADDR=%s LIVESTREAMS_TOKEN=%s\n", shellQuote(addr), shellQuote(k.Key))
	return nil
}

func login(ctx context.Context, e *env, args []string) error {
	c := e.command("login", "", `
Log in with email and password and print the session token (a JWT, valid
15 minutes) alone on stdout, for scripts:
  LIVESTREAMS_TOKEN=$(livestreams login --email me@example.com --password-stdin <pw.txt)`)
	email := c.fs.String("email", "", "email (required)")
	pw := c.fs.String("password", "", "password")
	pwStdin := c.fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *email == "" {
		return c.usage("--email is required")
	}
	password, err := c.password(*pw, *pwStdin, true)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	cl = c.as(cl, "", "") // a stale LIVESTREAMS_TOKEN has no business on a login
	l, err := cl.Auth().Login(c.keep(ctx), client.Login{Email: *email, Password: password})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	if l.Token == "" {
		return fmt.Errorf("POST /v1/auth/login: answer has no token")
	}
	fmt.Fprintln(c.stdout, l.Token)
	return nil
}

// shellQuote quotes s for a POSIX shell unless it is plainly safe.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/,@+=%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
