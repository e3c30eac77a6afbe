package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/server"
)

// DevEmail is the demo owner's login.
const DevEmail = "dev@livestreams.local"

// setup creates (once) the demo owner, org, API key, stream and edge join
// token through the API, and reuses them on later starts. anon is a client
// without a token.
func setup(ctx context.Context, anon *client.Client, srv *server.Server, credPath string) (devCredentials, error) {
	if c, ok := loadCreds(credPath); ok {
		if _, err := anon.As(c.APIKey, "").Auth().Me(ctx); err == nil {
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
	signup, err := anon.Auth().Signup(ctx, client.Signup{Email: c.Email, Password: c.Password, Name: "Dev", OrgName: "Dev", SetupToken: setupToken})
	if err != nil {
		return c, fmt.Errorf("sign up: %w", err)
	}
	token := signup.Token
	if token == "" {
		login, err := anon.Auth().Login(ctx, client.Login{Email: c.Email, Password: c.Password})
		if err != nil {
			return c, fmt.Errorf("log in: %w", err)
		}
		token = login.Token
	}
	key, err := anon.As(token, signup.Org.ID).APIKeys().Create(ctx, client.APIKeyCreate{Name: "dev", Role: "owner", ClusterAdmin: true})
	if err != nil {
		return c, fmt.Errorf("create the API key: %w", err)
	}
	c.APIKey, c.OrgID = key.Key, key.OrgID
	stream, err := anon.As(c.APIKey, "").Streams().Create(ctx, client.StreamCreate{Name: "demo"})
	if err != nil {
		return c, fmt.Errorf("create the demo stream: %w", err)
	}
	c.StreamID = stream.ID
	if c.JoinToken, err = srv.CreateJoinToken(ctx, "dev edge"); err != nil {
		return c, err
	}
	return c, saveCreds(credPath, c)
}
