package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		stderr string
	}{
		{"not found", nil, []string{"stream", "show", "str_nope"},
			"livestreams: stream str_nope not found (HTTP 404 not_found)\n"},
		{"other org is not found", nil, []string{"stream", "show", "str_9"},
			"livestreams: stream str_9 not found (HTTP 404 not_found)\n"},
		{"forbidden", map[string]string{"LIVESTREAMS_TOKEN": viewerKey}, []string{"stream", "delete", "str_1"},
			"livestreams: not allowed (HTTP 403 forbidden)\n"},
		{"no token gets a hint", map[string]string{"LIVESTREAMS_TOKEN": ""}, []string{"stream", "list"},
			"livestreams: authentication required (HTTP 401 unauthorized); set LIVESTREAMS_TOKEN or --token\n"},
		{"wrong token", map[string]string{"LIVESTREAMS_TOKEN": "lsk_revoked"}, []string{"stream", "list"},
			"livestreams: authentication required (HTTP 401 unauthorized)\n"},
		{"wrong password", nil, []string{"login", "--email", "ann@example.com", "--password", "nope"},
			"livestreams: wrong email or password (HTTP 401 unauthorized)\n"},
		{"invalid", nil, []string{"signing-key", "token", "sig_2", "pb"},
			"livestreams: signing key not found (HTTP 404 not_found)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			res := f.run(t, runOpts{env: tt.env}, tt.args...)
			if res.code != 1 {
				t.Errorf("exit code %d, want 1", res.code)
			}
			if res.stderr != tt.stderr {
				t.Errorf("stderr = %q, want %q", res.stderr, tt.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q, want nothing", res.stdout)
			}
		})
	}
}

func TestNonAPIErrorAnswer(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><body>upstream down</body></html>"))
	}))
	defer proxy.Close()
	res := runWith(t, map[string]string{"LIVESTREAMS_ADDR": proxy.URL}, runOpts{}, "stream", "list")
	if res.code != 1 || res.stderr != "livestreams: bad gateway (HTTP 502)\n" {
		t.Errorf("code %d stderr %q", res.code, res.stderr)
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		auth, org  string
		consistent string
	}{
		{name: "from the environment", args: []string{"stream", "list"}, auth: "Bearer " + adminKey},
		{name: "flags win", env: map[string]string{"LIVESTREAMS_ORG": "org_env"},
			args: []string{"stream", "list", "--token", viewerKey, "--org", "org_flag"}, auth: "Bearer " + viewerKey, org: "org_flag"},
		{name: "org from the environment", env: map[string]string{"LIVESTREAMS_ORG": "org_env"},
			args: []string{"stream", "list"}, auth: "Bearer " + adminKey, org: "org_env"},
		{name: "consistent read", args: []string{"stream", "show", "str_1", "--consistent"}, auth: "Bearer " + adminKey, consistent: "1"},
		{name: "no consistency header on writes", args: []string{"stream", "create", "x", "--consistent"}, auth: "Bearer " + adminKey},
		{name: "no token", env: map[string]string{"LIVESTREAMS_TOKEN": ""}, args: []string{"stream", "list"}},
		{name: "login never sends a token", args: []string{"login", "--email", "ann@example.com", "--password", "hunter2"}},
		{name: "user create's --org is the body's", env: map[string]string{"LIVESTREAMS_ORG": "org_env"},
			args: []string{"user", "create", "--email", "a@b", "--password", "p", "--org", "org_2"}, auth: "Bearer " + adminKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.run(t, runOpts{env: tt.env}, tt.args...)
			h := f.last().Header
			for _, c := range []struct{ key, want string }{
				{"Authorization", tt.auth},
				{"X-Livestreams-Org", tt.org},
				{"X-Livestreams-Consistent", tt.consistent},
			} {
				if got := h.Get(c.key); got != c.want {
					t.Errorf("%s = %q, want %q", c.key, got, c.want)
				}
			}
		})
	}
}

func TestFailover(t *testing.T) {
	for _, args := range [][]string{
		{"stream", "list"},
		{"stream", "create", "Talk"}, // a POST is repeated only when it never left
		{"snapshot", "restore", "--yes", "SNAP"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f := newFake(t)
			dir := t.TempDir()
			for i, a := range args {
				if a == "SNAP" {
					args[i] = writeFile(t, dir, "snap", "the state")
				}
			}
			dead := "http://" + testutil.FreeAddr(t)
			res := f.run(t, runOpts{env: map[string]string{"LIVESTREAMS_ADDR": dead + ", " + f.srv.URL}}, args...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("the live node got %d requests, want 1", n)
			}
			if args[0] == "snapshot" && string(f.restored) != "the state" {
				t.Errorf("restored %q after failover, want the whole file", f.restored)
			}
		})
	}
}

