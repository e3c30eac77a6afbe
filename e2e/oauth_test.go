package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/controlplane/oauth/oauthtest"
)

// TestAccountLinking runs `livestreams control` with the operator's OAuth
// apps (secrets from files) pointed at the loopback provider, and an
// operator's CLI: `account link` prints the consent link, the browser
// follows the redirect chain, `account target` makes a restream target
// from the account without the key ever printed, `account unlink`
// revokes at the provider. Neither the control plane's log nor the CLI's
// output holds a token, a stream key or an app secret.
func TestAccountLinking(t *testing.T) {
	t.Parallel()
	fake := oauthtest.Start(t)
	dir := t.TempDir()
	secretFile := func(name, secret string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f := startFleet(t, fleetOptions{Probe: "500ms", ControlArgs: []string{
		"--oauth-google-client-id", oauthtest.GoogleClientID,
		"--oauth-google-client-secret-file", secretFile("google", oauthtest.GoogleClientSecret),
		"--oauth-google-auth-url", fake.GoogleAuthURL(), "--oauth-google-token-url", fake.GoogleTokenURL(),
		"--oauth-google-revoke-url", fake.GoogleRevokeURL(), "--youtube-api-url", fake.YouTubeAPIURL(),
		"--oauth-twitch-client-id", oauthtest.TwitchClientID,
		"--oauth-twitch-client-secret-file", secretFile("twitch", oauthtest.TwitchClientSecret),
		"--oauth-twitch-auth-url", fake.TwitchAuthURL(), "--twitch-api-url", fake.TwitchAPIURL(),
		"--log-level", "debug",
	}})

	var outputs []string
	cli := func(args ...string) string {
		t.Helper()
		out := mustCLI(t, f.env, args...)
		outputs = append(outputs, out)
		return out
	}
	link := regexp.MustCompile(`(?m)^http\S+$`).FindString(cli("account", "link", "youtube"))
	if !strings.HasPrefix(link, fake.GoogleAuthURL()+"?") {
		t.Fatalf("account link printed no consent link")
	}
	if code, body := httpGet(t, link); code != 200 || !strings.Contains(string(body), oauthtest.ChannelID) {
		t.Fatalf("the redirect chain ended with %d %s", code, body)
	}
	list := cli("account", "list")
	m := regexp.MustCompile(`lac_[a-z2-7]+`).FindString(list)
	if m == "" || !strings.Contains(list, oauthtest.ChannelID) {
		t.Fatalf("account list:\n%s", list)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := f.client.Streams().Create(ctx, client.StreamCreate{Name: "everywhere"})
	if err != nil {
		t.Fatal(err)
	}
	target := cli("account", "target", s.ID, m, "--name", "YouTube")
	if !strings.Contains(target, oauthtest.YouTubeIngest) {
		t.Fatalf("account target:\n%s", target)
	}
	if len(fake.Bindings()) != 1 {
		t.Fatalf("bindings %v", fake.Bindings())
	}
	cli("account", "unlink", m)
	if n := fake.RevokedCount(oauth.YouTube); n != 1 {
		t.Fatalf("%d tokens revoked", n)
	}

	key := fake.StreamKey(oauth.YouTube)
	logs := f.control.Output() + strings.Join(outputs, "")
	for _, secret := range []string{key, "access-", "refresh-", oauthtest.GoogleClientSecret, oauthtest.TwitchClientSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the control plane's log or the CLI's output holds %q", secret)
		}
	}
}
