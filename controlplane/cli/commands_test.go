package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestCommandRequests checks, for each command, the request it sends and
// what it prints from the fake's answer.
func TestCommandRequests(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdin    string
		method   string
		path     string
		query    string         // the query string sent, when set
		body     map[string]any // nil: no body checked
		stdout   []string       // substrings, in order
		exact    string         // whole stdout, when set
		noStdout []string       // must not appear
	}{
		{
			name: "cluster status", args: []string{"cluster", "status"},
			method: "GET", path: "/v1/cluster",
			stdout: []string{"ID", "ADDRESS", "STATE", "VOTER", "HEALTHY",
				"cp1", "http://10.0.0.1:8080", "10.0.0.1:7000", "leader", "true", "true",
				"cp2", "follower", "false",
				"Term:", "7", "Last index:", "1234", "Last snapshot index:", "1024"},
		},
		{
			name: "cluster join", args: []string{"cluster", "join", "--id", "cp3", "--raft-addr", "10.0.0.3:7000", "--http-addr", "http://10.0.0.3:8080"},
			method: "POST", path: "/v1/cluster/members",
			body:   map[string]any{"id": "cp3", "raft_addr": "10.0.0.3:7000", "http_addr": "http://10.0.0.3:8080"},
			stdout: []string{"Added node cp3"},
		},
		{
			name: "cluster remove", args: []string{"cluster", "remove", "cp2"},
			method: "DELETE", path: "/v1/cluster/members/cp2", exact: "Removed node cp2\n",
		},
		{
			name: "cluster join-token", args: []string{"cluster", "join-token", "--description", "edge fra1"},
			method: "POST", path: "/v1/cluster/join-tokens", body: map[string]any{"description": "edge fra1"},
			exact: "ljt_join_token\n",
		},
		{
			name: "cluster join-token without description", args: []string{"cluster", "join-token"},
			method: "POST", path: "/v1/cluster/join-tokens", body: map[string]any{}, exact: "ljt_join_token\n",
		},
		{
			name: "cluster join-token create --ttl", args: []string{"cluster", "join-token", "create", "--ttl", "15m"},
			method: "POST", path: "/v1/cluster/join-tokens", body: map[string]any{"ttl": "15m"}, exact: "ljt_join_token\n",
		},
		{
			name: "cluster join-token list", args: []string{"cluster", "join-token", "list"},
			method: "GET", path: "/v1/cluster/join-tokens",
			stdout: []string{"ID", "STATE", "USED BY", "a1b2c3d4e5f60718", "used", "edge fra1", "fra1", "0011223344556677", "usable", "in 59m"},
		},
		{
			name: "cluster join-token revoke", args: []string{"cluster", "join-token", "revoke", "0011223344556677"},
			method: "DELETE", path: "/v1/cluster/join-tokens/0011223344556677", exact: "Revoked join token 0011223344556677\n",
		},
		{
			name: "cluster ca", args: []string{"cluster", "ca"}, method: "GET", path: "/v1/cluster/ca",
			stdout: []string{"ROLE", "FINGERPRINT", "current", "ab12"}, noStdout: []string{"Rotation"},
		},
		{
			name: "cluster ca rotate", args: []string{"cluster", "ca", "rotate", "--expect-current", "ab12"},
			method: "POST", path: "/v1/cluster/ca/rotate", body: map[string]any{"expect_current": "ab12"},
			stdout: []string{"current", "retiring", "cd34", "1 edge(s) still hold a certificate from the old CA: fra1"},
		},
		{
			name: "cluster ca finish --force", args: []string{"cluster", "ca", "finish", "--force"},
			method: "POST", path: "/v1/cluster/ca/finish", body: map[string]any{"force": true}, stdout: []string{"current", "ab12"},
		},
		{
			name: "node remove", args: []string{"node", "remove", "fra1"},
			method: "DELETE", path: "/v1/nodes/fra1", stdout: []string{"Removed edge fra1"},
		},
		{
			name: "org create", args: []string{"org", "create", "Globex"},
			method: "POST", path: "/v1/orgs", body: map[string]any{"name": "Globex"},
			exact: "Created org org_new1 (Globex)\n",
		},
		{
			name: "org list", args: []string{"org", "list"}, method: "GET", path: "/v1/orgs",
			stdout: []string{"ID", "NAME", "CREATED", "org_1", "Acme", "3d ago", "org_2", "Other", "1h ago"},
		},
		{
			name: "org delete", args: []string{"org", "delete", "org_1"}, method: "DELETE", path: "/v1/orgs/org_1",
			exact: "Deleted org org_1\n",
		},
		{
			name: "org members", args: []string{"org", "members", "org_1"}, method: "GET", path: "/v1/orgs/org_1/members",
			stdout: []string{"USER ID", "EMAIL", "ROLE", "usr_1", "ann@example.com", "Ann", "owner", "3d ago"},
		},
		{
			name: "org invite", args: []string{"org", "invite", "org_1", "--email", "bob@example.com", "--role", "admin"},
			method: "POST", path: "/v1/orgs/org_1/invitations", body: map[string]any{"email": "bob@example.com", "role": "admin"},
			stdout: []string{"Invited bob@example.com to org org_1 as admin (invitation inv_2"},
		},
		{
			name: "org invitations", args: []string{"org", "invitations", "org_1"}, method: "GET", path: "/v1/orgs/org_1/invitations",
			stdout: []string{"ID", "EMAIL", "ROLE", "STATUS", "inv_1", "bob@example.com", "member", "pending", "1h ago"},
		},
		{
			name: "invite list", args: []string{"invite", "list"}, method: "GET", path: "/v1/invitations",
			stdout: []string{"ID", "ORG", "ORG NAME", "ROLE", "EXPIRES", "inv_1", "org_1", "Acme", "member"},
		},
		{
			name: "invite accept", args: []string{"invite", "accept", "inv_1"}, method: "POST", path: "/v1/invitations/inv_1/accept",
			exact: "Accepted invitation inv_1: you are member of the org\n",
		},
		{
			name: "invite decline", args: []string{"invite", "decline", "inv_1"}, method: "POST", path: "/v1/invitations/inv_1/decline",
			exact: "Declined invitation inv_1\n",
		},
		{
			name: "user create", args: []string{"user", "create", "--email", "bob@example.com", "--password", "pw", "--org", "org_1", "--role", "admin", "--name", "Bob"},
			method: "POST", path: "/v1/users",
			body:  map[string]any{"email": "bob@example.com", "password": "pw", "org_id": "org_1", "role": "admin", "name": "Bob"},
			exact: "Created user usr_new (bob@example.com), admin of org_1\n",
		},
		{
			name: "user create password from stdin", args: []string{"user", "create", "--email", "bob@example.com", "--password-stdin"},
			stdin:  "s3cret pass\nignored\n",
			method: "POST", path: "/v1/users", body: map[string]any{"email": "bob@example.com", "password": "s3cret pass"},
			exact: "Created user usr_new (bob@example.com)\n", noStdout: []string{"s3cret"},
		},
		{
			name: "apikey create", args: []string{"apikey", "create", "--name", "deploy", "--role", "admin"},
			method: "POST", path: "/v1/api-keys", body: map[string]any{"name": "deploy", "role": "admin"},
			stdout: []string{"ID:", "key_new1", "Role:", "admin", "Key:", "lsk_key_new1_secret", "only time the key is shown"},
		},
		{
			name: "apikey create quiet cluster admin", args: []string{"apikey", "create", "--name", "ops", "--cluster-admin", "--quiet"},
			method: "POST", path: "/v1/api-keys", body: map[string]any{"name": "ops", "cluster_admin": true},
			exact: "lsk_key_new1_secret\n",
		},
		{
			name: "apikey list", args: []string{"apikey", "list"}, method: "GET", path: "/v1/api-keys",
			stdout: []string{"ID", "NAME", "PREFIX", "ROLE", "CLUSTER ADMIN", "CREATED BY", "LAST USED", "REVOKED",
				"key_1", "ci", "lsk_ci12", "member", "false", "usr_1", "24h ago", "10s ago", "-"},
		},
		{
			name: "apikey revoke", args: []string{"apikey", "revoke", "key_1"}, method: "DELETE", path: "/v1/api-keys/key_1",
			exact: "Revoked API key key_1\n",
		},
		{
			name: "stream create defaults", args: []string{"stream", "create", "Talk"},
			method: "POST", path: "/v1/streams", body: map[string]any{"name": "Talk"},
			stdout: []string{"ID:", "str_new1", "Name:", "Talk", "Playback policy:", "public", "Stream key:", liveKey},
		},
		{
			name: "stream create options", args: []string{"stream", "create", "--signed", "Talk", "--no-record", "--latency", "low"},
			method: "POST", path: "/v1/streams",
			body:   map[string]any{"name": "Talk", "playback_policy": "signed", "recording": false, "latency_mode": "low"},
			stdout: []string{"Playback policy:", "signed", "Recording:", "false", "Latency mode:", "low"},
		},
		{
			name: "stream list", args: []string{"stream", "list"}, method: "GET", path: "/v1/streams",
			stdout:   []string{"ID", "NAME", "STATUS", "str_1", "Main stage", "active", "2d ago", "str_2", "Backstage", "idle", "5m ago"},
			noStdout: []string{liveKey, "str_9"},
		},
		{
			name: "stream show", args: []string{"stream", "show", "str_1"}, method: "GET", path: "/v1/streams/str_1",
			stdout: []string{"ID:", "str_1", "Status:", "active", "Playback URL:", "http://cp/v1/play/pb_str_1.m3u8",
				"Created:", "2025-05-30T12:00:00Z (2d ago)", "Session:", "ses_2", "Source:", "1920x1080@30 h264/aac"},
			noStdout: []string{liveKey},
		},
		{
			name: "stream key", args: []string{"stream", "key", "str_1"}, method: "GET", path: "/v1/streams/str_1/key",
			exact: liveKey + "\n",
		},
		{
			name: "stream reset-key", args: []string{"stream", "reset-key", "str_1"}, method: "POST", path: "/v1/streams/str_1/reset-key",
			exact: "sk_fresh_secret\n",
		},
		{
			name: "stream delete", args: []string{"stream", "delete", "str_2"}, method: "DELETE", path: "/v1/streams/str_2",
			exact: "Deleted stream str_2\n",
		},
		{
			name: "stream sessions", args: []string{"stream", "sessions", "str_1"}, method: "GET", path: "/v1/streams/str_1/sessions",
			stdout: []string{"ID", "EDGE", "PROTOCOL", "REMOTE", "STARTED", "ENDED", "DURATION", "END REASON", "SOURCE",
				"ses_2", "edge-a", "rtmp", "198.51.100.7:50312", "3m ago", "live", "3m0s", "1920x1080@30 h264/aac",
				"ses_1", "edge-b", "srt", "[2001:db8::1]:4000", "2h ago", "1h ago", "30m0s", "publisher_closed"},
		},
		{
			name: "stream ingest", args: []string{"stream", "ingest", "str_1"}, method: "GET", path: "/v1/streams/str_1/ingest",
			stdout: []string{"Edge:", "edge-a", "Stream key:", liveKey, "RTMP URL:", "rtmp://edge-a:1935/live/" + liveKey,
				"RTMP server (OBS):", "rtmp://edge-a:1935/live", "SRT URL:", "srt://edge-a:8890?streamid=%23%21", "SRT streamid:", "#!::r=live/"},
			noStdout: []string{"RTMPS", "WHIP"},
		},
		{
			name: "stream id is one path segment", args: []string{"stream", "show", "../orgs"},
			method: "GET", path: "/v1/streams/..%2Forgs",
		},
		{
			name: "signing-key create", args: []string{"signing-key", "create"},
			method: "POST", path: "/v1/signing-keys", body: map[string]any{"keep_private": true},
			stdout: []string{"ID: sig_new", "Public key:", "BEGIN PUBLIC KEY", "Private key (shown only this once):", "BEGIN PRIVATE KEY"},
		},
		{
			name: "signing-key create without keeping", args: []string{"signing-key", "create", "--no-keep-private"},
			method: "POST", path: "/v1/signing-keys", body: map[string]any{"keep_private": false},
		},
		{
			name: "signing-key list", args: []string{"signing-key", "list"}, method: "GET", path: "/v1/signing-keys",
			stdout: []string{"ID", "CAN MINT", "CREATED", "REVOKED", "sig_1", "true", "1h ago", "-"},
		},
		{
			name: "signing-key revoke", args: []string{"signing-key", "revoke", "sig_1"}, method: "DELETE", path: "/v1/signing-keys/sig_1",
			exact: "Revoked signing key sig_1\n",
		},
		{
			name: "signing-key token", args: []string{"signing-key", "token", "sig_1", "pb_str_1", "--ttl", "30m"},
			method: "POST", path: "/v1/signing-keys/sig_1/tokens", body: map[string]any{"playback_id": "pb_str_1", "ttl_seconds": 1800.0},
			exact: "tok.for.pb_str_1\n",
		},
		{
			name: "signing-key token default ttl", args: []string{"signing-key", "token", "sig_1", "pb_str_1"},
			method: "POST", path: "/v1/signing-keys/sig_1/tokens", body: map[string]any{"playback_id": "pb_str_1", "ttl_seconds": 3600.0},
		},
		{
			name: "asset list", args: []string{"asset", "list"}, method: "GET", path: "/v1/assets",
			stdout: []string{"ID", "TYPE", "STATUS", "DURATION", "SIZE", "PLAYBACK", "STREAM", "CREATED",
				"ast_1", "upload", "ready", "1h2m3.5s", "12.3 GiB", "signed", "-", "2h ago",
				"ast_2", "clip", "preparing (40%)", "-", "-", "public", "str_1", "5m ago"},
			noStdout: []string{"ast_9"},
		},
		{
			name: "assets list with filters", args: []string{"assets", "list", "--status", "ready", "--type", "upload", "--stream", "str_1", "--limit", "10", "--cursor", "c1"},
			method: "GET", path: "/v1/assets", query: "cursor=c1&limit=10&status=ready&stream_id=str_1&type=upload", exact: "No assets.\n",
		},
		{
			name: "asset show", args: []string{"asset", "show", "ast_1"}, method: "GET", path: "/v1/assets/ast_1",
			stdout: []string{"ID:", "ast_1", "Status:", "ready", "Playback policy:", "signed", "Duration:", "1h2m3.5s",
				"Tracks:", "video h264 1920x1080@30; audio aac 2ch 48000 Hz", "Renditions:", "720p (1280x720, 3000 kb/s)",
				"Job:", "job_1 (vod, succeeded, 100%)", "Playback URL:", "http://cp/v1/play/pb_ast_1.m3u8",
				"Storyboard URL:", "http://cp/v1/play/pb_ast_1/storyboard.vtt", "Ready:", "(1h ago)"},
		},
		{
			name: "asset show preparing", args: []string{"asset", "show", "ast_2"}, method: "GET", path: "/v1/assets/ast_2",
			stdout: []string{"Status:", "preparing", "Source asset:", "ast_1", "Job:", "job_2 (clip, running, 40% 120 fps 4x)", "Playback URL:", "-"},
		},
		{
			name: "asset delete", args: []string{"asset", "delete", "ast_2"}, method: "DELETE", path: "/v1/assets/ast_2",
			exact: "Deleted asset ast_2 and its files\n",
		},
		{
			name: "job list", args: []string{"job", "list"}, method: "GET", path: "/v1/jobs",
			stdout: []string{"ID", "TYPE", "STATE", "ATTEMPTS", "PROGRESS", "EDGE", "ASSET", "CREATED",
				"job_2", "clip", "running", "1/3", "40% 120 fps 4x", "edge-b", "ast_2", "5m ago",
				"job_3", "clip", "queued", "0/3", "-", "-", "-", "1m ago",
				"job_1", "vod", "succeeded", "2/5", "100%", "-", "ast_1", "2h ago"},
			noStdout: []string{"job_9"},
		},
		{
			name: "jobs list with filters", args: []string{"jobs", "list", "--state", "running", "--type", "clip", "--asset", "ast_2"},
			method: "GET", path: "/v1/jobs", query: "asset_id=ast_2&state=running&type=clip", stdout: []string{"job_2"}, noStdout: []string{"job_3"},
		},
		{
			name: "job show", args: []string{"job", "show", "job_1"}, method: "GET", path: "/v1/jobs/job_1",
			stdout: []string{"ID:", "job_1", "Type:", "vod", "State:", "succeeded", "Asset:", "ast_1", "Attempts:", "2 of 5",
				"Source:", "orgs/org_1/assets/ast_1/source.mp4", "History:", "#", "EDGE", "STARTED", "ENDED", "ERROR",
				"1", "edge-a", "2h ago", "1h ago", "lease lapsed", "2", "edge-b", "1h ago", "-"},
		},
		{
			name: "job show clip", args: []string{"job", "show", "job_2"}, method: "GET", path: "/v1/jobs/job_2",
			stdout: []string{"Progress:", "40% 120 fps 4x", "Edge:", "edge-b", "Lease expires:", "(in 20s)", "Range:", "2s to 10.5s", "running"},
		},
		{
			name: "job cancel queued", args: []string{"job", "cancel", "job_3"}, method: "DELETE", path: "/v1/jobs/job_3",
			exact: "Cancelled job job_3\n",
		},
		{
			name: "job cancel running", args: []string{"job", "cancel", "job_2"}, method: "DELETE", path: "/v1/jobs/job_2",
			exact: "Cancelling job job_2: it is running on edge-b and stops when the edge next renews its lease.\n",
		},
		{
			name: "login", args: []string{"login", "--email", "ann@example.com", "--password-stdin"}, stdin: "hunter2\n",
			method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ann@example.com", "password": "hunter2"},
			exact: "jwt_ann\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			res := f.run(t, runOpts{stdin: tt.stdin}, tt.args...)
			req := f.last()
			if req.Method != tt.method || req.Path != tt.path {
				t.Errorf("request = %s %s, want %s %s", req.Method, req.Path, tt.method, tt.path)
			}
			if tt.query != "" && req.Query != tt.query {
				t.Errorf("query = %q, want %q", req.Query, tt.query)
			}
			if tt.name == "stream id is one path segment" {
				// The escaped ID stays one segment: GET /v1/streams/{id}.
				if res.code != 1 || !strings.Contains(res.stderr, "(HTTP 404 not_found)") {
					t.Errorf("code %d, stderr %q: want a 404 for the ID \"../orgs\"", res.code, res.stderr)
				}
				return
			}
			if res.code != 0 {
				t.Fatalf("exit code %d, stderr %q", res.code, res.stderr)
			}
			if res.stderr != "" {
				t.Errorf("stderr = %q, want nothing", res.stderr)
			}
			if tt.body != nil {
				if got := req.JSON(t); !reflect.DeepEqual(got, tt.body) {
					t.Errorf("body = %v, want %v", got, tt.body)
				}
				if ct := req.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
			if tt.exact != "" && res.stdout != tt.exact {
				t.Errorf("stdout = %q, want %q", res.stdout, tt.exact)
			}
			assertInOrder(t, res.stdout, tt.stdout)
			for _, s := range tt.noStdout {
				if strings.Contains(res.stdout, s) {
					t.Errorf("stdout contains %q:\n%s", s, res.stdout)
				}
			}
		})
	}
}

