package api

import (
	"fmt"
	"testing"

	"github.com/livestreams/livestreams/controlplane/state"
)

// who is one principal of the matrix.
type who struct {
	name    string
	c       *rawClient
	role    state.Role
	user    bool // a session token rather than an API key
	cluster bool // a cluster admin
}

func (w who) may(need string) bool {
	switch need {
	case "any":
		return true
	case "user":
		return w.user
	case "cluster":
		return w.cluster
	}
	return w.role.Rank() >= state.Role(need).Rank()
}

// matrixCase is one route with what it needs; req builds the request for
// principal number i, creating any object a permitted call would consume.
type matrixCase struct {
	need string
	req  func(i int) (method, path string, body any)
	// want is the status of a permitted call (0: any 2xx); cluster routes
	// that would reshape the cluster are sent bodies that fail validation
	// just past the gate.
	want int
}

// TestRoleMatrix sends every route to viewer, member, admin and owner API
// keys and session tokens (and cluster admins of both kinds) and checks
// each is let through or refused with 403 exactly as docs/api.md says.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	var principals []who
	for _, r := range []state.Role{state.RoleViewer, state.RoleMember, state.RoleAdmin, state.RoleOwner} {
		kc, _ := e.key(e.admin, "k-"+string(r), string(r), false)
		principals = append(principals,
			who{name: string(r) + " key", c: kc, role: r},
			who{name: string(r) + " user", c: e.user(string(r)+"@example.com", e.orgA, string(r)), role: r, user: true})
	}
	clusterKey, _ := e.key(e.admin, "cluster", "owner", true)
	principals = append(principals,
		who{name: "cluster-admin key", c: clusterKey, role: state.RoleOwner, cluster: true},
		who{name: "cluster-admin user", c: e.admin, role: state.RoleOwner, user: true, cluster: true})

	stream := e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "shared"}).json(t)
	sid, pid := str(stream, "id"), str(stream, "playback_id")
	sig := str(e.admin.must(201, "POST", "/v1/signing-keys", nil).json(t), "id")
	n := 0
	fresh := func(prefix string) string { n++; return fmt.Sprintf("%s%d", prefix, n) }
	newUser := func() string { // a viewer of org A
		return str(e.admin.must(201, "POST", "/v1/users", map[string]any{"email": fresh("u") + "@example.com", "password": testPassword,
			"org_id": e.orgA, "role": "viewer"}).json(t), "id")
	}
	// invitedAs is an invitation to org A addressed to principal i (a
	// user); the key principals never get past the gate.
	invitedAs := func(i int) string {
		if !principals[i].user {
			return "inv_none"
		}
		email := str(principals[i].c.must(200, "GET", "/v1/me", nil).json(t)["user"].(map[string]any), "email")
		return str(e.admin.must(201, "POST", "/v1/orgs/"+e.orgA+"/invitations", map[string]any{"email": email, "role": "viewer"}).json(t), "id")
	}
	newStream := func() string {
		return str(e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": fresh("s")}).json(t), "id")
	}
	newRestreamTarget := func() string {
		base := "/v1/streams/" + newStream() + "/restream-targets"
		return base + "/" + str(e.admin.must(201, "POST", base, map[string]any{"name": "t", "preset": "kick", "key": "sk_kick_1"}).json(t), "id")
	}
	newWebhook := func() string {
		return "/v1/webhooks/" + str(e.admin.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://example.com/hook"}).json(t), "id")
	}
	hook := newWebhook()
	delivery := "/v1/webhooks/deliveries/" + str(e.admin.must(202, "POST", hook+"/test", nil).json(t), "id")
	A := "/v1/orgs/" + e.orgA
	aid := e.readyAsset(e.orgA).ID
	clipJob := str(e.admin.must(201, "POST", "/v1/assets/"+aid+"/clips", map[string]any{"start": 0, "end": 5}).json(t)["job"].(map[string]any), "id")

	cases := map[string]matrixCase{
		"GET /v1/me":    {need: "any", req: func(int) (string, string, any) { return "GET", "/v1/me", nil }},
		"GET /v1/orgs":  {need: "any", req: func(int) (string, string, any) { return "GET", "/v1/orgs", nil }},
		"POST /v1/orgs": {need: "user", req: func(int) (string, string, any) { return "POST", "/v1/orgs", map[string]any{"name": fresh("o")} }},
		"GET org":       {need: "viewer", req: func(int) (string, string, any) { return "GET", A, nil }},
		"DELETE org":    {need: "owner", want: -1, req: func(int) (string, string, any) { return "DELETE", A, nil }},
		"GET members":   {need: "viewer", req: func(int) (string, string, any) { return "GET", A + "/members", nil }},
		"PUT member": {need: "admin", req: func(int) (string, string, any) {
			return "PUT", A + "/members/" + newUser(), map[string]any{"role": "viewer"}
		}},
		"DELETE member": {need: "admin", req: func(int) (string, string, any) {
			return "DELETE", A + "/members/" + newUser(), nil
		}},
		"POST invitation": {need: "admin", req: func(int) (string, string, any) {
			return "POST", A + "/invitations", map[string]any{"email": fresh("i") + "@example.com", "role": "viewer"}
		}},
		"GET org invitations": {need: "admin", req: func(int) (string, string, any) { return "GET", A + "/invitations", nil }},
		"DELETE invitation": {need: "admin", req: func(int) (string, string, any) {
			id := str(e.admin.must(201, "POST", A+"/invitations", map[string]any{"email": fresh("i") + "@example.com"}).json(t), "id")
			return "DELETE", A + "/invitations/" + id, nil
		}},
		"GET /v1/invitations": {need: "user", req: func(int) (string, string, any) { return "GET", "/v1/invitations", nil }},
		"POST accept": {need: "user", req: func(i int) (string, string, any) {
			return "POST", "/v1/invitations/" + invitedAs(i) + "/accept", nil
		}},
		"POST decline": {need: "user", req: func(i int) (string, string, any) {
			return "POST", "/v1/invitations/" + invitedAs(i) + "/decline", nil
		}},
		"POST /v1/users": {need: "cluster", req: func(int) (string, string, any) {
			return "POST", "/v1/users", map[string]any{"email": fresh("new") + "@example.com", "password": testPassword}
		}},
		"GET /v1/api-keys": {need: "admin", req: func(int) (string, string, any) { return "GET", "/v1/api-keys", nil }},
		"POST /v1/api-keys": {need: "admin", req: func(int) (string, string, any) {
			return "POST", "/v1/api-keys", map[string]any{"name": "x", "role": "viewer"}
		}},
		"DELETE api-key": {need: "admin", req: func(int) (string, string, any) {
			return "DELETE", "/v1/api-keys/" + str(e.admin.must(201, "POST", "/v1/api-keys", map[string]any{"name": "v", "role": "viewer"}).json(t), "id"), nil
		}},
		"GET /v1/streams":  {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/streams", nil }},
		"POST /v1/streams": {need: "member", req: func(int) (string, string, any) { return "POST", "/v1/streams", map[string]any{"name": "n"} }},
		"GET stream":       {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/streams/" + sid, nil }},
		"PATCH stream": {need: "member", req: func(int) (string, string, any) {
			return "PATCH", "/v1/streams/" + sid, map[string]any{"name": fresh("r")}
		}},
		"DELETE stream":     {need: "admin", req: func(int) (string, string, any) { return "DELETE", "/v1/streams/" + newStream(), nil }},
		"GET stream key":    {need: "member", req: func(int) (string, string, any) { return "GET", "/v1/streams/" + sid + "/key", nil }},
		"POST reset-key":    {need: "member", req: func(int) (string, string, any) { return "POST", "/v1/streams/" + sid + "/reset-key", nil }},
		"GET sessions":      {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/streams/" + sid + "/sessions", nil }},
		"GET signing-keys":  {need: "admin", req: func(int) (string, string, any) { return "GET", "/v1/signing-keys", nil }},
		"POST signing-keys": {need: "admin", req: func(int) (string, string, any) { return "POST", "/v1/signing-keys", nil }},
		"DELETE signing-key": {need: "admin", req: func(int) (string, string, any) {
			return "DELETE", "/v1/signing-keys/" + str(e.admin.must(201, "POST", "/v1/signing-keys", nil).json(t), "id"), nil
		}},
		"POST tokens": {need: "member", req: func(int) (string, string, any) {
			return "POST", "/v1/signing-keys/" + sig + "/tokens", map[string]any{"playback_id": pid}
		}},
		"GET /v1/cluster":    {need: "cluster", req: func(int) (string, string, any) { return "GET", "/v1/cluster", nil }},
		"POST members":       {need: "cluster", want: 400, req: func(int) (string, string, any) { return "POST", "/v1/cluster/members", map[string]any{"id": "cp9"} }},
		"DELETE member node": {need: "cluster", want: 404, req: func(int) (string, string, any) { return "DELETE", "/v1/cluster/members/cp9", nil }},
		"GET snapshot":       {need: "cluster", req: func(int) (string, string, any) { return "GET", "/v1/cluster/snapshot", nil }},
		"POST restore":       {need: "cluster", want: 400, req: func(int) (string, string, any) { return "POST", "/v1/cluster/restore", []byte("garbage") }},
		"POST join-tokens":   {need: "cluster", req: func(int) (string, string, any) { return "POST", "/v1/cluster/join-tokens", map[string]any{} }},
		"GET ingest":         {need: "member", req: func(int) (string, string, any) { return "GET", "/v1/streams/" + sid + "/ingest", nil }},
		"GET nodes":          {need: "cluster", req: func(int) (string, string, any) { return "GET", "/v1/nodes", nil }},
		"DELETE node":        {need: "cluster", want: 404, req: func(int) (string, string, any) { return "DELETE", "/v1/nodes/edge9", nil }},
		"GET join-tokens":    {need: "cluster", req: func(int) (string, string, any) { return "GET", "/v1/cluster/join-tokens", nil }},
		"DELETE join-token":  {need: "cluster", want: 404, req: func(int) (string, string, any) { return "DELETE", "/v1/cluster/join-tokens/0000000000000000", nil }},
		"GET ca":             {need: "cluster", req: func(int) (string, string, any) { return "GET", "/v1/cluster/ca", nil }},
		"POST ca rotate": {need: "cluster", want: 409, req: func(int) (string, string, any) {
			return "POST", "/v1/cluster/ca/rotate", map[string]any{"expect_current": "not-the-current-ca"}
		}},
		"POST ca finish": {need: "cluster", want: 409, req: func(int) (string, string, any) { return "POST", "/v1/cluster/ca/finish", nil }},
		"POST drain":     {need: "cluster", want: 404, req: func(int) (string, string, any) { return "POST", "/v1/nodes/edge9/drain", nil }},
		"DELETE drain":   {need: "cluster", want: 404, req: func(int) (string, string, any) { return "DELETE", "/v1/nodes/edge9/drain", nil }},
		"GET route":      {need: "cluster", want: 409, req: func(int) (string, string, any) { return "GET", "/v1/route?playback_id=" + pid, nil }},
		"GET analytics":  {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/analytics?stream_id=" + sid, nil }},
		"GET /v1/assets": {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/assets", nil }},
		"GET asset":      {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/assets/" + aid, nil }},
		// The fake fleet offers no WHIP: a permitted offer gets as far as
		// choosing an edge, a permitted DELETE or PATCH as far as finding
		// the session.
		"POST whip":   {need: "member", want: 503, req: func(int) (string, string, any) { return "POST", "/v1/streams/" + sid + "/whip", sdpOffer }},
		"PATCH whip":  {need: "member", want: 404, req: func(int) (string, string, any) { return "PATCH", "/v1/streams/" + sid + "/whip/bm9uZQ", "" }},
		"DELETE whip": {need: "member", want: 404, req: func(int) (string, string, any) { return "DELETE", "/v1/streams/" + sid + "/whip/bm9uZQ", nil }},
		"PATCH asset": {need: "member", req: func(int) (string, string, any) {
			return "PATCH", "/v1/assets/" + aid, map[string]any{"playback_policy": "signed"}
		}},
		"DELETE asset": {need: "member", req: func(int) (string, string, any) { return "DELETE", "/v1/assets/" + e.readyAsset(e.orgA).ID, nil }},
		"POST clips": {need: "member", req: func(int) (string, string, any) {
			return "POST", "/v1/assets/" + aid + "/clips", map[string]any{"start": 1, "end": 3.5}
		}},
		"POST captions": {need: "member", req: func(i int) (string, string, any) {
			return "POST", "/v1/assets/" + aid + "/captions", map[string]any{"language": fmt.Sprintf("x%c", 'a'+i)}
		}},
		"POST uploads": {need: "member", req: func(int) (string, string, any) { return "POST", "/v1/uploads", map[string]any{"size": 1000} }},
		"GET /v1/jobs": {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/jobs", nil }},
		"GET job":      {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/jobs/" + clipJob, nil }},
		"DELETE job":   {need: "member", req: func(int) (string, string, any) { return "DELETE", "/v1/jobs/" + e.queuedJob(e.orgA).ID, nil }},

		"GET job log":       {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/jobs/" + clipJob + "/log", nil }},
		"POST events token": {need: "viewer", req: func(int) (string, string, any) { return "POST", "/v1/events/token", nil }},

		"GET /v1/webhooks": {need: "admin", req: func(int) (string, string, any) { return "GET", "/v1/webhooks", nil }},
		"POST /v1/webhooks": {need: "admin", req: func(int) (string, string, any) {
			return "POST", "/v1/webhooks", map[string]any{"url": "https://example.com/" + fresh("h"), "event_types": []string{"asset.ready"}}
		}},
		"GET webhook":            {need: "admin", req: func(int) (string, string, any) { return "GET", hook, nil }},
		"PATCH webhook":          {need: "admin", req: func(int) (string, string, any) { return "PATCH", hook, map[string]any{"description": fresh("d")} }},
		"DELETE webhook":         {need: "admin", req: func(int) (string, string, any) { return "DELETE", newWebhook(), nil }},
		"POST rotate-secret":     {need: "admin", req: func(int) (string, string, any) { return "POST", hook + "/rotate-secret", nil }},
		"POST webhook test":      {need: "admin", req: func(int) (string, string, any) { return "POST", hook + "/test", nil }},
		"GET webhook deliveries": {need: "admin", req: func(int) (string, string, any) { return "GET", hook + "/deliveries", nil }},
		"GET delivery":           {need: "admin", req: func(int) (string, string, any) { return "GET", delivery, nil }},
		"POST redeliver":         {need: "admin", req: func(int) (string, string, any) { return "POST", delivery + "/redeliver", nil }},

		"GET restream-targets": {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/streams/" + sid + "/restream-targets", nil }},
		"POST restream-targets": {need: "member", req: func(int) (string, string, any) {
			return "POST", "/v1/streams/" + newStream() + "/restream-targets", map[string]any{"name": "t", "preset": "twitch", "key": "live_123"}
		}},
		"GET restream-target": {need: "viewer", req: func(int) (string, string, any) { return "GET", newRestreamTarget(), nil }},
		"PATCH restream-target": {need: "member", req: func(int) (string, string, any) {
			return "PATCH", newRestreamTarget(), map[string]any{"enabled": false}
		}},
		"DELETE restream-target": {need: "member", req: func(int) (string, string, any) { return "DELETE", newRestreamTarget(), nil }},

		// No OAuth app is configured here: a permitted start gets as far
		// as the provider check, an unlink or a target as far as looking
		// the account up.
		"GET oauth start":       {need: "member", want: 503, req: func(int) (string, string, any) { return "GET", "/v1/oauth/youtube/start", nil }},
		"GET linked-accounts":   {need: "viewer", req: func(int) (string, string, any) { return "GET", "/v1/linked-accounts", nil }},
		"DELETE linked-account": {need: "member", want: 404, req: func(int) (string, string, any) { return "DELETE", "/v1/linked-accounts/lac_none", nil }},
		"POST from-account": {need: "member", want: 404, req: func(int) (string, string, any) {
			return "POST", "/v1/streams/" + sid + "/restream-targets/from-account", map[string]any{"linked_account_id": "lac_none"}
		}},
	}
	guarded := 0
	for _, rt := range routeTable() {
		if rt.access.authenticated {
			guarded++ // not the health, document and play routes, nor the two auth routes
		}
	}
	if len(cases) != guarded {
		t.Fatalf("the matrix has %d routes, the API %d guarded ones", len(cases), guarded)
	}
	allowedCount, deniedCount := 0, 0
	for name, mc := range cases {
		for i, w := range principals {
			if mc.want == -1 && w.may(mc.need) {
				continue // deleting the org is run last, below
			}
			method, path, body := mc.req(i)
			a := w.c.do(method, path, body)
			switch {
			case !w.may(mc.need):
				deniedCount++
				if a.status != 403 || a.code() != "forbidden" {
					t.Errorf("%s as %s: %d %s, want 403 forbidden", name, w.name, a.status, a.body)
				}
			case mc.want != 0:
				allowedCount++
				if a.status != mc.want {
					t.Errorf("%s as %s: %d %s, want %d", name, w.name, a.status, a.body, mc.want)
				}
			default:
				allowedCount++
				if a.status < 200 || a.status > 299 {
					t.Errorf("%s as %s: %d %s, want 2xx", name, w.name, a.status, a.body)
				}
			}
		}
	}
	t.Logf("matrix: %d permitted and %d refused calls", allowedCount, deniedCount)

	// Owners may delete their org: an owner user a fresh org of theirs, and
	// an owner key its own org (the end of this test's org A).
	owner := principals[7]
	o := str(owner.c.must(201, "POST", "/v1/orgs", map[string]any{"name": "to delete"}).json(t), "id")
	owner.c.must(204, "DELETE", "/v1/orgs/"+o, nil)
	principals[6].c.must(204, "DELETE", A, nil)
	e.admin.must(404, "GET", A, nil)
	principals[6].c.must(401, "GET", "/v1/me", nil) // its org's keys went with it
}

// TestTenantIsolation points org A's owner (key and session) at every
// object of org B by id: each answer is 404, never 403, and B's objects
// are untouched afterwards.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	aKey, _ := e.key(e.admin, "a-owner", "owner", false)
	aUser := e.user("owner-a@example.com", e.orgA, "owner")
	aSig := str(aKey.must(201, "POST", "/v1/signing-keys", nil).json(t), "id")

	B := str(e.admin.must(201, "POST", "/v1/orgs", map[string]any{"name": "Org B"}).json(t), "id")
	bKey, bKeyView := e.key(e.admin.inOrg(B), "b-owner", "owner", false)
	_, bViewerKey := e.key(bKey, "b-viewer", "viewer", false)
	bStream := bKey.must(201, "POST", "/v1/streams", map[string]any{"name": "B's stream"}).json(t)
	bs, bpid, bStreamKey := str(bStream, "id"), str(bStream, "playback_id"), str(bStream, "stream_key")
	bSig := str(bKey.must(201, "POST", "/v1/signing-keys", nil).json(t), "id")
	bUser := str(e.admin.must(201, "POST", "/v1/users", map[string]any{"email": "b@example.com", "password": testPassword, "org_id": B, "role": "member"}).json(t), "id")
	bAsset := e.readyAsset(B).ID
	bClip := bKey.must(201, "POST", "/v1/assets/"+bAsset+"/clips", map[string]any{"start": 0, "end": 5}).json(t)
	bJob := str(bClip["job"].(map[string]any), "id")

	reqs := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/streams/" + bs, nil},
		{"PATCH", "/v1/streams/" + bs, map[string]any{"name": "mine now"}},
		{"DELETE", "/v1/streams/" + bs, nil},
		{"GET", "/v1/streams/" + bs + "/key", nil},
		{"POST", "/v1/streams/" + bs + "/reset-key", nil},
		{"GET", "/v1/streams/" + bs + "/sessions", nil},
		{"DELETE", "/v1/api-keys/" + str(bViewerKey, "id"), nil},
		{"DELETE", "/v1/api-keys/" + str(bKeyView, "id"), nil},
		{"DELETE", "/v1/signing-keys/" + bSig, nil},
		{"POST", "/v1/signing-keys/" + bSig + "/tokens", map[string]any{"playback_id": bpid}},
		{"POST", "/v1/signing-keys/" + aSig + "/tokens", map[string]any{"playback_id": bpid}},
		{"GET", "/v1/orgs/" + B, nil},
		{"DELETE", "/v1/orgs/" + B, nil},
		{"GET", "/v1/orgs/" + B + "/members", nil},
		{"PUT", "/v1/orgs/" + B + "/members/" + bUser, map[string]any{"role": "viewer"}},
		{"DELETE", "/v1/orgs/" + B + "/members/" + bUser, nil},
		{"GET", "/v1/assets/" + bAsset, nil},
		{"PATCH", "/v1/assets/" + bAsset, map[string]any{"playback_policy": "signed"}},
		{"DELETE", "/v1/assets/" + bAsset, nil},
		{"POST", "/v1/assets/" + bAsset + "/clips", map[string]any{"start": 0, "end": 5}},
		{"GET", "/v1/jobs/" + bJob, nil},
		{"DELETE", "/v1/jobs/" + bJob, nil},
	}
	for _, c := range []struct {
		name string
		c    *rawClient
	}{{"A's owner key", aKey}, {"A's owner user", aUser}, {"A's owner key naming org B", aKey.inOrg(B)}} {
		for _, r := range reqs {
			a := c.c.do(r.method, r.path, r.body)
			if a.status != 404 || a.code() != "not_found" {
				t.Errorf("%s: %s %s = %d %s, want 404", c.name, r.method, r.path, a.status, a.body)
			}
		}
	}
	// A user naming an org they are not in is not let in either.
	for _, path := range []string{"/v1/me", "/v1/streams", "/v1/api-keys"} {
		aUser.inOrg(B).must(404, "GET", path, nil)
	}
	// Lists hold only A's objects.
	aKey.must(201, "POST", "/v1/uploads", map[string]any{"size": 10})
	for _, path := range []string{"/v1/streams", "/v1/api-keys", "/v1/signing-keys", "/v1/orgs", "/v1/assets", "/v1/jobs",
		"/v1/assets?stream_id=" + bs, "/v1/jobs?asset_id=" + bAsset} {
		for _, c := range []*rawClient{aKey, aUser} {
			for _, item := range c.must(200, "GET", path, nil).json(t)["items"].([]any) {
				m := item.(map[string]any)
				if m["org_id"] == B || m["id"] == B || m["id"] == bs || m["id"] == bSig || m["id"] == bAsset || m["id"] == bJob {
					t.Errorf("GET %s lists org B's %v", path, m["id"])
				}
			}
		}
	}
	// B is intact.
	bKey.must(200, "GET", "/v1/orgs/"+B, nil)
	if got := bKey.must(200, "GET", "/v1/streams/"+bs, nil).json(t); got["name"] != "B's stream" {
		t.Errorf("B's stream changed: %v", got)
	}
	if k := str(bKey.must(200, "GET", "/v1/streams/"+bs+"/key", nil).json(t), "stream_key"); k != bStreamKey {
		t.Error("B's stream key changed")
	}
	for _, k := range bKey.must(200, "GET", "/v1/api-keys", nil).json(t)["items"].([]any) {
		if k.(map[string]any)["revoked_at"] != nil {
			t.Errorf("B's key %v was revoked", k.(map[string]any)["id"])
		}
	}
	for _, k := range bKey.must(200, "GET", "/v1/signing-keys", nil).json(t)["items"].([]any) {
		if k.(map[string]any)["revoked_at"] != nil {
			t.Errorf("B's signing key %v was revoked", k.(map[string]any)["id"])
		}
	}
	if ms := bKey.must(200, "GET", "/v1/orgs/"+B+"/members", nil).json(t)["items"].([]any); len(ms) != 2 {
		t.Errorf("B's members = %v", ms)
	}
	if a := bKey.must(200, "GET", "/v1/assets/"+bAsset, nil).json(t); a["playback_policy"] != "public" {
		t.Errorf("B's asset changed: %v", a)
	}
	if j := bKey.must(200, "GET", "/v1/jobs/"+bJob, nil).json(t); j["state"] != "queued" {
		t.Errorf("B's job changed: %v", j)
	}
}
