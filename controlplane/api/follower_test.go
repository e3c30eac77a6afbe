package api

import (
	"context"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

// TestThroughFollowers runs a three-node cluster whose third node joins
// through the API, and sends every write through followers: Raft forwards
// them, and a credential made on one node works at once on another.
func TestThroughFollowers(t *testing.T) {
	t.Parallel()
	cp1 := startNode(t, "cp1", nodeOpts{bootstrap: true})
	initMeta(t, cp1.node)
	cp2 := startNode(t, "cp2", nodeOpts{})
	cp3 := startNode(t, "cp3", nodeOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cp2.node.Join(ctx, cp1.url); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	on := func(n *testNode) *rawClient { return &rawClient{t: t, base: n.url, rec: rec} }
	leaderOf := func() *testNode {
		for _, n := range []*testNode{cp1, cp2, cp3} {
			if n.node.IsLeader() {
				return n
			}
		}
		return nil
	}
	testutil.Eventually(t, 10*time.Second, "a leader", func() bool { return leaderOf() != nil })
	f1 := cp2
	if leaderOf() == cp2 {
		f1 = cp1
	}

	// The first owner signs up through a follower.
	a := on(f1).must(201, "POST", "/v1/auth/signup", map[string]any{"email": "root@example.com", "password": testPassword,
		"org_name": "Org", "setup_token": testSetupToken}).json(t)
	root := on(f1).as(str(a, "token"))
	root.must(200, "GET", "/v1/me", nil)

	// cp3 joins as a voter through the API on a follower.
	root.must(200, "POST", "/v1/cluster/members", map[string]any{"id": "cp3", "raft_addr": cp3.raft, "http_addr": cp3.url})
	testutil.Eventually(t, 15*time.Second, "cp3 to be a voter with the state", func() bool {
		return cp3.node.Status().Leader != "" && len(cp1.node.Status().Servers) == 3 && cp3.node.AppliedIndex() >= cp1.node.AppliedIndex()
	})
	followers := []*testNode{}
	for _, n := range []*testNode{cp1, cp2, cp3} {
		if !n.node.IsLeader() {
			followers = append(followers, n)
		}
	}
	if len(followers) != 2 {
		t.Fatalf("%d followers", len(followers))
	}
	fa, fb := followers[0], followers[1]

	// A key made through one follower works at once through the other.
	k := on(fa).as(root.token).must(201, "POST", "/v1/api-keys", map[string]any{"name": "ops", "role": "owner", "cluster_admin": true}).json(t)
	kb := on(fb).as(str(k, "key"))
	kb.must(200, "GET", "/v1/me", nil)
	ka := on(fa).as(str(k, "key"))

	s := kb.must(201, "POST", "/v1/streams", map[string]any{"name": "via follower"}).json(t)
	id := str(s, "id")
	ka.must(200, "GET", "/v1/streams/"+id+"?consistent=1", nil)
	ka.must(200, "PATCH", "/v1/streams/"+id, map[string]any{"latency_mode": "low"})
	if got := kb.must(200, "GET", "/v1/streams/"+id, nil, "X-Livestreams-Consistent", "1").json(t); got["latency_mode"] != "low" {
		t.Fatalf("consistent read after a write through the other follower: %v", got)
	}
	newKey := str(ka.must(200, "POST", "/v1/streams/"+id+"/reset-key", nil).json(t), "stream_key")
	if k := str(kb.must(200, "GET", "/v1/streams/"+id+"/key?consistent=1", nil).json(t), "stream_key"); k != newKey {
		t.Fatal("the other follower shows the old key after a consistent read")
	}
	sig := kb.must(201, "POST", "/v1/signing-keys", nil).json(t)
	ka.must(200, "POST", "/v1/signing-keys/"+str(sig, "id")+"/tokens?consistent=1", map[string]any{"playback_id": str(s, "playback_id")})

	// Everyone is in the status and healthy.
	cl := kb.must(200, "GET", "/v1/cluster", nil).json(t)
	nodes := cl["nodes"].([]any)
	leaders := 0
	for _, n := range nodes {
		m := n.(map[string]any)
		if m["healthy"] != true || m["voter"] != true {
			t.Errorf("node %v", m)
		}
		if m["state"] == "leader" {
			leaders++
		}
	}
	if len(nodes) != 3 || leaders != 1 {
		t.Fatalf("cluster = %v", cl)
	}

	// A snapshot taken through one follower restores through the other.
	snap := ka.must(200, "GET", "/v1/cluster/snapshot", nil).body
	later := str(ka.must(201, "POST", "/v1/streams", map[string]any{"name": "after the snapshot"}).json(t), "id")
	kb.must(204, "POST", "/v1/cluster/restore", snap)
	testutil.Eventually(t, 10*time.Second, "every node to drop the later stream", func() bool {
		for _, n := range []*testNode{cp1, cp2, cp3} {
			if on(n).as(str(k, "key")).do("GET", "/v1/streams/"+later+"?consistent=1", nil).status != 404 {
				return false
			}
		}
		return true
	})

	// A node leaves through the API.
	leave := fb.id
	if leave == "cp1" {
		leave = fa.id
	}
	stay := cp1
	if leave == "cp1" {
		stay = cp2
	}
	ka = on(stay).as(str(k, "key"))
	ka.must(204, "DELETE", "/v1/cluster/members/"+leave, nil)
	testutil.Eventually(t, 10*time.Second, leave+" to leave the configuration", func() bool {
		return len(stay.node.Status().Servers) == 2
	})
	ka.must(404, "DELETE", "/v1/cluster/members/"+leave, nil)
	checkNoSecrets(t, rec)
}
