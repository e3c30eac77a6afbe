package api

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/streamkey"
	"github.com/livestreams/livestreams/shared/testutil"
	"github.com/livestreams/livestreams/shared/token"
)

// TestEveryRoute walks each route of docs/api.md through its happy path,
// then checks that no answer on the way carried secret material it should
// not.
func TestEveryRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	adm, anon := e.admin, e.anon

	// Health, readiness, metrics, the document.
	if s := str(anon.must(200, "GET", "/healthz", nil).json(t), "status"); s != "ok" {
		t.Fatalf("healthz status %q", s)
	}
	anon.must(200, "GET", "/readyz", nil)
	if m := anon.must(200, "GET", "/metrics", nil); !bytes.Contains(m.body, []byte(`livestreams_http_requests_total{code="2xx",method="GET",route="/healthz"}`)) ||
		!bytes.Contains(m.body, []byte("go_goroutines")) || !bytes.Contains(m.body, []byte("livestreams_raft_leader 1")) {
		t.Fatalf("metrics lack the request counter, Go collector or raft gauge:\n%.2000s", m.body)
	}
	if doc := anon.must(200, "GET", "/v1/openapi.json", nil).json(t); str(doc, "openapi") != "3.0.3" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}

	// Me and orgs.
	me := adm.must(200, "GET", "/v1/me", nil).json(t)
	if me["org_id"] != e.orgA || me["role"] != "owner" || me["cluster_admin"] != true || me["user"] == nil || me["api_key"] != nil {
		t.Fatalf("me = %v", me)
	}
	orgB := adm.must(201, "POST", "/v1/orgs", map[string]any{"name": "Org B"}).json(t)
	if list := adm.must(200, "GET", "/v1/orgs", nil).json(t)["items"].([]any); len(list) != 2 {
		t.Fatalf("orgs = %v", list)
	}
	if o := adm.must(200, "GET", "/v1/orgs/"+e.orgA, nil).json(t); o["name"] != "Org A" {
		t.Fatalf("org = %v", o)
	}

	// Users and members.
	u := adm.must(201, "POST", "/v1/users", map[string]any{"email": "Bob@Example.com", "password": testPassword, "name": "Bob"}).json(t)
	if u["email"] != "bob@example.com" || u["admin"] != false {
		t.Fatalf("user = %v", u)
	}
	bob := str(u, "id")
	m := e.join(adm, e.orgA, "bob@example.com", "admin")
	if m["role"] != "admin" || m["email"] != "bob@example.com" || m["user_id"] != bob {
		t.Fatalf("member = %v", m)
	}
	members := adm.must(200, "GET", "/v1/orgs/"+e.orgA+"/members", nil).json(t)["items"].([]any)
	if len(members) != 2 {
		t.Fatalf("members = %v", members)
	}
	adm.must(204, "DELETE", "/v1/orgs/"+e.orgA+"/members/"+bob, nil)
	adm.must(404, "DELETE", "/v1/orgs/"+e.orgA+"/members/"+bob, nil)
	adm.must(204, "DELETE", "/v1/orgs/"+str(orgB, "id"), nil)
	adm.must(404, "GET", "/v1/orgs/"+str(orgB, "id"), nil)

	// API keys.
	ownerKey, k := e.key(adm, "ci", "owner", true)
	if k["prefix"] == "" || !strings.HasPrefix(str(k, "key"), str(k, "prefix")) || k["org_id"] != e.orgA || k["cluster_admin"] != true {
		t.Fatalf("created key = %v", k)
	}
	if me := ownerKey.must(200, "GET", "/v1/me", nil).json(t); me["api_key"] == nil || me["user"] != nil || me["role"] != "owner" {
		t.Fatalf("me with a key = %v", me)
	}
	_, tmp := e.key(ownerKey, "tmp", "", false)
	if tmp["role"] != "member" {
		t.Fatalf("default key role = %v", tmp["role"])
	}
	keys := ownerKey.must(200, "GET", "/v1/api-keys", nil).json(t)["items"].([]any)
	if len(keys) != 2 {
		t.Fatalf("keys = %v", keys)
	}
	ownerKey.must(204, "DELETE", "/v1/api-keys/"+str(tmp, "id"), nil)

	// Streams.
	s := ownerKey.must(201, "POST", "/v1/streams", map[string]any{"name": "Main stage"}).json(t)
	id, pid, key := str(s, "id"), str(s, "playback_id"), str(s, "stream_key")
	if !strings.HasPrefix(key, "sk_") || s["status"] != "idle" || s["current_session"] != nil || s["recording"] != true ||
		s["playback_policy"] != "public" || s["latency_mode"] != "standard" || s["ingest_url"] != "rtmp://edge-a.test:1935/live" ||
		s["playback_url"] != e.n.url+"/v1/play/"+pid+".m3u8" {
		t.Fatalf("created stream = %v", s)
	}
	got := ownerKey.must(200, "GET", "/v1/streams/"+id, nil).json(t)
	if _, has := got["stream_key"]; has || got["id"] != id {
		t.Fatalf("stream view = %v", got)
	}
	if list := ownerKey.must(200, "GET", "/v1/streams", nil).json(t)["items"].([]any); len(list) != 1 {
		t.Fatalf("streams = %v", list)
	}
	p := ownerKey.must(200, "PATCH", "/v1/streams/"+id, map[string]any{"name": "Renamed", "playback_policy": "signed",
		"recording": false, "latency_mode": "low", "disabled": false}).json(t)
	if p["name"] != "Renamed" || p["playback_policy"] != "signed" || p["recording"] != false || p["latency_mode"] != "low" {
		t.Fatalf("patched = %v", p)
	}
	if k := str(ownerKey.must(200, "GET", "/v1/streams/"+id+"/key", nil).json(t), "stream_key"); k != key {
		t.Fatalf("key = %q, want %q", k, key)
	}
	newKey := str(ownerKey.must(200, "POST", "/v1/streams/"+id+"/reset-key", nil).json(t), "stream_key")
	if newKey == key || !strings.HasPrefix(newKey, "sk_") {
		t.Fatalf("reset key = %q", newKey)
	}
	if k := str(ownerKey.must(200, "GET", "/v1/streams/"+id+"/key", nil).json(t), "stream_key"); k != newKey {
		t.Fatalf("key after reset = %q, want %q", k, newKey)
	}
	e.checkKeyIndex(key, newKey, id)

	// Sessions: one ended, one live, listed newest first; the view shows it.
	startSession(t, e.n, id, e.orgA, "ses_old", time.Now().Add(-time.Hour))
	endSession(t, e.n, "ses_old")
	startSession(t, e.n, id, e.orgA, "ses_new", time.Now())
	sess := ownerKey.must(200, "GET", "/v1/streams/"+id+"/sessions", nil).json(t)["items"].([]any)
	if len(sess) != 2 || sess[0].(map[string]any)["id"] != "ses_new" || sess[1].(map[string]any)["end_reason"] != "publisher_closed" {
		t.Fatalf("sessions = %v", sess)
	}
	live := ownerKey.must(200, "GET", "/v1/streams/"+id, nil).json(t)
	if live["status"] != "active" || live["current_session"].(map[string]any)["id"] != "ses_new" {
		t.Fatalf("live stream view = %v", live)
	}

	// Play.
	a := anon.must(302, "GET", "/v1/play/"+pid+".m3u8?token=abc.def&x=1", nil)
	if loc := a.header.Get("Location"); loc != "http://edge-a.test:8081/hls/"+pid+"/master.m3u8?token=abc.def&x=1" {
		t.Fatalf("play Location = %q", loc)
	}

	// Signing keys and tokens.
	sk := ownerKey.must(201, "POST", "/v1/signing-keys", nil).json(t)
	if !strings.Contains(str(sk, "private_pem"), "PRIVATE KEY") || sk["can_mint"] != true {
		t.Fatalf("signing key = %v", sk)
	}
	sks := ownerKey.must(200, "GET", "/v1/signing-keys", nil).json(t)["items"].([]any)
	if len(sks) != 1 || sks[0].(map[string]any)["can_mint"] != true {
		t.Fatalf("signing keys = %v", sks)
	}
	tok := ownerKey.must(200, "POST", "/v1/signing-keys/"+str(sk, "id")+"/tokens", map[string]any{"playback_id": pid, "ttl_seconds": 60}).json(t)
	pub, err := token.ParsePublicPEM(str(sk, "public_pem"))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := token.Verify(str(tok, "token"), token.Keys{str(sk, "id"): pub}, pid, time.Now())
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	exp, _ := time.Parse(time.RFC3339, str(tok, "expires_at"))
	if d := time.Until(exp); d < 50*time.Second || d > 61*time.Second || !claims.ExpiresAt.Equal(exp) {
		t.Fatalf("token expires %v (claims %v)", exp, claims.ExpiresAt)
	}
	ownerKey.must(204, "DELETE", "/v1/signing-keys/"+str(sk, "id"), nil)
	ownerKey.must(409, "POST", "/v1/signing-keys/"+str(sk, "id")+"/tokens", map[string]any{"playback_id": pid})

	// Cluster.
	cl := ownerKey.must(200, "GET", "/v1/cluster", nil).json(t)
	nodes := cl["nodes"].([]any)
	if cl["cluster_id"] != e.meta.ClusterID || cl["leader_id"] != "cp1" || len(nodes) != 1 ||
		nodes[0].(map[string]any)["state"] != "leader" || nodes[0].(map[string]any)["healthy"] != true || nodes[0].(map[string]any)["voter"] != true {
		t.Fatalf("cluster = %v", cl)
	}
	jt := ownerKey.must(201, "POST", "/v1/cluster/join-tokens", map[string]any{"description": "edge in fra"}).json(t)
	if !strings.HasPrefix(str(jt, "token"), "ljt_") {
		t.Fatalf("join token = %v", jt)
	}
	ownerKey.must(201, "POST", "/v1/cluster/join-tokens", nil)
	snap := ownerKey.must(200, "GET", "/v1/cluster/snapshot", nil)
	if snap.header.Get("Content-Type") != "application/octet-stream" || len(snap.body) < 1024 {
		t.Fatalf("snapshot: %s, %d bytes", snap.header.Get("Content-Type"), len(snap.body))
	}
	later := ownerKey.must(201, "POST", "/v1/streams", map[string]any{"name": "after the snapshot"}).json(t)
	ownerKey.must(204, "POST", "/v1/cluster/restore", snap.body)
	testutil.Eventually(t, 10*time.Second, "the restore to drop the later stream", func() bool {
		return ownerKey.do("GET", "/v1/streams/"+str(later, "id"), nil).status == 404
	})
	ownerKey.must(200, "GET", "/v1/streams/"+id, nil)
	ownerKey.must(400, "POST", "/v1/cluster/restore", []byte("not a snapshot at all"))

	// Deleting the stream last: it was live, which must not matter.
	ownerKey.must(204, "DELETE", "/v1/streams/"+id, nil)
	ownerKey.must(404, "GET", "/v1/streams/"+id, nil)
	anon.must(404, "GET", "/v1/play/"+pid+".m3u8", nil)

	checkNoSecrets(t, e.rec)
}

