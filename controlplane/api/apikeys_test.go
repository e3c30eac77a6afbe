package api

import (
	"testing"
)

// TestAPIKeyDiesWithItsCreatorsMembership is the regression test of an
// admin's key that outlived the admin: once they are removed from the org,
// the key can neither create keys nor bring its creator back, and the key
// list shows it revoked, with its creator.
func TestAPIKeyDiesWithItsCreatorsMembership(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	admin := e.user("admin@example.com", e.orgA, "admin")
	adminID := str(admin.must(200, "GET", "/v1/me", nil).json(t)["user"].(map[string]any), "id")
	adminKey, k := e.key(admin, "ci", "admin", false)
	if k["created_by"] != adminID {
		t.Fatalf("created key names its creator %v, want %s", k["created_by"], adminID)
	}
	// A key made by the key derives its power from the same user.
	childKey, child := e.key(adminKey, "child", "member", false)
	if child["created_by"] != adminID {
		t.Fatalf("a key's key names %v as creator, want %s", child["created_by"], adminID)
	}
	adminKey.must(201, "POST", "/v1/api-keys", map[string]any{"name": "works while a member", "role": "viewer"})

	e.admin.must(204, "DELETE", "/v1/orgs/"+e.orgA+"/members/"+adminID, nil)

	for _, c := range []*rawClient{adminKey, childKey} {
		if a := c.do("POST", "/v1/api-keys", map[string]any{"name": "again", "role": "admin"}); a.status != 401 && a.status != 403 {
			t.Fatalf("a removed admin's key still creates keys: %d %s", a.status, a.body)
		}
		if a := c.do("PUT", "/v1/orgs/"+e.orgA+"/members/"+adminID, map[string]any{"role": "admin"}); a.status != 401 && a.status != 403 {
			t.Fatalf("a removed admin's key re-adds them: %d %s", a.status, a.body)
		}
		if a := c.do("POST", "/v1/orgs/"+e.orgA+"/invitations", map[string]any{"email": "admin@example.com", "role": "admin"}); a.status != 401 && a.status != 403 {
			t.Fatalf("a removed admin's key re-invites them: %d %s", a.status, a.body)
		}
	}
	keys := e.admin.must(200, "GET", "/v1/api-keys", nil).json(t)["items"].([]any)
	revoked := 0
	for _, it := range keys {
		k := it.(map[string]any)
		if k["created_by"] == adminID {
			if k["revoked_at"] == nil {
				t.Errorf("key %v of the removed admin is not revoked in state", k["id"])
			}
			revoked++
		}
	}
	if revoked != 3 {
		t.Fatalf("the list shows %d keys created by the removed admin, want 3: %v", revoked, keys)
	}
}

// TestAPIKeyRoleIsCappedByItsCreatorsCurrentRole: a key is worth at most
// what its creator may do now, so demoting the creator demotes the key;
// the org's owner can revoke any key.
func TestAPIKeyRoleIsCappedByItsCreatorsCurrentRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	admin := e.user("admin@example.com", e.orgA, "admin")
	adminID := str(admin.must(200, "GET", "/v1/me", nil).json(t)["user"].(map[string]any), "id")
	adminKey, k := e.key(admin, "ci", "admin", false)
	adminKey.must(200, "GET", "/v1/api-keys", nil)

	e.admin.must(200, "PUT", "/v1/orgs/"+e.orgA+"/members/"+adminID, map[string]any{"role": "viewer"})
	if me := adminKey.must(200, "GET", "/v1/me", nil).json(t); me["role"] != "viewer" {
		t.Fatalf("the key of a creator demoted to viewer acts as %v", me["role"])
	}
	adminKey.must(403, "GET", "/v1/api-keys", nil)
	adminKey.must(403, "POST", "/v1/streams", map[string]any{"name": "x"})
	adminKey.must(200, "GET", "/v1/streams", nil)

	e.admin.must(200, "PUT", "/v1/orgs/"+e.orgA+"/members/"+adminID, map[string]any{"role": "admin"})
	adminKey.must(200, "GET", "/v1/api-keys", nil)
	e.admin.must(204, "DELETE", "/v1/api-keys/"+str(k, "id"), nil)
	adminKey.must(401, "GET", "/v1/streams", nil)
}
