package api

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/livestreams/livestreams/controlplane/api/auth"
)

// The tests in this file keep what the issue 12 probe of a running
// cluster found already refused: they guard behaviour that is right.

// TestRouteAuthTable sends every authenticated route of the route table
// no credentials and each kind of bad one: every answer is 401
// unauthorized, whatever the route, its method or its path parameters.
func TestRouteAuthTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	_, revokedView := e.key(e.admin, "revoked", "owner", true)
	e.admin.must(204, "DELETE", "/v1/api-keys/"+str(revokedView, "id"), nil)
	now := time.Now()
	uid := str(e.adminU, "id")
	expired, _, err := auth.IssueSession(e.meta.SessionSecret, uid, now.Add(-auth.SessionTTL-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	otherSecret, _, _ := auth.IssueSession(randomBytes(32), uid, now)
	creds := map[string][]string{
		"none":             nil,
		"empty bearer":     {"Authorization", "Bearer "},
		"basic":            {"Authorization", "Basic cm9vdDpwdw=="},
		"garbage":          {"Authorization", "Bearer garbage"},
		"unknown key":      {"Authorization", "Bearer lsk_unknownkey0123456789"},
		"revoked key":      {"Authorization", "Bearer " + str(revokedView, "key")},
		"expired session":  {"Authorization", "Bearer " + expired},
		"other secret":     {"Authorization", "Bearer " + otherSecret},
		"token as scheme":  {"Authorization", expired},
		"oversized bearer": {"Authorization", "Bearer " + strings.Repeat("a", 8<<10)},
	}
	n := 0
	for _, rt := range routeTable() {
		if !rt.access.authenticated {
			continue
		}
		n++
		path := rt.path
		for strings.Contains(path, "{") {
			i, j := strings.Index(path, "{"), strings.Index(path, "}")
			path = path[:i] + "x1" + path[j+1:]
		}
		for name, hdr := range creds {
			a := e.anon.do(rt.method, path, nil, hdr...)
			if a.status != 401 || a.code() != "unauthorized" {
				t.Errorf("%s %s with %s credentials: %d %.200s, want 401 unauthorized", rt.method, path, name, a.status, a.body)
			}
		}
	}
	if n < 50 {
		t.Fatalf("only %d authenticated routes in the table", n)
	}
	t.Logf("%d authenticated routes × %d bad credentials refused", n, len(creds))
	checkNoSecrets(t, e.rec)
}

// TestJWTForgeries sends session tokens an attacker could make: each is
// refused with 401, while the genuine token of the same user works.
func TestJWTForgeries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	e.admin.must(200, "GET", "/v1/me", nil)
	secret := e.meta.SessionSecret
	uid := str(e.adminU, "id")
	now := time.Now()
	claims := func(edit func(*jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "livestreams", "sub": uid, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		t.Helper()
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// A genuine token made here the way the server makes them works, so
	// the refusals below are for what was changed.
	e.anon.as(sign(jwt.SigningMethodHS256, secret, claims(nil))).must(200, "GET", "/v1/me", nil)

	pubPEM := str(e.admin.must(201, "POST", "/v1/signing-keys", nil).json(t), "public_pem")
	caPEM := e.admin.must(200, "GET", "/v1/cluster/ca", nil).body
	genuine := sign(jwt.SigningMethodHS256, secret, claims(nil))
	parts := strings.Split(genuine, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	tamper := func(c jwt.MapClaims) string {
		raw, _ := json.Marshal(c)
		return parts[0] + "." + b64(raw) + "." + parts[2]
	}
	other := e.user("other@example.com", e.orgA, "viewer")
	_ = other
	otherID := ""
	for _, m := range e.admin.must(200, "GET", "/v1/orgs/"+e.orgA+"/members", nil).json(t)["items"].([]any) {
		if mm := m.(map[string]any); mm["email"] == "other@example.com" {
			otherID = str(mm, "user_id")
		}
	}
	if otherID == "" {
		t.Fatal("the second user is not a member")
	}
	otherParts := strings.Split(other.token, ".")

	forged := map[string]string{
		"alg none": sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"alg none, no signature dot": strings.TrimSuffix(
			sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), "."),
		"alg NONE header": b64([]byte(`{"alg":"NONE","typ":"JWT"}`)) + "." + strings.Split(genuine, ".")[1] + ".",
		"HS256 keyed with a signing key's public PEM": sign(jwt.SigningMethodHS256, []byte(pubPEM), claims(nil)),
		"HS256 keyed with the cluster CA answer":      sign(jwt.SigningMethodHS256, caPEM, claims(nil)),
		"HS512 with the real secret":                  sign(jwt.SigningMethodHS512, secret, claims(nil)),
		"HS384 with the real secret":                  sign(jwt.SigningMethodHS384, secret, claims(nil)),
		"wrong secret":                                sign(jwt.SigningMethodHS256, randomBytes(32), claims(nil)),
		"half the secret":                             sign(jwt.SigningMethodHS256, secret[:16], claims(nil)),
		"signature flipped":                           parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"signature dropped":                           parts[0] + "." + parts[1] + ".",
		"expired": sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.MapClaims) {
			(*c)["exp"] = now.Add(-time.Minute).Unix()
		})),
		"no expiry": sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.MapClaims) { delete(*c, "exp") })),
		"not yet valid": sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.MapClaims) {
			(*c)["nbf"] = now.Add(time.Hour).Unix()
		})),
		"issued in the future": sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.MapClaims) {
			(*c)["iat"] = now.Add(time.Hour).Unix()
		})),
		"wrong issuer": sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.MapClaims) { (*c)["iss"] = "evil" })),
		"no issuer":    sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.MapClaims) { delete(*c, "iss") })),
		"wrong audience, forged": sign(jwt.SigningMethodHS256, randomBytes(32), claims(func(c *jwt.MapClaims) {
			(*c)["aud"] = "livestreams"
		})),
		"no subject":       sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.MapClaims) { delete(*c, "sub") })),
		"tampered subject": tamper(claims(func(c *jwt.MapClaims) { (*c)["sub"] = otherID })),
		"tampered org and role claims": tamper(claims(func(c *jwt.MapClaims) {
			(*c)["org_id"], (*c)["role"], (*c)["admin"] = e.orgA, "owner", true
		})),
		"viewer's payload, admin's signature": otherParts[0] + "." + otherParts[1] + "." + parts[2],
		"admin's payload, viewer's signature": parts[0] + "." + parts[1] + "." + otherParts[2],
		"deleted (unknown) user":              sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.MapClaims) { (*c)["sub"] = "usr_deleted0000" })),
		"four segments":                       genuine + ".x",
		"two segments":                        parts[0] + "." + parts[1],
		"oversized":                           sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.MapClaims) { (*c)["pad"] = strings.Repeat("p", 5000) })),
	}
	for name, tok := range forged {
		for _, path := range []string{"/v1/me", "/v1/streams", "/v1/cluster"} {
			if a := e.anon.as(tok).do("GET", path, nil); a.status != 401 || a.code() != "unauthorized" {
				t.Errorf("%s: GET %s = %d %.200s, want 401", name, path, a.status, a.body)
			}
		}
	}
	// The viewer's own token still works and still is only a viewer.
	if me := other.must(200, "GET", "/v1/me", nil).json(t); me["role"] != "viewer" || me["cluster_admin"] == true {
		t.Errorf("the viewer's /v1/me = %v", me)
	}
	checkNoSecrets(t, e.rec)
}

