package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/livestreams/livestreams/controlplane/server"
)

// DevEmail is the demo owner's login.
const DevEmail = "dev@livestreams.local"

// setup creates (once) the demo owner, org, API key, stream and edge join
// token through the API, and reuses them on later starts.
func setup(ctx context.Context, api *client, srv *server.Server, credPath string) (devCredentials, error) {
	if c, ok := loadCreds(credPath); ok {
		authed := &client{base: api.base, token: c.APIKey}
		if _, err := authed.do(ctx, http.MethodGet, "/v1/me", nil, nil); err == nil {
			return c, nil
		}
	}
	setupToken := srv.SetupToken()
	if setupToken == "" {
		return devCredentials{}, errors.New("this data dir already has an owner but no dev credentials; use another --data-dir or remove it")
	}
	pw := make([]byte, 12)
	rand.Read(pw)
	c := devCredentials{Email: DevEmail, Password: hex.EncodeToString(pw)}
	if _, err := api.do(ctx, http.MethodPost, "/v1/auth/signup", map[string]any{
		"email": c.Email, "password": c.Password, "name": "Dev", "org_name": "Dev", "setup_token": setupToken}, nil); err != nil {
		return c, err
	}
	var login struct {
		Token string `json:"token"`
	}
	if _, err := api.do(ctx, http.MethodPost, "/v1/auth/login", map[string]any{"email": c.Email, "password": c.Password}, &login); err != nil {
		return c, err
	}
	user := &client{base: api.base, token: login.Token}
	var key map[string]any
	if _, err := user.do(ctx, http.MethodPost, "/v1/api-keys", map[string]any{"name": "dev", "role": "owner", "cluster_admin": true}, &key); err != nil {
		return c, err
	}
	c.APIKey = firstString(key, "key", "api_key", "token", "secret")
	c.OrgID = firstString(key, "org_id")
	if c.APIKey == "" {
		return c, fmt.Errorf("api key create returned no key: %v", key)
	}
	owner := &client{base: api.base, token: c.APIKey}
	var stream map[string]any
	if _, err := owner.do(ctx, http.MethodPost, "/v1/streams", map[string]any{"name": "demo"}, &stream); err != nil {
		return c, err
	}
	c.StreamID = firstString(stream, "id")
	jt, err := srv.CreateJoinToken(ctx, "dev edge")
	if err != nil {
		return c, err
	}
	c.JoinToken = jt
	return c, saveCreds(credPath, c)
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if v, ok := m[k].(string); ok && v != "" {
			return v
		}
	}
	return ""
}