// checkKeyIndex asserts the old stream key no longer resolves and the new
// one does: what edges use to authorize a publish.
func (e *env) checkKeyIndex(oldKey, newKey, streamID string) {
	e.t.Helper()
	e.n.node.Store().View(func(tx *state.Tx) error {
		if _, err := tx.StreamByKeyHash(streamkey.Hash(e.meta.StreamKeySecret, oldKey)); !state.IsNotFound(err) {
			e.t.Errorf("old stream key still resolves: %v", err)
		}
		s, err := tx.StreamByKeyHash(streamkey.Hash(e.meta.StreamKeySecret, newKey))
		if err != nil || s.ID != streamID {
			e.t.Errorf("new stream key resolves to %q, %v", s.ID, err)
		}
		return nil
	})
}

func startSession(t testing.TB, n *testNode, streamID, orgID, id string, at time.Time) {
	t.Helper()
	sess := state.Session{ID: id, StreamID: streamID, OrgID: orgID, EdgeID: "edge-a", Protocol: "rtmp", StartedAt: at.UTC(),
		Source: &state.SourceInfo{Width: 1280, Height: 720, FPS: 30, HasVideo: true, HasAudio: true, VideoCodec: "h264", AudioCodec: "aac"}}
	if _, err := n.node.Apply(context.Background(), fsm.CmdStartSession, fsm.StartSession{Session: sess}); err != nil {
		t.Fatal(err)
	}
}

