package api

import (
	"bytes"
	"strings"
	"testing"
)

// TestBadBodies sends broken, unexpected and oversized bodies to the write
// routes: each is refused with the documented 4xx, never a 5xx.
func TestBadBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	s := e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "s"}).json(t)
	sig := str(e.admin.must(201, "POST", "/v1/signing-keys", nil).json(t), "id")
	ast := e.readyAsset(e.orgA).ID
	huge := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/streams", `{"name":`, 400, "invalid"},
		{"POST", "/v1/streams", `{"name":"a"} trailing`, 400, "invalid"},
		{"POST", "/v1/streams", `{"name":"a"}{"name":"b"}`, 400, "invalid"},
		{"POST", "/v1/streams", `{"name":"a","colour":"red"}`, 400, "invalid"},
		{"POST", "/v1/streams", `{"name":5}`, 400, "invalid"},
		{"POST", "/v1/streams", `{"name":"a","recording":"yes"}`, 400, "invalid"},
		{"POST", "/v1/streams", `{"name":"a","playback_policy":"secret"}`, 400, "invalid"},
		{"POST", "/v1/streams", `{"name":"a","latency_mode":"instant"}`, 400, "invalid"},
		{"POST", "/v1/streams", `{"name":"` + strings.Repeat("n", 201) + `"}`, 400, "invalid"},
		{"POST", "/v1/streams", `{"name":"tab\there"}`, 400, "invalid"},
		{"POST", "/v1/streams", `["name"]`, 400, "invalid"},
		{"POST", "/v1/streams", `null`, 400, "invalid"},
		{"POST", "/v1/streams", ``, 400, "invalid"},
		{"POST", "/v1/streams", "\xff\xfe", 400, "invalid"},
		{"POST", "/v1/streams", huge, 413, "too_large"},
		{"PATCH", "/v1/streams/" + str(s, "id"), `{"name":""}`, 400, "invalid"},
		{"PATCH", "/v1/streams/" + str(s, "id"), `{"disabled":1}`, 400, "invalid"},
		{"PATCH", "/v1/streams/" + str(s, "id"), `{"id":"str_other"}`, 400, "invalid"},
		{"POST", "/v1/streams/" + str(s, "id") + "/reset-key", `{"x":1}`, 400, "invalid"},
		{"POST", "/v1/orgs", `{"name":{"nested":true}}`, 400, "invalid"},
		{"POST", "/v1/users", `{"email":"a@b.c","password":"short"}`, 400, "invalid"},
		{"POST", "/v1/users", `{"email":"a@b.c","password":"long enough","role":"admin"}`, 400, "invalid"},
		{"POST", "/v1/users", `{"email":"a@b.c","password":"long enough","org_id":"org_nosuch"}`, 404, "not_found"},
		{"POST", "/v1/api-keys", `{"name":"k","role":"god"}`, 400, "invalid"},
		{"POST", "/v1/api-keys", `{"role":"viewer"}`, 400, "invalid"},
		{"POST", "/v1/signing-keys", `{"keep_private":"no"}`, 400, "invalid"},
		{"POST", "/v1/signing-keys/" + sig + "/tokens", `{"playback_id":"` + str(s, "playback_id") + `","ttl_seconds":1.5}`, 400, "invalid"},
		{"POST", "/v1/cluster/members", `{"id":"cp9","raft_addr":"nohostport","http_addr":"x"}`, 400, "invalid"},
		{"POST", "/v1/cluster/join-tokens", `{"description":7}`, 400, "invalid"},
		{"POST", "/v1/auth/login", `{"email":"root@example.com"`, 400, "invalid"},
		{"POST", "/v1/auth/login", `{"email":"root@example.com","password":"x","remember":true}`, 400, "invalid"},
		{"POST", "/v1/auth/signup", huge, 413, "too_large"},
		{"POST", "/v1/uploads", `{"size":"1"}`, 400, "invalid"},
		{"POST", "/v1/uploads", `{"size":1e30}`, 400, "invalid"},
		{"POST", "/v1/uploads", `{"size":99999999999999}`, 413, "too_large"},
		{"POST", "/v1/uploads", `{"name":"x"}`, 400, "invalid"},
		{"POST", "/v1/uploads", `{"playback_policy":"private"}`, 400, "invalid"},
		{"POST", "/v1/assets/" + ast + "/clips", `{"start":0}`, 400, "invalid"},
		{"POST", "/v1/assets/" + ast + "/clips", `{"start":0,"end":1e400}`, 400, "invalid"},
		{"POST", "/v1/assets/" + ast + "/clips", `{"start":0,"end":5,"reencode":"yes"}`, 400, "invalid"},
		{"POST", "/v1/assets/" + ast + "/clips", ``, 400, "invalid"},
		{"PATCH", "/v1/assets/" + ast, `{"playback_policy":null,"status":"ready"}`, 400, "invalid"},
		{"DELETE", "/v1/me", ``, 405, "invalid"},
		{"GET", "/v1/nothing-here", ``, 404, "not_found"},
	}
	for _, c := range cases {
		a := e.admin.do(c.method, c.path, c.body)
		if a.status != c.status || a.code() != c.code {
			t.Errorf("%s %s %.60q: %d %.200s, want %d %s", c.method, c.path, c.body, a.status, a.body, c.status, c.code)
		}
		if !bytes.HasPrefix(a.body, []byte(`{"error":{"code":"`)) {
			t.Errorf("%s %s: error body %.200q is not the documented shape", c.method, c.path, a.body)
		}
	}
	// A restore body may be far larger than 1 MiB; it is checked for being
	// a snapshot rather than refused for size.
	if a := e.admin.do("POST", "/v1/cluster/restore", bytes.Repeat([]byte("x"), 3<<20)); a.status != 400 || a.code() != "invalid" {
		t.Errorf("3 MiB garbage restore: %d %s", a.status, a.body)
	}
}