// flip changes the first character of a base64url signature.
func flip(s string) string {
	if s == "" {
		return "A"
	}
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

// TestTenantIsolationMore points org A at org B's objects through the
// routes TestTenantIsolation does not cover: ingest, analytics, captions,
// the WHIP proxy, invitations and uploads. Every answer is 404 not_found,
// never 403, and never carries B's data.
func TestTenantIsolationMore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	aKey, _ := e.key(e.admin, "a-owner", "owner", false)
	B := str(e.admin.must(201, "POST", "/v1/orgs", map[string]any{"name": "Org B"}).json(t), "id")
	bKey, _ := e.key(e.admin.inOrg(B), "b-owner", "owner", false)
	// A user who owns only org A (the setup user is a cluster admin and may
	// act in any org).
	aUser := e.user("owner-a@example.com", e.orgA, "owner")
	bStream := bKey.must(201, "POST", "/v1/streams", map[string]any{"name": "B's stream"}).json(t)
	bs, bStreamKey := str(bStream, "id"), str(bStream, "stream_key")
	bAsset := e.readyAsset(B).ID
	bInv := str(bKey.must(201, "POST", "/v1/orgs/"+B+"/invitations", map[string]any{"email": "invitee@example.com", "role": "viewer"}).json(t), "id")
	bUpload := bKey.must(201, "POST", "/v1/uploads", map[string]any{"size": 10}).json(t)
	bUploadAsset := str(bUpload["asset"].(map[string]any), "id")

	reqs := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/streams/" + bs + "/ingest", nil},
		{"GET", "/v1/analytics?stream_id=" + bs, nil},
		{"GET", "/v1/analytics?asset_id=" + bAsset, nil},
		{"GET", "/v1/analytics?stream_id=" + bs + "&group_by=country", nil},
		{"POST", "/v1/assets/" + bAsset + "/captions", map[string]any{"language": "en"}},
		{"POST", "/v1/streams/" + bs + "/whip", sdpOffer},
		{"PATCH", "/v1/streams/" + bs + "/whip/bm9uZQ", ""},
		{"DELETE", "/v1/streams/" + bs + "/whip/bm9uZQ", nil},
		{"GET", "/v1/orgs/" + B + "/invitations", nil},
		{"POST", "/v1/orgs/" + B + "/invitations", map[string]any{"email": "x@example.com", "role": "owner"}},
		{"DELETE", "/v1/orgs/" + B + "/invitations/" + bInv, nil},
		{"GET", "/v1/assets/" + bUploadAsset, nil},
		{"DELETE", "/v1/assets/" + bUploadAsset, nil},
		{"POST", "/v1/invitations/" + bInv + "/accept", nil},
	}
	for _, c := range []struct {
		name string
		c    *rawClient
		user bool
	}{{"A's owner key", aKey, false}, {"A's owner user", aUser, true}, {"A's owner key naming org B", aKey.inOrg(B), false}} {
		for _, r := range reqs {
			if strings.HasPrefix(r.path, "/v1/invitations/") && !c.user {
				continue // a key never answers invitations (403 at the gate)
			}
			a := c.c.do(r.method, r.path, r.body)
			if a.status != 404 || a.code() != "not_found" {
				t.Errorf("%s: %s %s = %d %.200s, want 404", c.name, r.method, r.path, a.status, a.body)
			}
			for _, secret := range []string{bStreamKey, bs, bAsset, "invitee@example.com"} {
				if strings.Contains(string(a.body), secret) && !strings.Contains(r.path, secret) {
					t.Errorf("%s: %s %s answer carries B's %q", c.name, r.method, r.path, secret)
				}
			}
		}
	}
	// A user naming org B in the header is in no org there: its upload
	// and every org-scoped read is 404.
	for _, r := range []struct{ method, path string }{{"POST", "/v1/uploads"}, {"GET", "/v1/jobs"}, {"GET", "/v1/assets"},
		{"GET", "/v1/analytics?stream_id=" + bs}, {"GET", "/v1/signing-keys"}, {"GET", "/v1/streams/" + bs + "/sessions"}} {
		var body any
		if r.method == "POST" {
			body = map[string]any{"size": 10}
		}
		if a := aUser.inOrg(B).do(r.method, r.path, body); a.status != 404 {
			t.Errorf("A's user in org B: %s %s = %d %.200s, want 404", r.method, r.path, a.status, a.body)
		}
	}
	// B's objects are intact.
	bKey.must(200, "GET", "/v1/streams/"+bs+"/ingest", nil)
	if got := bKey.must(200, "GET", "/v1/orgs/"+B+"/invitations", nil).json(t)["items"].([]any); len(got) != 1 {
		t.Errorf("B's invitations = %v", got)
	}
	bKey.must(200, "GET", "/v1/assets/"+bUploadAsset, nil)
	if k := str(bKey.must(200, "GET", "/v1/streams/"+bs+"/key", nil).json(t), "stream_key"); k != bStreamKey {
		t.Error("B's stream key changed")
	}
}