func endSession(t testing.TB, n *testNode, id string) {
	t.Helper()
	if _, err := n.node.Apply(context.Background(), fsm.CmdEndSession, fsm.EndSession{ID: id, Reason: "publisher_closed", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
}

func TestPlay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	s := e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "s"}).json(t)
	pid := str(s, "playback_id")
	if a := e.anon.must(409, "GET", "/v1/play/"+pid+".m3u8", nil); a.code() != "conflict" || !strings.Contains(string(a.body), "not live") {
		t.Fatalf("idle play: %s", a.body)
	}
	e.anon.must(404, "GET", "/v1/play/nosuchplaybackid.m3u8", nil)
	e.anon.must(404, "GET", "/v1/play/"+pid, nil)
	startSession(t, e.n, str(s, "id"), e.orgA, "ses_1", time.Now())
	a := e.anon.must(302, "GET", "/v1/play/"+pid+".m3u8?token="+url.QueryEscape("a.b.c"), nil)
	if loc := a.header.Get("Location"); !strings.HasSuffix(loc, "/master.m3u8?token=a.b.c") {
		t.Fatalf("Location %q", loc)
	}
	if a := e.anon.must(302, "GET", "/v1/play/"+pid+".m3u8", nil); strings.Contains(a.header.Get("Location"), "?") {
		t.Fatalf("Location without a query has one: %q", a.header.Get("Location"))
	}
	e.admin.must(200, "PATCH", "/v1/streams/"+str(s, "id"), map[string]any{"disabled": true})
	e.anon.must(409, "GET", "/v1/play/"+pid+".m3u8", nil)
}

