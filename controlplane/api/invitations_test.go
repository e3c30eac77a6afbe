package api

import (
	"reflect"
	"strings"
	"testing"
)

// join invites email to org with role through inviter, and the invitee
// (password testPassword) accepts; it returns the membership.
func (e *env) join(inviter *rawClient, org, email, role string) map[string]any {
	e.t.Helper()
	inv := inviter.must(201, "POST", "/v1/orgs/"+org+"/invitations", map[string]any{"email": email, "role": role}).json(e.t)
	invitee := e.anon.as(str(e.anon.must(200, "POST", "/v1/auth/login", map[string]any{"email": email, "password": testPassword}).json(e.t), "token"))
	return invitee.must(200, "POST", "/v1/invitations/"+str(inv, "id")+"/accept", nil).json(e.t)
}

// TestMembershipIsByInvitation: an admin cannot add a user by id, only
// invite an address; the answer is the same for an unknown address, a
// user's and a member's, and names no user; the invitee lists, accepts
// or declines, and nobody else can answer for them.
func TestMembershipIsByInvitation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	admin := e.user("admin@example.com", e.orgA, "admin")
	carol := e.user("carol@example.com", "", "")
	carolID := str(carol.must(200, "GET", "/v1/me", nil).json(t)["user"].(map[string]any), "id")
	mallory := e.user("mallory@example.com", "", "")

	// No adding by id: a user who is not a member is not found, like
	// one who does not exist.
	known := admin.do("PUT", "/v1/orgs/"+e.orgA+"/members/"+carolID, map[string]any{"role": "viewer"})
	unknown := admin.do("PUT", "/v1/orgs/"+e.orgA+"/members/usr_nosuchuser0", map[string]any{"role": "viewer"})
	if known.status != 404 || unknown.status != 404 {
		t.Fatalf("PUT member of a non-member: %d %s; of nobody: %d %s", known.status, known.body, unknown.status, unknown.body)
	}
	if strings.Contains(string(known.body), "carol") {
		t.Fatalf("the refusal names the user: %s", known.body)
	}

	// Invitations answer alike whoever the address belongs to.
	shape := func(email string) map[string]any {
		a := admin.must(201, "POST", "/v1/orgs/"+e.orgA+"/invitations", map[string]any{"email": email, "role": "member"}).json(t)
		for _, k := range []string{"id", "created_at", "expires_at"} {
			delete(a, k)
		}
		delete(a, "email")
		return a
	}
	ref := shape("nobody@example.com")
	for _, email := range []string{"carol@example.com", "admin@example.com", "root@example.com"} {
		if got := shape(email); !reflect.DeepEqual(got, ref) {
			t.Fatalf("inviting %s answers %v, an unknown address %v", email, got, ref)
		}
	}
	for _, a := range admin.must(200, "GET", "/v1/orgs/"+e.orgA+"/invitations", nil).json(t)["items"].([]any) {
		if _, ok := a.(map[string]any)["user_id"]; ok {
			t.Fatalf("an invitation names a user: %v", a)
		}
	}
	admin.must(403, "POST", "/v1/orgs/"+e.orgA+"/invitations", map[string]any{"email": "x@example.com", "role": "owner"})
	admin.must(400, "POST", "/v1/orgs/"+e.orgA+"/invitations", map[string]any{"email": "not an address"})

	// Carol sees her invitations (and only hers), not yet a member.
	mine := carol.must(200, "GET", "/v1/invitations", nil).json(t)["items"].([]any)
	if len(mine) != 1 || mine[0].(map[string]any)["org_name"] != "Org A" || mine[0].(map[string]any)["role"] != "member" {
		t.Fatalf("carol's invitations = %v", mine)
	}
	id := str(mine[0].(map[string]any), "id")
	carol.inOrg(e.orgA).must(404, "GET", "/v1/streams", nil)
	if n := len(mallory.must(200, "GET", "/v1/invitations", nil).json(t)["items"].([]any)); n != 0 {
		t.Fatalf("mallory sees %d invitations of others", n)
	}
	mallory.must(404, "POST", "/v1/invitations/"+id+"/accept", nil)
	admin.must(404, "POST", "/v1/invitations/"+id+"/accept", nil) // an admin cannot accept for her
	keyOfAdmin, _ := e.key(admin, "k", "admin", false)
	keyOfAdmin.must(403, "POST", "/v1/invitations/"+id+"/accept", nil)

	m := carol.must(200, "POST", "/v1/invitations/"+id+"/accept", nil).json(t)
	if m["user_id"] != carolID || m["role"] != "member" {
		t.Fatalf("accepted membership = %v", m)
	}
	carol.inOrg(e.orgA).must(200, "GET", "/v1/streams", nil)
	carol.must(404, "POST", "/v1/invitations/"+id+"/accept", nil) // once
	// Now a member, her role can be changed by id.
	admin.must(200, "PUT", "/v1/orgs/"+e.orgA+"/members/"+carolID, map[string]any{"role": "viewer"})

	// Declining and withdrawing.
	inv2 := str(admin.must(201, "POST", "/v1/orgs/"+e.orgA+"/invitations", map[string]any{"email": "mallory@example.com"}).json(t), "id")
	mallory.must(204, "POST", "/v1/invitations/"+inv2+"/decline", nil)
	mallory.must(404, "POST", "/v1/invitations/"+inv2+"/accept", nil)
	inv3 := str(admin.must(201, "POST", "/v1/orgs/"+e.orgA+"/invitations", map[string]any{"email": "mallory@example.com"}).json(t), "id")
	admin.must(204, "DELETE", "/v1/orgs/"+e.orgA+"/invitations/"+inv3, nil)
	mallory.must(404, "POST", "/v1/invitations/"+inv3+"/accept", nil)
	mallory.inOrg(e.orgA).must(404, "GET", "/v1/me", nil)
}
