package oauth

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/livestreams/livestreams/shared/config"
)

// Flags are the control plane's OAuth settings: the apps' credentials
// (the secrets also from a file, or the environment as every flag) and
// the providers' base URLs, which tests point at a loopback provider.
type Flags struct {
	GoogleClientID, GoogleClientSecret, GoogleSecretFile string
	GoogleAuthURL, GoogleTokenURL, GoogleRevokeURL       string
	YouTubeAPIURL                                        string
	TwitchClientID, TwitchClientSecret, TwitchSecretFile string
	TwitchAuthURL, TwitchAPIURL, TwitchIngest            string
}

// Register adds the --oauth-* flags, --youtube-api-url, --twitch-api-url
// and --twitch-ingest-url to fs. The public base URL of the redirect is
// the command's own --public-url.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.GoogleClientID, "oauth-google-client-id", "", "client id of the Google OAuth app for linking YouTube accounts (empty: YouTube linking off)")
	fs.StringVar(&f.GoogleClientSecret, "oauth-google-client-secret", "", "client secret of the Google OAuth app")
	config.PathVar(fs, &f.GoogleSecretFile, "oauth-google-client-secret-file", "", "file holding the Google client secret (first line), instead of --oauth-google-client-secret")
	fs.StringVar(&f.GoogleAuthURL, "oauth-google-auth-url", GoogleAuthURL, "Google's authorization endpoint")
	fs.StringVar(&f.GoogleTokenURL, "oauth-google-token-url", GoogleTokenURL, "Google's token endpoint")
	fs.StringVar(&f.GoogleRevokeURL, "oauth-google-revoke-url", GoogleRevokeURL, "Google's token revocation endpoint")
	fs.StringVar(&f.YouTubeAPIURL, "youtube-api-url", YouTubeAPIURL, "base URL of the YouTube Data API v3")
	fs.StringVar(&f.TwitchClientID, "oauth-twitch-client-id", "", "client id of the Twitch app for linking Twitch accounts (empty: Twitch linking off)")
	fs.StringVar(&f.TwitchClientSecret, "oauth-twitch-client-secret", "", "client secret of the Twitch app")
	config.PathVar(fs, &f.TwitchSecretFile, "oauth-twitch-client-secret-file", "", "file holding the Twitch client secret (first line), instead of --oauth-twitch-client-secret")
	fs.StringVar(&f.TwitchAuthURL, "oauth-twitch-auth-url", TwitchAuthBase, "base URL of Twitch's OAuth server (/oauth2/authorize, /oauth2/token, /oauth2/revoke under it)")
	fs.StringVar(&f.TwitchAPIURL, "twitch-api-url", TwitchAPIURL, "base URL of the Twitch Helix API")
	fs.StringVar(&f.TwitchIngest, "twitch-ingest-url", TwitchIngestURL, "RTMP(S) ingest server Twitch targets publish to (see https://ingest.twitch.tv/ingests)")
}

// Config turns the flags into a service configuration for the API at
// publicURL, reading the secret files; errors name the flag.
func (f *Flags) Config(publicURL string) (Config, error) {
	gs, err := secret("oauth-google-client-secret", f.GoogleClientSecret, f.GoogleSecretFile)
	if err != nil {
		return Config{}, err
	}
	ts, err := secret("oauth-twitch-client-secret", f.TwitchClientSecret, f.TwitchSecretFile)
	if err != nil {
		return Config{}, err
	}
	if f.GoogleClientID != "" && gs == "" {
		return Config{}, config.Fail("oauth-google-client-secret", "required with --oauth-google-client-id")
	}
	if f.TwitchClientID != "" && ts == "" {
		return Config{}, config.Fail("oauth-twitch-client-secret", "required with --oauth-twitch-client-id")
	}
	twitchAuth := strings.TrimRight(f.TwitchAuthURL, "/")
	return Config{
		PublicURL: publicURL,
		YouTube: App{ClientID: f.GoogleClientID, ClientSecret: gs, AuthURL: f.GoogleAuthURL, TokenURL: f.GoogleTokenURL,
			RevokeURL: f.GoogleRevokeURL, APIURL: f.YouTubeAPIURL},
		Twitch: App{ClientID: f.TwitchClientID, ClientSecret: ts, AuthURL: twitchAuth + "/oauth2/authorize",
			TokenURL: twitchAuth + "/oauth2/token", RevokeURL: twitchAuth + "/oauth2/revoke", APIURL: f.TwitchAPIURL},
		TwitchIngest: f.TwitchIngest,
	}, nil
}

// Enabled reports whether any provider has an app.
func (f *Flags) Enabled() bool { return f.GoogleClientID != "" || f.TwitchClientID != "" }

func secret(name, value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", config.Fail(name+"-file", "give the secret or its file, not both")
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", config.Fail(name+"-file", err.Error())
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", config.Fail(name+"-file", fmt.Sprintf("%s is empty", file))
	}
	return line, nil
}