func TestPlayWithoutDirectory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) { c.Directory = nil; c.PublicURL = "https://cp.example.com/" }})
	s := e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "s"}).json(t)
	if s["ingest_url"] != "" || s["playback_url"] != "https://cp.example.com/v1/play/"+str(s, "playback_id")+".m3u8" {
		t.Fatalf("stream without directory = %v", s)
	}
	startSession(t, e.n, str(s, "id"), e.orgA, "ses_1", time.Now())
	e.anon.must(409, "GET", "/v1/play/"+str(s, "playback_id")+".m3u8", nil)
}

func TestSignup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	// The token is burnt.
	a := e.anon.must(403, "POST", "/v1/auth/signup", map[string]any{"email": "second@example.com", "password": testPassword,
		"setup_token": testSetupToken})
	if a.code() != "forbidden" {
		t.Fatalf("second signup: %s", a.body)
	}
	e.n.node.Store().View(func(tx *state.Tx) error {
		if m, _, _ := tx.Meta(); m.SetupTokenHash != "" {
			t.Error("setup token hash still stored after setup")
		}
		return nil
	})
	// Signup is closed without it.
	e.anon.must(403, "POST", "/v1/auth/signup", map[string]any{"email": "third@example.com", "password": testPassword})
	// The first user is a cluster admin and owns the org.
	me := e.admin.must(200, "GET", "/v1/me", nil).json(t)
	if me["cluster_admin"] != true || me["role"] != "owner" || len(me["orgs"].([]any)) != 1 {
		t.Fatalf("me = %v", me)
	}
	// Input checks come before any of that.
	for _, body := range []map[string]any{
		{"email": "not-an-email", "password": testPassword},
		{"email": "Name <x@example.com>", "password": testPassword},
		{"email": "short@example.com", "password": "1234567"},
		{"password": testPassword},
	} {
		e.anon.must(400, "POST", "/v1/auth/signup", body)
	}
}

