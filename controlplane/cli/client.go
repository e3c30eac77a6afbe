package cli

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/livestreams/livestreams/controlplane/client"
)

// client builds the API client from the global flags and the environment.
// Every node serves the whole API (followers forward writes), so the
// client tries the next address when one cannot be reached.
func (c *cmd) client() (*client.Client, error) {
	addr := c.g.addr
	if !c.g.addrSet {
		addr = c.getenv("LIVESTREAMS_ADDR")
	}
	if strings.TrimSpace(addr) == "" {
		addr = defaultAddr
	}
	addrs, err := parseAddrs(addr)
	if err != nil {
		return nil, c.usage("--addr: %v", err)
	}
	// A command that defines its own --token or --org (bootstrap, user
	// create) means something else by it and takes nothing from the
	// environment either.
	token := c.g.token
	if c.globals["token"] && !c.g.tokenSet {
		token = c.getenv("LIVESTREAMS_TOKEN")
	}
	org := c.g.org
	if c.globals["org"] && org == "" {
		org = c.getenv("LIVESTREAMS_ORG")
	}
	token = strings.TrimSpace(token)
	c.tokenSent = token != ""
	return client.New(client.Config{Addrs: addrs, Token: token, Org: strings.TrimSpace(org),
		Consistent: c.g.consistent, Timeout: c.timeout, HTTPClient: c.httpc, UserAgent: "livestreams-cli"})
}

// as is cl acting with another token in org.
func (c *cmd) as(cl *client.Client, token, org string) *client.Client {
	c.tokenSent = token != ""
	return cl.As(token, org)
}

// keep returns ctx under which a call keeps its answer for --json, which
// prints the API's answer as it came.
func (c *cmd) keep(ctx context.Context) context.Context {
	return client.KeepAnswer(ctx, &c.answer)
}

// printAnswer prints the answer of the last call made under keep.
func (c *cmd) printAnswer() error { return c.printJSON(c.answer) }

// explain words err for the command line: where to set the address when
// no node could be reached, where to set the token when none was sent.
func (e *env) explain(err error) string {
	msg := err.Error()
	var ce *client.ConnError
	if errors.As(err, &ce) {
		msg = strings.Replace(msg, ce.Error(), "cannot reach the control plane: "+ce.Err.Error()+
			"; is the control plane running at "+strings.Join(ce.Addrs, ", ")+"? set LIVESTREAMS_ADDR or --addr", 1)
	}
	var ae *client.Error
	// A login's 401 is about the password, not about a missing token.
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && !e.tokenSent && !strings.HasPrefix(ae.Path, "/v1/auth/") {
		msg = strings.Replace(msg, ae.Error(), ae.Error()+"; set LIVESTREAMS_TOKEN or --token", 1)
	}
	return msg
}
