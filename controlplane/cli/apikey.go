package cli

import (
	"context"
	"fmt"
)

// apiKeyView is an API key as listed. It has no key field: the key itself
// is in the create answer only.
type apiKeyView struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Prefix       string    `json:"prefix"`
	Role         string    `json:"role"`
	OrgID        string    `json:"org_id"`
	ClusterAdmin bool      `json:"cluster_admin"`
	CreatedAt    timestamp `json:"created_at"`
	LastUsedAt   timestamp `json:"last_used_at"`
	RevokedAt    timestamp `json:"revoked_at"`
}

// apiKeyCreated is the create answer: the view plus the key, shown once.
type apiKeyCreated struct {
	apiKeyView
	Key string `json:"key"`
}

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
	k, raw, err := createAPIKey(ctx, cl, *name, *role, *clusterAdmin)
	if err != nil {
		return err
	}
	switch {
	case c.g.json:
		return c.printJSON(raw)
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

func createAPIKey(ctx context.Context, cl *client, name, role string, clusterAdmin bool) (apiKeyCreated, []byte, error) {
	body := map[string]any{"name": name}
	if role != "" {
		body["role"] = role
	}
	if clusterAdmin {
		body["cluster_admin"] = true
	}
	var k apiKeyCreated
	raw, err := cl.post(ctx, "/v1/api-keys", body, &k)
	if err == nil && k.Key == "" {
		err = fmt.Errorf("POST /v1/api-keys: answer has no key")
	}
	return k, raw, err
}

func apikeyList(ctx context.Context, e *env, args []string) error {
	c := e.command("apikey list", "", "List the API keys of the org (their prefixes, never the keys).")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	return listTable(ctx, c, "/v1/api-keys", "No API keys.", []string{"ID", "NAME", "PREFIX", "ROLE", "CLUSTER ADMIN", "CREATED", "LAST USED", "REVOKED"}, func(k apiKeyView) []string {
		return []string{k.ID, k.Name, orDash(k.Prefix), k.Role, yesno(k.ClusterAdmin),
			c.ago(k.CreatedAt), c.ago(k.LastUsedAt), c.ago(k.RevokedAt)}
	})
}

func apikeyRevoke(ctx context.Context, e *env, args []string) error {
	c := e.command("apikey revoke", "ID", "Revoke an API key: requests made with it are refused from now on.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, pathf("/v1/api-keys/%s", c.pos[0]), "Revoked API key "+c.pos[0])
}
