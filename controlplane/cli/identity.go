package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/livestreams/livestreams/controlplane/client"
)

// clusterJoinToken dispatches `cluster join-token [create|list|revoke]`;
// without a verb it creates, as it always did.
func clusterJoinToken(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "create":
			return joinTokenCreate(ctx, e, args[1:])
		case "list":
			return joinTokenList(ctx, e, args[1:])
		case "revoke":
			return joinTokenRevoke(ctx, e, args[1:])
		}
	}
	return joinTokenCreate(ctx, e, args)
}

func joinTokenCreate(ctx context.Context, e *env, args []string) error {
	c := e.command("cluster join-token [create]", "", `
Create a single-use edge join token and print it alone on stdout, for
scripts. It joins one edge, once, before it expires (--ttl, one hour by
default); the edge then authenticates with the certificate it got. Give it
to the edge in a 0600 file or the environment, not on its command line:
  livestreams cluster join-token > /etc/livestreams/join-token
  livestreams edge --join-token-file /etc/livestreams/join-token …
  LIVESTREAMS_JOIN_TOKEN=$(livestreams cluster join-token) livestreams edge …`)
	desc := c.fs.String("description", "", "what the token is for, kept with it")
	ttl := c.fs.String("ttl", "", "how long the token lasts, e.g. 15m or 24h (default 1h, at most 168h)")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	tok, err := cl.Cluster().CreateJoinToken(c.keep(ctx), client.JoinTokenCreate{Description: *desc, TTL: *ttl})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	if tok.Token == "" {
		return fmt.Errorf("POST /v1/cluster/join-tokens: answer has no token")
	}
	fmt.Fprintln(c.stdout, tok.Token)
	return nil
}

func joinTokenList(ctx context.Context, e *env, args []string) error {
	c := e.command("cluster join-token list", "", `
List the edge join tokens (never their secrets): state (usable, used,
expired, revoked), which edge used each, and when it expires.`)
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.JoinTokenInfo, error) {
		return cl.Cluster().JoinTokens(ctx)
	}
	return listTable(ctx, c, list, "No join tokens.", []string{"ID", "STATE", "DESCRIPTION", "CREATED", "EXPIRES", "USED BY"}, func(t client.JoinTokenInfo) []string {
		return []string{t.ID, t.State, orDash(t.Description), c.ago(t.CreatedAt), c.ago(t.ExpiresAt), orDash(t.UsedBy)}
	})
}

func joinTokenRevoke(ctx context.Context, e *env, args []string) error {
	c := e.command("cluster join-token revoke", "ID", "Revoke a join token: no edge can join with it any more.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.Cluster().RevokeJoinToken(ctx, c.pos[0]) },
		"Revoked join token "+c.pos[0])
}

func nodeRemove(ctx context.Context, e *env, args []string) error {
	c := e.command("node remove", "ID", `
Remove an edge: revoke the certificate that owns its node id, cut its
connection to the control plane, end its live sessions and stop routing
to it. To come back it needs a new join token (and its node id is free for
another edge to join with).`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.Nodes().Remove(ctx, c.pos[0]) },
		"Removed edge "+c.pos[0]+": its certificate is revoked.")
}

// clusterCA dispatches `cluster ca [status|rotate|finish]`.
func clusterCA(ctx context.Context, e *env, args []string) error {
	verb := "status"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	c := e.command("cluster ca "+verb, "", `
Show or rotate the cluster CA, which signs the control plane's and the
edges' certificates.
  livestreams cluster ca            the CAs and the edges a rotation waits for
  livestreams cluster ca rotate     a new CA; the old one stays trusted, edges
                                    learn the new one and renew from it when
                                    they next connect (at once if connected)
  livestreams cluster ca finish     stop trusting the old CA once no edge holds
                                    a certificate from it (--force: now)`)
	expect := c.fs.String("expect-current", "", "rotate: only if this fingerprint is still the current CA")
	force := c.fs.Bool("force", false, "finish: drop the old CA even while edges still use it (they must join again)")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var st client.CAStatus
	switch verb {
	case "status":
		st, err = cl.Cluster().CA(c.keep(ctx))
	case "rotate":
		st, err = cl.Cluster().RotateCA(c.keep(ctx), client.CARotate{ExpectCurrent: *expect})
	case "finish":
		st, err = cl.Cluster().FinishCARotation(c.keep(ctx), client.CAFinish{Force: *force})
	default:
		return c.usage("unknown verb %q: want rotate or finish (or none, to show)", verb)
	}
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	rows := [][]string{}
	for _, ca := range st.CAs {
		rows = append(rows, []string{ca.Role, ca.Fingerprint, ca.Subject, c.ago(ca.NotAfter)})
	}
	if err := table(c.stdout, []string{"ROLE", "FINGERPRINT (SHA-256)", "SUBJECT", "EXPIRES"}, rows); err != nil {
		return err
	}
	if st.Rotating {
		if len(st.Pending) == 0 {
			fmt.Fprintln(c.stdout, "Rotation under way: every edge renewed; finish it with `livestreams cluster ca finish`.")
		} else {
			fmt.Fprintf(c.stdout, "Rotation under way: %d edge(s) still hold a certificate from the old CA: %s\n", len(st.Pending), strings.Join(st.Pending, ", "))
		}
	}
	return nil
}
