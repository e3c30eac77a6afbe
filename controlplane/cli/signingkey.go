package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

func signingKeyCreate(ctx context.Context, e *env, args []string) error {
	c := e.command("signing-key create", "", `
Create a key pair for signed playback tokens and print it. The private key
is printed once. By default the control plane keeps it too, so that
'livestreams signing-key token' can mint tokens; with --no-keep-private it
is not stored, and your own backend signs the tokens.`)
	noKeep := c.fs.Bool("no-keep-private", false, "do not store the private key on the control plane")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	keep := !*noKeep
	k, err := cl.SigningKeys().Create(c.keep(ctx), client.SigningKeyCreate{KeepPrivate: &keep})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	fmt.Fprintf(c.stdout, "ID: %s\n\nPublic key:\n%s\n", k.ID, pemBlock(k.PublicPEM))
	if k.PrivatePEM != "" {
		fmt.Fprintf(c.stdout, "\nPrivate key (shown only this once):\n%s\n", pemBlock(k.PrivatePEM))
	}
	return nil
}

func pemBlock(s string) string { return strings.TrimRight(s, "\n") }

func signingKeyList(ctx context.Context, e *env, args []string) error {
	c := e.command("signing-key list", "", "List the signing keys of the org.")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.SigningKey, error) {
		return cl.SigningKeys().List(ctx)
	}
	return listTable(ctx, c, list, "No signing keys.", []string{"ID", "CAN MINT", "CREATED", "REVOKED"}, func(k client.SigningKey) []string {
		return []string{k.ID, yesno(k.CanMint), c.ago(k.CreatedAt), c.ago(at(k.RevokedAt))}
	})
}

func signingKeyRevoke(ctx context.Context, e *env, args []string) error {
	c := e.command("signing-key revoke", "ID", "Revoke a signing key: tokens it signed stop being accepted.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.SigningKeys().Revoke(ctx, c.pos[0]) }, "Revoked signing key "+c.pos[0])
}

func signingKeyToken(ctx context.Context, e *env, args []string) error {
	c := e.command("signing-key token", "KEY_ID PLAYBACK_ID", `
Mint a playback token for a stream with a signed playback policy and print
it alone on stdout. Append it to the playback URL as ?token=…. Needs a key
whose private half the control plane kept.`)
	ttl := c.fs.Duration("ttl", time.Hour, "how long the token is valid, e.g. 30m, 24h")
	if err := c.parse(args, 2, 2); err != nil {
		return err
	}
	if *ttl < time.Second || *ttl%time.Second != 0 {
		return c.usage("--ttl must be a whole number of seconds, at least 1s, not %s", *ttl)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	secs := int64(*ttl / time.Second)
	t, err := cl.SigningKeys().Mint(c.keep(ctx), c.pos[0], client.TokenMint{PlaybackID: c.pos[1], TTLSeconds: &secs})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	if t.Token == "" {
		return fmt.Errorf("POST /v1/signing-keys/…/tokens: answer has no token")
	}
	fmt.Fprintln(c.stdout, t.Token)
	return nil
}
