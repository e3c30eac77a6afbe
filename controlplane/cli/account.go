package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/livestreams/livestreams/controlplane/client"
)

func accountLink(ctx context.Context, e *env, args []string) error {
	c := e.command("account link", "youtube|twitch", `
Start linking a YouTube or Twitch account to the org: prints the provider's
consent page. Open it in a browser signed in to that account and approve;
the provider sends the browser back to the control plane, which links the
account (the link works once, for 10 minutes). Then make restream targets
from it without copying keys:
  livestreams account target STREAM ACCOUNT_ID`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	provider := strings.ToLower(c.pos[0])
	if provider != "youtube" && provider != "twitch" {
		return c.usage("the provider is youtube or twitch, not %q", c.pos[0])
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	s, err := cl.LinkedAccounts().Start(c.keep(ctx), provider)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	fmt.Fprintf(c.stdout, "Open this link in a browser signed in to the %s account (valid until %s):\n\n%s\n",
		provider, c.when(s.ExpiresAt), s.AuthorizationURL)
	return nil
}

func accountList(ctx context.Context, e *env, args []string) error {
	c := e.command("account list", "", "List the org's linked YouTube and Twitch accounts.")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.LinkedAccount, error) {
		return cl.LinkedAccounts().List(ctx)
	}
	return listTable(ctx, c, list, "No linked accounts: link one with 'livestreams account link youtube|twitch'.",
		[]string{"ID", "PROVIDER", "ACCOUNT", "NAME", "LINKED"}, func(a client.LinkedAccount) []string {
			return []string{a.ID, a.Provider, a.AccountID, orDash(a.AccountName), c.ago(a.CreatedAt)}
		})
}

func accountUnlink(ctx context.Context, e *env, args []string) error {
	c := e.command("account unlink", "ID", `
Unlink an account: its tokens are revoked at the provider, then forgotten.
Restream targets made from it keep their key.`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.LinkedAccounts().Unlink(ctx, c.pos[0]) }, "Unlinked account "+c.pos[0])
}

func accountTarget(ctx context.Context, e *env, args []string) error {
	c := e.command("account target", "STREAM ACCOUNT_ID", `
Add a restream target to a stream from a linked account: the provider gives
the ingest URL and stream key (YouTube: a new stream bound to a private
broadcast that starts and stops with it; Twitch: the channel's key). The
key is kept sealed by the control plane and never printed.`)
	name := c.fs.String("name", "", "the target's name (default: the provider and account name)")
	disabled := c.fs.Bool("disabled", false, "add it switched off")
	if err := c.parse(args, 2, 2); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	enabled := !*disabled
	t, err := cl.RestreamTargets(c.pos[0]).FromAccount(c.keep(ctx), client.RestreamFromAccount{LinkedAccountID: c.pos[1], Name: *name, Enabled: &enabled})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printRestreamTarget(&t)
}