func TestAllAddressesDead(t *testing.T) {
	a, b := "http://"+testutil.FreeAddr(t), "http://"+testutil.FreeAddr(t)
	res := runWith(t, map[string]string{"LIVESTREAMS_TOKEN": adminKey}, runOpts{}, "stream", "list", "--addr", a+","+b)
	if res.code != 1 {
		t.Errorf("exit %d, want 1", res.code)
	}
	if strings.Count(res.stderr, "\n") != 1 || !strings.HasPrefix(res.stderr, "livestreams: cannot reach the control plane: ") {
		t.Errorf("stderr = %q, want one line", res.stderr)
	}
	for _, want := range []string{"connection refused", "is the control plane running at " + a + ", " + b + "?", "set LIVESTREAMS_ADDR"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr %q lacks %q", res.stderr, want)
		}
	}
}

func TestDefaultAddr(t *testing.T) {
	c := (&env{getenv: func(string) string { return "" }}).command("x", "", "")
	if err := c.parse(nil, 0, 0); err != nil {
		t.Fatal(err)
	}
	cl, err := c.client()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cl.Addrs(), []string{"http://127.0.0.1:8080"}) {
		t.Errorf("addrs = %v", cl.Addrs())
	}
}

// A write that reached a node which then failed is not repeated on the
// next node: it may have been applied. A read is.
func TestNoRetryAfterPartialWrite(t *testing.T) {
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer hangup.Close()

	f := newFake(t)
	env := map[string]string{"LIVESTREAMS_ADDR": hangup.URL + "," + f.srv.URL}
	res := f.run(t, runOpts{env: env}, "stream", "create", "Talk")
	if res.code != 1 || len(f.requests()) != 0 {
		t.Errorf("POST: exit %d, %d requests on the second node; want 1 and none (stderr %q)", res.code, len(f.requests()), res.stderr)
	}
	res = f.run(t, runOpts{env: env}, "stream", "list")
	if res.code != 0 || len(f.requests()) != 1 {
		t.Errorf("GET: exit %d, %d requests on the second node; want 0 and 1 (stderr %q)", res.code, len(f.requests()), res.stderr)
	}
}

func TestTimeout(t *testing.T) {
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer stuck.Close()
	res := runWith(t, map[string]string{"LIVESTREAMS_ADDR": stuck.URL}, runOpts{timeout: 50 * time.Millisecond}, "stream", "list")
	if res.code != 1 || !strings.Contains(res.stderr, "no answer within 50ms") {
		t.Errorf("code %d stderr %q", res.code, res.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		msg  string // in the first line of stderr
	}{
		{nil, "no command given"},
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"stream"}, "stream: no subcommand given"},
		{[]string{"stream", "frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"stream", "show"}, "stream show: missing argument ID"},
		{[]string{"stream", "show", "a", "b"}, "stream show: too many arguments"},
		{[]string{"stream", "list", "extra"}, `stream list: unexpected argument "extra"`},
		{[]string{"stream", "list", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"stream", "create", "x", "--latency", "ultra"}, "--latency must be standard or low"},
		{[]string{"apikey", "create"}, "--name is required"},
		{[]string{"apikey", "create", "--name", "x", "--role", "god"}, "--role must be owner, admin, member or viewer"},
		{[]string{"user", "create", "--email", "a@b"}, "--password or --password-stdin is required"},
		{[]string{"user", "create", "--email", "a@b", "--password", "x", "--password-stdin"}, "mutually exclusive"},
		{[]string{"user", "create", "--email", "a@b", "--password", "x", "--role", "admin"}, "--role needs --org"},
		{[]string{"user", "create", "--email", "a@b", "--password-stdin"}, "stdin is empty"},
		{[]string{"cluster", "join", "--id", "cp3"}, "--raft-addr is required"},
		{[]string{"cluster", "remove"}, "missing argument ID"},
		{[]string{"signing-key", "token", "sig_1"}, "missing argument KEY_ID PLAYBACK_ID"},
		{[]string{"signing-key", "token", "sig_1", "pb", "--ttl", "1.5s"}, "--ttl must be a whole number of seconds"},
		{[]string{"signing-key", "token", "sig_1", "pb", "--ttl", "soon"}, `invalid value "soon" for flag -ttl`},
		{[]string{"snapshot", "save"}, "missing argument FILE"},
		{[]string{"bootstrap", "--email", "a@b"}, "--token is required"},
		{[]string{"bootstrap", "--token", setupTok}, "--email is required"},
		{[]string{"login", "--email", "a@b"}, "--password or --password-stdin is required"},
		{[]string{"stream", "list", "--addr", "ftp://x"}, `--addr: invalid address "ftp://x"`},
		{[]string{"stream", "list", "--addr", " , "}, "--addr: no address given"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := newFake(t)
			res := f.run(t, runOpts{}, tt.args...)
			if res.code != 2 {
				t.Errorf("exit code %d, want 2 (stderr %q)", res.code, res.stderr)
			}
			first, _, _ := strings.Cut(res.stderr, "\n")
			if !strings.HasPrefix(first, "livestreams: ") || !strings.Contains(first, tt.msg) {
				t.Errorf("stderr first line %q, want livestreams: …%s…", first, tt.msg)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("%d requests sent on a usage error", n)
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q", res.stdout)
			}
		})
	}
}