func TestOpenSignup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) { c.AllowSignup = true }})
	a := e.anon.must(201, "POST", "/v1/auth/signup", map[string]any{"email": "open@example.com", "password": testPassword}).json(t)
	c := e.anon.as(str(a, "token"))
	me := c.must(200, "GET", "/v1/me", nil).json(t)
	if me["cluster_admin"] != false || me["role"] != "owner" || me["org_id"] != a["org"].(map[string]any)["id"] {
		t.Fatalf("open signup me = %v", me)
	}
	e.anon.must(409, "POST", "/v1/auth/signup", map[string]any{"email": "OPEN@example.com", "password": testPassword})
	c.must(403, "GET", "/v1/cluster", nil)
}

// TestLogin uses the production argon2 parameters: it is the test of
// their timing.
func TestLogin(t *testing.T) {
	e := newEnv(t, nodeOpts{realHash: true})
	l := e.anon.must(200, "POST", "/v1/auth/login", map[string]any{"email": "ROOT@example.com", "password": testPassword}).json(t)
	exp, err := time.Parse(time.RFC3339, str(l, "expires_at"))
	if err != nil || time.Until(exp) < 14*time.Minute || time.Until(exp) > 16*time.Minute {
		t.Fatalf("expires_at %v (%v)", l["expires_at"], err)
	}
	if l["user"].(map[string]any)["email"] != "root@example.com" || str(l, "token") == "" {
		t.Fatalf("login = %v", l)
	}
	e.anon.as(str(l, "token")).must(200, "GET", "/v1/me", nil)

	wrong := e.anon.must(401, "POST", "/v1/auth/login", map[string]any{"email": "root@example.com", "password": "wrong password"})
	unknown := e.anon.must(401, "POST", "/v1/auth/login", map[string]any{"email": "nobody@example.com", "password": "wrong password"})
	if string(wrong.body) != string(unknown.body) || wrong.code() != "unauthorized" {
		t.Fatalf("wrong password %s vs unknown email %s", wrong.body, unknown.body)
	}
	// Both spend an argon2 hash: compare medians loosely.
	timeIt := func(email string) time.Duration {
		var best time.Duration
		for i := range 5 {
			start := time.Now()
			e.anon.must(401, "POST", "/v1/auth/login", map[string]any{"email": email, "password": "wrong password"})
			if d := time.Since(start); i == 0 || d < best {
				best = d
			}
		}
		return best
	}
	known, unknownT := timeIt("root@example.com"), timeIt("nobody@example.com")
	t.Logf("FIGURE login 401 time: wrong password %v, unknown email %v", known, unknownT)
	if unknownT < known/3 || known < unknownT/3 {
		t.Errorf("login times differ: wrong password %v, unknown email %v", known, unknownT)
	}
}

func TestSessionTokens(t *testing.T) {
	t.Parallel()
	var now time.Time
	clock := func() time.Time { return now }
	now = time.Now()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) { c.Now = func() time.Time { return clock() } }})
	e.admin.must(200, "GET", "/v1/me", nil)
	now = now.Add(16 * time.Minute)
	if a := e.admin.must(401, "GET", "/v1/me", nil); a.code() != "unauthorized" || a.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("expired token: %s", a.body)
	}
	for _, tok := range []string{"", "garbage", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c3JfeCJ9.", "lsk_unknownkey"} {
		e.anon.as(tok).must(401, "GET", "/v1/me", nil)
	}
	e.anon.must(401, "GET", "/v1/streams", nil, "Authorization", "Basic cm9vdDpwdw==")
}