// assertInOrder checks that want appear in s one after the other.
func assertInOrder(t *testing.T, s string, want []string) {
	t.Helper()
	rest := s
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("output lacks %q (in order) in:\n%s", w, s)
			return
		}
		rest = rest[i+len(w):]
	}
}

func TestTableAligned(t *testing.T) {
	f := newFake(t)
	res := f.run(t, runOpts{}, "stream", "list")
	lines := strings.Split(strings.TrimRight(res.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and 2 rows, got:\n%s", res.stdout)
	}
	col := strings.Index(lines[0], "STATUS")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("column STATUS (at %d) not aligned in %q", col, l)
		}
	}
}

func TestEmptyList(t *testing.T) {
	f := newFake(t)
	f.streams = nil
	res := f.run(t, runOpts{}, "stream", "list")
	if res.code != 0 || res.stdout != "No streams.\n" {
		t.Errorf("code %d stdout %q", res.code, res.stdout)
	}
}

// TestJSONVerbatim checks that --json prints the API's answer, indented,
// with nothing dropped or added.
func TestJSONVerbatim(t *testing.T) {
	for _, args := range [][]string{
		{"stream", "list", "--json"},
		{"stream", "show", "str_1", "--json"}, // flag after the positional
		{"cluster", "status", "--json"},
		{"apikey", "list", "--json"},
		{"stream", "sessions", "--json", "str_1"},
		{"stream", "ingest", "--json", "str_1"},
		{"asset", "list", "--json"},
		{"asset", "show", "ast_1", "--json"},
		{"job", "list", "--json"},
		{"job", "show", "job_2", "--json"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f := newFake(t)
			res := f.run(t, runOpts{}, args...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			req := f.last()
			raw := f.answerTo(t, req)
			var got, want any
			if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, res.stdout)
			}
			json.Unmarshal(raw, &want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("stdout = %v\nwant %v", got, want)
			}
			if !strings.HasPrefix(res.stdout, "{\n  \"") {
				t.Errorf("not indented: %.40q", res.stdout)
			}
		})
	}
}

