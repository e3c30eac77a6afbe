package cli

import (
	"context"
	"fmt"

	"github.com/livestreams/livestreams/controlplane/client"
)

const keyShownOnce = "This is the only time the key is shown: store it now (e.g. export LIVESTREAMS_TOKEN=…)."

func apikeyCreate(ctx context.Context, e *env, args []string) error {
	c := e.command("apikey create", "", `
Create an API key in the org and print it. The key is shown only this once.
With --quiet the key alone goes to stdout, for scripts. A key cannot
outrank the user or key that creates it.`)
	name := c.fs.String("name", "", "what the key is for (required)")
	role := c.fs.String("role", "", "role of the key in the org: owner, admin, member or viewer (server default: member)")
	clusterAdmin := c.fs.Bool("cluster-admin", false, "let the key use the cluster routes (needs a cluster admin)")
	quiet := c.fs.Bool("quiet", false, "print only the key")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *name == "" {
		return c.usage("--name is required")
	}
	if *role != "" && !validRole(*role) {
		return c.usage("--role must be owner, admin, member or viewer, not %q", *role)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	k, err := createAPIKey(c.keep(ctx), cl, *name, *role, *clusterAdmin)
	if err != nil {
		return err
	}
	switch {
	case c.g.json:
		return c.printAnswer()
	case *quiet:
		fmt.Fprintln(c.stdout, k.Key)
		return nil
	}
	if err := fields(c.stdout, [][2]string{
		{"ID", k.ID},
		{"Name", k.Name},
		{"Role", k.Role},
		{"Org", k.OrgID},
		{"Cluster admin", yesno(k.ClusterAdmin)},
		{"Key", k.Key},
	}); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "\n"+keyShownOnce)
	return nil
}

func createAPIKey(ctx context.Context, cl *client.Client, name, role string, clusterAdmin bool) (client.APIKeyCreated, error) {
	k, err := cl.APIKeys().Create(ctx, client.APIKeyCreate{Name: name, Role: role, ClusterAdmin: clusterAdmin})
	if err == nil && k.Key == "" {
		err = fmt.Errorf("POST /v1/api-keys: answer has no key")
	}
	return k, err
}

func apikeyList(ctx context.Context, e *env, args []string) error {
	c := e.command("apikey list", "", "List the API keys of the org (their prefixes, never the keys).")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.APIKey, error) { return cl.APIKeys().List(ctx) }
	return listTable(ctx, c, list, "No API keys.", []string{"ID", "NAME", "PREFIX", "ROLE", "CLUSTER ADMIN", "CREATED BY", "CREATED", "LAST USED", "REVOKED"}, func(k client.APIKey) []string {
		return []string{k.ID, k.Name, orDash(k.Prefix), k.Role, yesno(k.ClusterAdmin), orDash(k.CreatedBy),
			c.ago(k.CreatedAt), c.ago(at(k.LastUsedAt)), c.ago(at(k.RevokedAt))}
	})
}

func apikeyRevoke(ctx context.Context, e *env, args []string) error {
	c := e.command("apikey revoke", "ID", "Revoke an API key: requests made with it are refused from now on.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.APIKeys().Revoke(ctx, c.pos[0]) }, "Revoked API key "+c.pos[0])
}
