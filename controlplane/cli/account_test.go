package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// TestAccountCommands: link prints the consent URL, list the accounts,
// unlink sends the DELETE, target sends the account and name and prints
// the target without any key.
func TestAccountCommands(t *testing.T) {
	t.Parallel()
	const consent = "https://accounts.google.com/o/oauth2/v2/auth?client_id=x&state=s"
	var mu sync.Mutex
	var calls []string
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		json.Unmarshal(raw, &body)
		mu.Lock()
		calls, bodies = append(calls, r.Method+" "+r.URL.Path), append(bodies, body)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/oauth/"):
			json.NewEncoder(w).Encode(client.OAuthStart{Provider: "youtube", AuthorizationURL: consent, ExpiresAt: testNow.Add(10 * time.Minute)})
		case r.Method == "GET" && r.URL.Path == "/v1/linked-accounts":
			json.NewEncoder(w).Encode(client.List[client.LinkedAccount]{Items: []client.LinkedAccount{{ID: "lac_1", Provider: "twitch",
				AccountID: "141981764", AccountName: "fakestreamer", CreatedAt: testNow}}})
		case r.Method == "DELETE":
			w.WriteHeader(204)
		case r.Method == "POST":
			w.WriteHeader(201)
			json.NewEncoder(w).Encode(client.RestreamTarget{ID: "rst_1", StreamID: "str_1", Name: "Twitch", Preset: "twitch",
				URL: "rtmp://live.twitch.tv/app", KeySet: true, KeyLast4: "wxyz", Enabled: true, LinkedAccountID: "lac_1", Status: "idle"})
		}
	}))
	t.Cleanup(srv.Close)
	vars := map[string]string{"LIVESTREAMS_ADDR": srv.URL, "LIVESTREAMS_TOKEN": "lsk_test"}
	run := func(args ...string) result { return runWith(t, vars, runOpts{}, args...) }
	last := func() (string, map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		return calls[len(calls)-1], bodies[len(bodies)-1]
	}

	if res := run("account", "link", "YouTube"); res.code != 0 || !strings.Contains(res.stdout, consent) {
		t.Fatalf("link: %+v", res)
	}
	if call, _ := last(); call != "GET /v1/oauth/youtube/start" {
		t.Fatalf("link called %s", call)
	}
	if res := run("account", "link", "myspace"); res.code != 2 {
		t.Fatalf("link of an unknown provider: %+v", res)
	}
	if res := run("account", "list"); res.code != 0 || !strings.Contains(res.stdout, "lac_1") || !strings.Contains(res.stdout, "fakestreamer") {
		t.Fatalf("list: %+v", res)
	}
	if res := run("account", "unlink", "lac_1"); res.code != 0 {
		t.Fatalf("unlink: %+v", res)
	}
	if call, _ := last(); call != "DELETE /v1/linked-accounts/lac_1" {
		t.Fatalf("unlink called %s", call)
	}
	res := run("account", "target", "str_1", "lac_1", "--name", "Twitch")
	call, body := last()
	if res.code != 0 || call != "POST /v1/streams/str_1/restream-targets/from-account" || body["linked_account_id"] != "lac_1" ||
		body["name"] != "Twitch" || body["enabled"] != true || !strings.Contains(res.stdout, "rtmp://live.twitch.tv/app") {
		t.Fatalf("target: %+v, %s %v", res, call, body)
	}
}