// answerTo repeats req against the fake and returns its answer.
func (f *fakeAPI) answerTo(t *testing.T, req recorded) []byte {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.srv.URL+req.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", req.Path, resp.StatusCode, err)
	}
	return raw
}

func TestJSONDeleteIsQuiet(t *testing.T) {
	f := newFake(t)
	res := f.run(t, runOpts{}, "stream", "delete", "str_2", "--json")
	if res.code != 0 || res.stdout != "" {
		t.Errorf("code %d stdout %q, want 0 and nothing", res.code, res.stdout)
	}
}

func TestBootstrap(t *testing.T) {
	f := newFake(t)
	res := f.run(t, runOpts{stdin: "correct horse\n", env: map[string]string{"LIVESTREAMS_TOKEN": "lsk_stale"}},
		"bootstrap", "--token", setupTok, "--email", "root@example.com", "--password-stdin", "--org", "My Org", "--name", "Root")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want signup and api-key creation", len(reqs))
	}
	signup, key := reqs[0], reqs[1]
	if signup.Method != "POST" || signup.Path != "/v1/auth/signup" {
		t.Errorf("first request %s %s", signup.Method, signup.Path)
	}
	if h := signup.Header.Get("Authorization"); h != "" {
		t.Errorf("signup sent Authorization %q; the stale LIVESTREAMS_TOKEN must not be used", h)
	}
	want := map[string]any{"email": "root@example.com", "password": "correct horse", "setup_token": setupTok, "org_name": "My Org", "name": "Root"}
	if got := signup.JSON(t); !reflect.DeepEqual(got, want) {
		t.Errorf("signup body %v, want %v", got, want)
	}
	if key.Method != "POST" || key.Path != "/v1/api-keys" {
		t.Errorf("second request %s %s", key.Method, key.Path)
	}
	if got, want := key.Header.Get("Authorization"), "Bearer jwt_boot"; got != want {
		t.Errorf("api-key request Authorization %q, want %q", got, want)
	}
	if got := key.Header.Get("X-Livestreams-Org"); got != "org_boot" {
		t.Errorf("api-key request X-Livestreams-Org %q, want org_boot", got)
	}
	if got, want := key.JSON(t), map[string]any{"name": "admin", "role": "owner", "cluster_admin": true}; !reflect.DeepEqual(got, want) {
		t.Errorf("api-key body %v, want %v", got, want)
	}
	wantOut := "export LIVESTREAMS_ADDR=" + f.srv.URL + " LIVESTREAMS_TOKEN=lsk_key_new1_secret\n"
	if res.stdout != wantOut {
		t.Errorf("stdout = %q, want %q", res.stdout, wantOut)
	}
	if strings.Contains(res.stderr, "correct horse") {
		t.Errorf("stderr shows the password: %q", res.stderr)
	}

	// The printed key works at once.
	next := f.run(t, runOpts{env: map[string]string{"LIVESTREAMS_TOKEN": "lsk_key_new1_secret"}}, "cluster", "status")
	if next.code != 0 {
		t.Errorf("cluster status with the new key: exit %d: %s", next.code, next.stderr)
	}
}

