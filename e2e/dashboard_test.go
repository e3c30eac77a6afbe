package e2e

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/oauth/oauthtest"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// dashboardResult is what browser/dashboard.mjs reports of its run.
type dashboardResult struct {
	Steps        map[string]int64
	StreamID     string
	IngestFields []string
	Preview      playedFrame
	Timeline     []string
	Restream     json.RawMessage
	Linked       struct {
		Callback, Account string
		Targets           []string
	}
	UploadID, Clip  string
	APIKeyPrefix    string
	Snippet         bool
	Webhook         string
	RecordingID     string
	RecordingPlay   playedFrame
	Captions        []string
	CaptionStates   []string
	TextTracks      []string
	Storyboard      string
	OtherStreams    []string
	OtherStreamPage string
	OtherAssets     int
	Screenshots     []string
	Axe             map[string]struct {
		Violations int
		Serious    []struct {
			ID, Impact, Help string
			Nodes            []string
		}
	}
}

type playedFrame struct {
	CurrentTime, LumaMean, LumaVariance float64
	Width, Height                       int
}

// TestDashboard drives the creators' dashboard in Debian chromium with a
// fake camera against `livestreams dev`, as a creator would: sign up,
// create a stream with automatic captions, read its ingest settings, go
// live from the browser over the same-origin WHIP proxy, watch the preview
// play a frame that is not black, see the activity timeline fill, restream
// to dev's own RTMP ingest and switch the target off, stop, upload an MP4
// with the progress bar to 100 % until the asset is ready, cut a clip of
// it and delete the clip, create an API key, a signing key (its snippet
// and a token minted by the API) and an invitation, and a webhook whose
// test delivery shows its response code in the log, play the recording
// with its captions track and hover its storyboard; a second org's user
// sees none of the first org's streams or assets. Every main screen is captured at desktop and
// phone size (the directory is in the log; $DASHBOARD_SCREENSHOTS keeps
// them) and axe-core finds no serious or critical violation on any.
func TestDashboard(t *testing.T) {
	t.Parallel()
	mediatest.RequireFFmpeg(t)
	chromium := requireChromium(t)
	if _, err := os.Stat("browser/node_modules/axe-core"); err != nil {
		testutil.Missing(t, "e2e/browser is not installed (npm ci --prefix e2e/browser; make deps-test)")
	}
	mp4 := mediatest.File(t, mediatest.Spec{Width: 640, Height: 360, Seconds: 6, GOP: 30})

	var hooks atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			hooks.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(receiver.Close)

	// A fake YouTube and Twitch on loopback, for linking an account.
	fake := oauthtest.Start(t)
	oauthArgs := []string{
		"--oauth-google-client-id", oauthtest.GoogleClientID, "--oauth-google-client-secret", oauthtest.GoogleClientSecret,
		"--oauth-google-auth-url", fake.GoogleAuthURL(), "--oauth-google-token-url", fake.GoogleTokenURL(),
		"--oauth-google-revoke-url", fake.GoogleRevokeURL(), "--youtube-api-url", fake.YouTubeAPIURL(),
	}
	p := startProc(t, procSpec{Name: "livestreams dev", Dir: t.TempDir(),
		Args: append(append([]string{"dev", "--data-dir", "dev"}, devPorts(t)...), oauthArgs...)})
	d := waitDevOutput(t, p, 90*time.Second)
	// The restream target sends to dev's own demo stream.
	cut := strings.LastIndex(d.RTMPURL, "/")
	out := cmp.Or(os.Getenv("DASHBOARD_SCREENSHOTS"), t.TempDir())
	t.Logf("dashboard screenshots in %s", out)

	start := time.Now()
	b := startProc(t, procSpec{Name: "chromium (dashboard.mjs)", Bin: "node", Args: []string{"dashboard.mjs"}, Dir: "browser",
		Env: []string{"CHROMIUM=" + chromium, "BASE=" + d.Dashboard, "OUT=" + out, "MP4=" + mp4,
			"WEBHOOK_URL=" + receiver.URL + "/hooks", "RESTREAM_URL=" + d.RTMPURL[:cut], "RESTREAM_KEY=" + d.RTMPURL[cut+1:],
			"STEP_TIMEOUT_MS=45000", "OAUTH=1"}})
	m := b.WaitOutput(t, 5*time.Minute, regexp.MustCompile(`(?m)^(RESULT|ERROR) (.*)$`))
	if m[1] == "ERROR" {
		t.Fatalf("dashboard: %s\n%s\nscreens of the failure: %s/error-*.png", m[2], testutil.LastLines(b.Output(), 40), out)
	}
	var r dashboardResult
	if err := json.Unmarshal([]byte(m[2]), &r); err != nil {
		t.Fatalf("dashboard result %q: %v", m[2], err)
	}
	t.Logf("FIGURE dashboard: whole run %v; steps (ms) %v", time.Since(start).Round(time.Second), r.Steps)

	if !slices.Contains(r.IngestFields, "Server (RTMP)") || !slices.Contains(r.IngestFields, "SRT URL") || !slices.Contains(r.IngestFields, "Stream key") {
		t.Errorf("ingest settings show %v, want the RTMP server, the key and SRT", r.IngestFields)
	}
	for what, f := range map[string]playedFrame{"live preview": r.Preview, "recording": r.RecordingPlay} {
		t.Logf("%s played to %.1f s at %dx%d, luma mean %.0f variance %.0f", what, f.CurrentTime, f.Width, f.Height, f.LumaMean, f.LumaVariance)
		if f.CurrentTime <= 2 || f.Width == 0 {
			t.Errorf("%s: %+v, want played past 2 s", what, f)
		}
		if f.LumaMean < 16 || f.LumaVariance < 25 {
			t.Errorf("%s shows a black or flat frame: %+v", what, f)
		}
	}
	if !slices.Contains(r.Timeline, "session.started") {
		t.Errorf("activity timeline %v, want session.started", r.Timeline)
	}
	var rs struct {
		On, Off string
		Seen    []string
	}
	if err := json.Unmarshal(r.Restream, &rs); err != nil || rs.On == "" || !slices.Contains(rs.Seen, "live") || rs.Off != "stopped" && rs.Off != "idle" {
		t.Errorf("restream target: %s, want it live when switched on and stopped when switched off", r.Restream)
	}
	t.Logf("restream target states %v, then %q once switched off", rs.Seen, rs.Off)
	if !strings.Contains(r.Linked.Account, oauthtest.ChannelName) || !strings.Contains(r.Linked.Callback, "/v1/oauth/youtube/callback") ||
		len(r.Linked.Targets) != 2 {
		t.Errorf("linking YouTube from the stream page: %+v, want the channel listed after the callback and a second target made from it", r.Linked)
	}
	if !strings.HasPrefix(r.Webhook, "2") || hooks.Load() == 0 {
		t.Errorf("webhook delivery log shows %q, receiver got %d posts; want a 2xx delivery", r.Webhook, hooks.Load())
	}
	if !r.Snippet {
		t.Errorf("the signing keys page shows no ES256 token-minting snippet")
	}
	if r.APIKeyPrefix != "lsk_" {
		t.Errorf("new API key starts %q, want lsk_", r.APIKeyPrefix)
	}
	if r.Clip == "" || r.Clip == r.UploadID || r.RecordingID == "" {
		t.Errorf("clip %q of upload %q, recording %q: want all three", r.Clip, r.UploadID, r.RecordingID)
	}
	// The stream captions its recordings (pocketsphinx in dev): the player
	// lists the track.
	if !slices.Contains(r.Captions, "en") || !slices.Contains(r.TextTracks, "en") {
		t.Errorf("recording's captions %v (jobs %v), player text tracks %v; want en", r.Captions, r.CaptionStates, r.TextTracks)
	}
	if !strings.Contains(r.Storyboard, "storyboard.jpg") {
		t.Errorf("storyboard hover shows %q, want a tile of storyboard.jpg", r.Storyboard)
	}
	if len(r.OtherStreams) != 0 || r.OtherAssets != 0 || !strings.Contains(r.OtherStreamPage, "not found") {
		t.Errorf("a second org's user sees streams %q, %d assets, and the first org's stream page as %q", r.OtherStreams, r.OtherAssets, r.OtherStreamPage)
	}
	for screen, a := range r.Axe {
		for _, v := range a.Serious {
			t.Errorf("axe on %s: %s %s (%s) at %v", screen, v.Impact, v.ID, v.Help, v.Nodes)
		}
	}
	if len(r.Axe) < 10 {
		t.Errorf("axe ran on %d screens, want the main ones", len(r.Axe))
	}
	for _, f := range r.Screenshots {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 || filepath.Dir(f) != out {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
}