func TestAPIKeyRevokeAndTouch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	kc, k := e.key(e.admin, "ci", "member", false)
	kc.must(200, "GET", "/v1/streams", nil)
	kc.must(200, "GET", "/v1/streams", nil)
	var lastUsed *time.Time
	testutil.Eventually(t, 5*time.Second, "last_used_at to be recorded", func() bool {
		e.n.node.Store().View(func(tx *state.Tx) error {
			got, _ := tx.APIKey(str(k, "id"))
			lastUsed = got.LastUsedAt
			return nil
		})
		return lastUsed != nil
	})
	// A second use within the minute does not write again.
	first := *lastUsed
	kc.must(200, "GET", "/v1/me", nil)
	time.Sleep(100 * time.Millisecond) // give a wrong touch the time to land; the check is that none does
	e.n.node.Store().View(func(tx *state.Tx) error {
		got, _ := tx.APIKey(str(k, "id"))
		if !got.LastUsedAt.Equal(first) {
			t.Errorf("last_used_at moved from %v to %v within a minute", first, got.LastUsedAt)
		}
		return nil
	})
	list := e.admin.must(200, "GET", "/v1/api-keys", nil).json(t)["items"].([]any)
	if list[0].(map[string]any)["last_used_at"] == nil {
		t.Fatalf("list shows no last_used_at: %v", list)
	}

	e.admin.must(204, "DELETE", "/v1/api-keys/"+str(k, "id"), nil)
	if a := kc.must(401, "GET", "/v1/streams", nil); a.code() != "unauthorized" {
		t.Fatalf("revoked key: %s", a.body)
	}
	list = e.admin.must(200, "GET", "/v1/api-keys", nil).json(t)["items"].([]any)
	if list[0].(map[string]any)["revoked_at"] == nil {
		t.Fatalf("revoked key shows no revoked_at: %v", list)
	}
}

// TestRoleRules checks the rules beyond a route's minimum role: nobody
// grants above their own role, keys cannot outrank their creator, an org
// keeps an owner.
func TestRoleRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	admin := e.user("admin@example.com", e.orgA, "admin")
	adminKey, _ := e.key(admin, "adm", "admin", false)
	target := str(e.admin.must(201, "POST", "/v1/users", map[string]any{"email": "t@example.com", "password": testPassword,
		"org_id": e.orgA, "role": "viewer"}).json(t), "id")
	rootID := str(e.adminU, "id")

	admin.must(403, "PUT", "/v1/orgs/"+e.orgA+"/members/"+target, map[string]any{"role": "owner"})
	admin.must(200, "PUT", "/v1/orgs/"+e.orgA+"/members/"+target, map[string]any{"role": "admin"})
	admin.must(403, "PUT", "/v1/orgs/"+e.orgA+"/members/"+rootID, map[string]any{"role": "viewer"})
	admin.must(403, "DELETE", "/v1/orgs/"+e.orgA+"/members/"+rootID, nil)
	admin.must(404, "PUT", "/v1/orgs/"+e.orgA+"/members/usr_nosuchuser", map[string]any{"role": "member"})
	admin.must(400, "PUT", "/v1/orgs/"+e.orgA+"/members/"+target, map[string]any{"role": "king"})
	admin.must(400, "PUT", "/v1/orgs/"+e.orgA+"/members/"+target, map[string]any{})

	admin.must(403, "POST", "/v1/api-keys", map[string]any{"name": "x", "role": "owner"})
	admin.must(403, "POST", "/v1/api-keys", map[string]any{"name": "x", "role": "admin", "cluster_admin": true})
	adminKey.must(403, "POST", "/v1/api-keys", map[string]any{"name": "x", "role": "owner"})
	_, ownerKey := e.key(e.admin, "owner", "owner", false)
	adminKey.must(403, "DELETE", "/v1/api-keys/"+str(ownerKey, "id"), nil)

	// The last owner stays; with a second owner the first may go.
	e.admin.must(409, "DELETE", "/v1/orgs/"+e.orgA+"/members/"+rootID, nil)
	e.admin.must(409, "PUT", "/v1/orgs/"+e.orgA+"/members/"+rootID, map[string]any{"role": "admin"})
	e.admin.must(200, "PUT", "/v1/orgs/"+e.orgA+"/members/"+target, map[string]any{"role": "owner"})
	e.admin.must(200, "PUT", "/v1/orgs/"+e.orgA+"/members/"+rootID, map[string]any{"role": "admin"})

	// A user in no org can create one and nothing else.
	loner := e.user("loner@example.com", "", "")
	if me := loner.must(200, "GET", "/v1/me", nil).json(t); me["org_id"] != "" || len(me["orgs"].([]any)) != 0 {
		t.Fatalf("loner me = %v", me)
	}
	loner.must(403, "GET", "/v1/streams", nil)
	o := loner.must(201, "POST", "/v1/orgs", map[string]any{"name": "Mine"}).json(t)
	if me := loner.must(200, "GET", "/v1/me", nil).json(t); me["org_id"] != o["id"] || me["role"] != "owner" {
		t.Fatalf("loner me after creating an org = %v", me)
	}
	// A user in two orgs picks one with the header.
	e.join(e.admin, e.orgA, "loner@example.com", "viewer")
	if me := loner.inOrg(e.orgA).must(200, "GET", "/v1/me", nil).json(t); me["org_id"] != e.orgA || me["role"] != "viewer" {
		t.Fatalf("me in org A = %v", me)
	}
	loner.inOrg(e.orgA).must(403, "POST", "/v1/streams", map[string]any{"name": "x"})
	loner.inOrg("org_nosuchorg").must(404, "GET", "/v1/me", nil)
}

func TestStreamKeyResetRefusesOldKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	s := e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "s"}).json(t)
	old := str(s, "stream_key")
	fresh := str(e.admin.must(200, "POST", "/v1/streams/"+str(s, "id")+"/reset-key", map[string]any{}).json(t), "stream_key")
	e.checkKeyIndex(old, fresh, str(s, "id"))
	e.admin.must(400, "POST", "/v1/streams/"+str(s, "id")+"/reset-key", map[string]any{"unexpected": 1})
}

func TestSigningKeyWithoutPrivateHalf(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	s := e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "s", "playback_policy": "signed"}).json(t)
	sk := e.admin.must(201, "POST", "/v1/signing-keys", map[string]any{"keep_private": false}).json(t)
	if !strings.Contains(str(sk, "private_pem"), "PRIVATE KEY") || sk["can_mint"] != false {
		t.Fatalf("created key = %v", sk)
	}
	e.n.node.Store().View(func(tx *state.Tx) error {
		k, _ := tx.SigningKey(e.orgA, str(sk, "id"))
		if k.PrivatePEM != "" {
			t.Error("private half stored without keep_private")
		}
		return nil
	})
	if a := e.admin.must(409, "POST", "/v1/signing-keys/"+str(sk, "id")+"/tokens", map[string]any{"playback_id": str(s, "playback_id")}); a.code() != "conflict" {
		t.Fatalf("mint without private half: %s", a.body)
	}
	kept := e.admin.must(201, "POST", "/v1/signing-keys", map[string]any{}).json(t)
	for _, ttl := range []any{0, -5, 1 << 40, "60"} {
		e.admin.must(400, "POST", "/v1/signing-keys/"+str(kept, "id")+"/tokens", map[string]any{"playback_id": str(s, "playback_id"), "ttl_seconds": ttl})
	}
	e.admin.must(400, "POST", "/v1/signing-keys/"+str(kept, "id")+"/tokens", map[string]any{})
	e.admin.must(404, "POST", "/v1/signing-keys/"+str(kept, "id")+"/tokens", map[string]any{"playback_id": "nosuchplaybackid"})
	e.admin.must(404, "POST", "/v1/signing-keys/sig_nosuchkey/tokens", map[string]any{"playback_id": str(s, "playback_id")})
	e.admin.must(404, "DELETE", "/v1/signing-keys/sig_nosuchkey", nil)
}

func TestJoinTokensUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) { c.JoinTokens = nil }})
	if a := e.admin.must(503, "POST", "/v1/cluster/join-tokens", map[string]any{}); a.code() != "unavailable" {
		t.Fatalf("join tokens without a maker: %s", a.body)
	}
}

func TestConsistentRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	e.admin.must(200, "GET", "/v1/streams?consistent=1", nil)
	e.admin.must(200, "GET", "/v1/streams", nil, "X-Livestreams-Consistent", "1")
}