func TestBootstrapGeneratesPassword(t *testing.T) {
	f := newFake(t)
	res := f.run(t, runOpts{}, "bootstrap", "--token", setupTok, "--email", "root@example.com")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	pw := f.requests()[0].JSON(t)["password"].(string)
	if len(pw) < 20 || !strings.Contains(res.stderr, pw) {
		t.Errorf("generated password %q not shown on stderr %q", pw, res.stderr)
	}
	if strings.Contains(res.stdout, pw) {
		t.Errorf("password on stdout")
	}
}

func TestBootstrapBadToken(t *testing.T) {
	f := newFake(t)
	res := f.run(t, runOpts{}, "bootstrap", "--token", "lst_wrong", "--email", "root@example.com", "--password", "x")
	if res.code != 1 || res.stderr != "livestreams: signup is disabled (HTTP 403 forbidden)\n" {
		t.Errorf("code %d stderr %q", res.code, res.stderr)
	}
	if res.stdout != "" {
		t.Errorf("stdout %q", res.stdout)
	}
}

func TestSecretsStayOut(t *testing.T) {
	f := newFake(t)
	for _, args := range [][]string{
		{"stream", "list"}, {"stream", "show", "str_1"}, {"apikey", "list"}, {"stream", "sessions", "str_1"},
	} {
		res := f.run(t, runOpts{}, args...)
		for _, secret := range []string{liveKey, adminKey, "lsk_key"} {
			if strings.Contains(res.stdout+res.stderr, secret) {
				t.Errorf("%v prints %q", args, secret)
			}
		}
	}
	// An API error never repeats the token.
	res := f.run(t, runOpts{env: map[string]string{"LIVESTREAMS_TOKEN": "lsk_wrong_secret"}}, "stream", "list")
	if res.code != 1 || strings.Contains(res.stderr, "lsk_wrong_secret") {
		t.Errorf("code %d stderr %q", res.code, res.stderr)
	}
	// The help text shows no token from the environment.
	res = f.run(t, runOpts{}, "stream", "list", "-h")
	if res.code != 0 || strings.Contains(res.stdout, adminKey) {
		t.Errorf("help: code %d, shows the token: %v", res.code, strings.Contains(res.stdout, adminKey))
	}
}