func TestDoubleDashEndsFlags(t *testing.T) {
	f := newFake(t)
	res := f.run(t, runOpts{}, "stream", "show", "--", "--json")
	if got := f.last().Path; got != "/v1/streams/--json" {
		t.Errorf("path %q: -- did not end the flags", got)
	}
	if res.code != 1 {
		t.Errorf("exit %d, want the fake's 404", res.code)
	}
}

func TestHelp(t *testing.T) {
	f := newFake(t)
	for _, name := range Commands() {
		res := f.run(t, runOpts{}, name, "-h")
		if res.code != 0 || !strings.HasPrefix(res.stdout, "Usage: livestreams "+name) || res.stderr != "" {
			t.Errorf("%s -h: code %d stdout %.60q stderr %q", name, res.code, res.stdout, res.stderr)
		}
	}
	res := f.run(t, runOpts{}, "stream", "create", "--help")
	for _, want := range []string{"Usage: livestreams stream create [flags] NAME", "--signed", "--latency string", "Global flags:", "--addr string", "LIVESTREAMS_ADDR"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stream create --help lacks %q:\n%s", want, res.stdout)
		}
	}
	if len(f.requests()) != 0 {
		t.Error("help sent a request")
	}
}

func TestCommands(t *testing.T) {
	want := []string{"account", "accounts", "analytics", "apikey", "asset", "assets", "bootstrap", "cluster", "events", "invite", "job", "jobs", "login", "node", "nodes", "org", "restream", "route", "signing-key", "snapshot", "stream", "user", "webhook", "webhooks"}
	if got := Commands(); !slices.Equal(got, want) {
		t.Errorf("Commands() = %v, want %v", got, want)
	}
}

// TestRun goes through the exported entry point once, flags only.
func TestRun(t *testing.T) {
	f := newFake(t)
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"stream", "list", "--addr", f.srv.URL, "--token", adminKey, "--org", "org_1"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "Main stage") {
		t.Errorf("code %d stdout %q stderr %q", code, stdout.String(), stderr.String())
	}
}

func TestAgo(t *testing.T) {
	e := &env{now: func() time.Time { return testNow }}
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{12 * time.Second, "12s ago"},
		{3 * time.Minute, "3m ago"},
		{5 * time.Hour, "5h ago"},
		{47 * time.Hour, "47h ago"},
		{72 * time.Hour, "3d ago"},
		{-59 * time.Minute, "in 59m"},
		{40 * 24 * time.Hour, "2025-04-22"},
	}
	for _, tt := range tests {
		if got := e.ago(testNow.Add(-tt.d)); got != tt.want {
			t.Errorf("ago(now-%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := e.ago(time.Time{}); got != "-" {
		t.Errorf("ago(zero) = %q", got)
	}
	if got := e.when(testNow.Add(-3 * time.Minute)); got != "2025-06-01T11:57:00Z (3m ago)" {
		t.Errorf("when = %q", got)
	}
}

func TestParseAddrs(t *testing.T) {
	got, err := parseAddrs(" 10.0.0.1:8080, https://cp.example.com/ ,http://[::1]:9000")
	want := []string{"http://10.0.0.1:8080", "https://cp.example.com", "http://[::1]:9000"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseAddrs = %v, %v; want %v", got, err, want)
	}
}

// TestFollowsRedirectWithBody checks that a node answering 307 (say, to
// the leader) gets the whole body sent again to the new location.
func TestFollowsRedirectWithBody(t *testing.T) {
	f := newFake(t)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, f.srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	env := map[string]string{"LIVESTREAMS_ADDR": redirect.URL}

	res := f.run(t, runOpts{env: env}, "stream", "create", "Talk")
	if res.code != 0 || f.last().JSON(t)["name"] != "Talk" {
		t.Errorf("stream create: exit %d (%s), body %q", res.code, res.stderr, f.last().Body)
	}
	path := writeFile(t, t.TempDir(), "snap", "the state")
	res = f.run(t, runOpts{env: env}, "snapshot", "restore", "--yes", path)
	if res.code != 0 || string(f.restored) != "the state" {
		t.Errorf("snapshot restore: exit %d (%s), restored %q", res.code, res.stderr, f.restored)
	}
}