// fuzzRoutes are the write routes FuzzAPIBodies posts to; %s is a stream,
// %k a signing key. Adding voters is left out: a random voter that never
// answers would take the one-node cluster's quorum.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/auth/signup"},
	{"POST", "/v1/auth/login"},
	{"POST", "/v1/orgs"},
	{"POST", "/v1/users"},
	{"POST", "/v1/api-keys"},
	{"POST", "/v1/streams"},
	{"PATCH", "/v1/streams/%s"},
	{"POST", "/v1/streams/%s/reset-key"},
	{"POST", "/v1/signing-keys"},
	{"POST", "/v1/signing-keys/%k/tokens"},
	{"PUT", "/v1/orgs/%o/members/%u"},
	{"POST", "/v1/orgs/%o/invitations"},
	{"POST", "/v1/cluster/join-tokens"},
	{"POST", "/v1/cluster/restore"},
	{"POST", "/v1/uploads"},
	{"POST", "/v1/assets/%a/clips"},
	{"PATCH", "/v1/assets/%a"},
}

// FuzzAPIBodies posts arbitrary bodies to the write routes of a real
// one-node cluster: whatever the body, the answer is not a 5xx and is
// JSON in the documented error shape when it is an error.
func FuzzAPIBodies(f *testing.F) {
	seeds := []string{
		`{}`, `{"name":"x"}`, `{"name":"x","playback_policy":"signed","recording":false,"latency_mode":"low"}`,
		`{"email":"a@example.com","password":"long enough pw"}`, `{"role":"viewer"}`, `{"role":"owner"}`,
		`{"playback_id":"p","ttl_seconds":60}`, `{"email":"a@example.com","role":"admin"}`, `{"keep_private":false}`, `{"description":"d"}`,
		`{"name":null}`, `[]`, `"s"`, `1e999`, `{"name":"\u0000"}`, `{"disabled":true,"name":"y"}`,
		`{"email":"a@example.com","password":"long enough pw","org_id":"org_x","role":"member"}`,
		`{"size":1048576,"playback_policy":"signed"}`, `{"start":1.5,"end":30,"reencode":true}`, `{"start":0,"end":1e-9}`,
	}
	for i, s := range seeds {
		for r := range fuzzRoutes {
			if (i+r)%3 == 0 {
				f.Add(uint8(r), []byte(s))
			}
		}
	}
	// One cluster for the whole run, set up before fuzzing starts.
	e := newEnv(f, nodeOpts{})
	s := e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "s"}).json(f)
	sig := e.admin.must(201, "POST", "/v1/signing-keys", nil).json(f)
	ast := e.readyAsset(e.orgA)
	repl := strings.NewReplacer("%s", str(s, "id"), "%k", str(sig, "id"), "%o", e.orgA, "%u", str(e.adminU, "id"), "%a", ast.ID)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		c := *e.admin
		c.t, c.rec = t, nil
		a := c.do(rt.method, repl.Replace(rt.path), body)
		if a.status >= 500 {
			t.Fatalf("%s %s with %q: %d %s", rt.method, rt.path, body, a.status, a.body)
		}
		if a.status >= 400 && !bytes.HasPrefix(a.body, []byte(`{"error":{"code":"`)) {
			t.Fatalf("%s %s with %q: error body %q", rt.method, rt.path, body, a.body)
		}
	})
}