func TestJobCancelFinished(t *testing.T) {
	f := newFake(t)
	res := f.run(t, runOpts{}, "job", "cancel", "job_1")
	if res.code != 1 || res.stderr != "livestreams: job job_1 already succeeded (HTTP 409 conflict)\n" || res.stdout != "" {
		t.Errorf("code %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	res = f.run(t, runOpts{}, "job", "cancel", "job_3", "--json")
	var j map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &j); res.code != 0 || err != nil || j["state"] != "cancelled" {
		t.Errorf("cancel --json: code %d stdout %q", res.code, res.stdout)
	}
}

func TestMediaUsageErrors(t *testing.T) {
	f := newFake(t)
	for _, args := range [][]string{
		{"job", "list", "--state", "stuck"}, {"asset", "list", "--status", "done"}, {"asset", "list", "--type", "live"},
		{"job", "list", "--limit", "500"}, {"job", "show"}, {"asset", "delete"}, {"jobs", "frobnicate"},
	} {
		res := f.run(t, runOpts{}, args...)
		if res.code != 2 || !strings.Contains(res.stderr, "livestreams ") {
			t.Errorf("%v: code %d stderr %q, want a usage error", args, res.code, res.stderr)
		}
	}
	if len(f.requests()) != 0 {
		t.Errorf("usage errors sent %d requests", len(f.requests()))
	}
	// The plural names speak of themselves in their help.
	if res := f.run(t, runOpts{}, "jobs", "-h"); res.code != 0 || !strings.HasPrefix(res.stdout, "Usage: livestreams jobs <subcommand>") {
		t.Errorf("jobs -h: %d %q", res.code, res.stdout)
	}
}
