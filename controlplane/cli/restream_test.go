package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/livestreams/livestreams/controlplane/client"
)

// TestRestreamCommands: the key reaches the API from stdin or --key-file
// (--key too, with a warning), is never printed, and enable/disable send
// the toggle alone.
func TestRestreamCommands(t *testing.T) {
	t.Parallel()
	const key = "live_1234567890_abcdefgh"
	var mu sync.Mutex
	var bodies []map[string]any
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		json.Unmarshal(raw, &body)
		mu.Lock()
		bodies, paths = append(bodies, body), append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		tgt := client.RestreamTarget{ID: "rst_1", StreamID: "str_1", Name: "YT", Preset: "youtube", URL: "rtmp://a.rtmp.youtube.com/live2",
			KeySet: true, KeyLast4: "efgh", Enabled: body["enabled"] != false, Status: "live"}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "DELETE":
			w.WriteHeader(204)
		case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/restream-targets"):
			json.NewEncoder(w).Encode(client.List[client.RestreamTarget]{Items: []client.RestreamTarget{tgt}})
		case r.Method == "POST":
			w.WriteHeader(201)
			json.NewEncoder(w).Encode(tgt)
		default:
			json.NewEncoder(w).Encode(tgt)
		}
	}))
	t.Cleanup(srv.Close)
	vars := map[string]string{"LIVESTREAMS_ADDR": srv.URL, "LIVESTREAMS_TOKEN": "lsk_test"}
	run := func(stdin string, args ...string) result { return runWith(t, vars, runOpts{stdin: stdin}, args...) }
	lastBody := func() map[string]any { mu.Lock(); defer mu.Unlock(); return bodies[len(bodies)-1] }

	res := run(key+"\n", "restream", "add", "str_1", "--name", "YT", "--preset", "youtube")
	if res.code != 0 || lastBody()["key"] != key || lastBody()["preset"] != "youtube" {
		t.Fatalf("add with the key on stdin: %+v, body %v", res, lastBody())
	}
	if strings.Contains(res.stdout+res.stderr, key) || !strings.Contains(res.stdout, "…efgh") {
		t.Fatalf("add output:\n%s%s", res.stdout, res.stderr)
	}
	file := filepath.Join(t.TempDir(), "key")
	os.WriteFile(file, []byte(key+"\n"), 0o600)
	if res := run("", "restream", "update", "str_1", "rst_1", "--key-file", file); res.code != 0 || lastBody()["key"] != key {
		t.Fatalf("update --key-file: %+v, body %v", res, lastBody())
	}
	if res := run("", "restream", "add", "str_1", "--name", "T", "--preset", "twitch", "--key", key); res.code != 0 ||
		!strings.Contains(res.stderr, "warning") || lastBody()["key"] != key {
		t.Fatalf("add --key: %+v", res)
	}
	if res := run("", "restream", "add", "str_1", "--name", "T"); res.code == 0 {
		t.Fatalf("add without a key succeeded: %+v", res)
	}
	if res := run("", "restream", "disable", "str_1", "rst_1"); res.code != 0 || len(lastBody()) != 1 || lastBody()["enabled"] != false {
		t.Fatalf("disable: %+v, body %v", res, lastBody())
	}
	if res := run("", "restream", "enable", "str_1", "rst_1"); res.code != 0 || lastBody()["enabled"] != true {
		t.Fatalf("enable: %+v, body %v", res, lastBody())
	}
	if res := run("", "restream", "list", "str_1"); res.code != 0 || !strings.Contains(res.stdout, "rst_1") || !strings.Contains(res.stdout, "live") {
		t.Fatalf("list: %+v", res)
	}
	if res := run("", "restream", "remove", "str_1", "rst_1"); res.code != 0 {
		t.Fatalf("remove: %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"POST /v1/streams/str_1/restream-targets", "PATCH /v1/streams/str_1/restream-targets/rst_1",
		"POST /v1/streams/str_1/restream-targets", "PATCH /v1/streams/str_1/restream-targets/rst_1",
		"PATCH /v1/streams/str_1/restream-targets/rst_1", "GET /v1/streams/str_1/restream-targets", "DELETE /v1/streams/str_1/restream-targets/rst_1"}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
}