// TestHugeAndDeepJSON sends bodies over the 1 MiB limit to write routes
// (413) and 10,000- and 100,000-level nested JSON (400): the server
// answers in the documented shape and keeps serving.
func TestHugeAndDeepJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	sid := str(e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "s"}).json(t), "id")
	sig := str(e.admin.must(201, "POST", "/v1/signing-keys", nil).json(t), "id")
	ast := e.readyAsset(e.orgA).ID
	routes := []struct{ method, path string }{
		{"POST", "/v1/streams"}, {"PATCH", "/v1/streams/" + sid}, {"POST", "/v1/api-keys"}, {"POST", "/v1/orgs"},
		{"POST", "/v1/users"}, {"POST", "/v1/uploads"}, {"POST", "/v1/signing-keys/" + sig + "/tokens"},
		{"POST", "/v1/assets/" + ast + "/clips"}, {"PATCH", "/v1/assets/" + ast}, {"POST", "/v1/orgs/" + e.orgA + "/invitations"},
		{"POST", "/v1/auth/signup"}, {"POST", "/v1/auth/login"}, {"POST", "/v1/cluster/join-tokens"},
	}
	huge := `{"name":"` + strings.Repeat("x", 1<<20+1) + `"}`
	hugeSpace := "{" + strings.Repeat(" ", 2<<20) + "}"
	deep := func(n int) string { return `{"name":` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}" }
	deepObj := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	for _, r := range routes {
		for _, c := range []struct {
			name, body string
			status     int
		}{
			{"1 MiB string", huge, 413},
			{"2 MiB of spaces", hugeSpace, 413},
			{"10,000-level array", deep(10_000), 400},
			{"100,000-level array", deep(100_000), 400},
			{"10,000-level object", deepObj(10_000), 400},
		} {
			a := e.admin.do(r.method, r.path, c.body)
			if a.status != c.status {
				t.Errorf("%s %s with a %s: %d %.200s, want %d", r.method, r.path, c.name, a.status, a.body, c.status)
			}
			if !strings.HasPrefix(string(a.body), `{"error":{"code":"`) {
				t.Errorf("%s %s with a %s: body %.200q not the error shape", r.method, r.path, c.name, a.body)
			}
		}
	}
	e.admin.must(200, "GET", "/v1/me", nil)
}
