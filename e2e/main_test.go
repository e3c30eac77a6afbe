package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/geoip/geoiptest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestThreeNodeClusterCLI is the operator's view of the foundation, as the
// README does it by hand: three control-plane processes, the first
// bootstrapping and the others joining with its cluster key, set up and
// inspected with the CLI; the leader's process is killed and the cluster
// takes writes again within seconds; the killed node restarts from its
// data dir and catches up.
func TestThreeNodeClusterCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	members := map[string]*proc{}
	urls := map[string]string{}
	var ids []string
	start := func(id string, args ...string) {
		httpAddr := testutil.FreeAddr(t)
		ids = append(ids, id)
		urls[id] = "http://" + httpAddr
		members[id] = startProc(t, procSpec{Name: "control " + id, Args: append([]string{"control", "--node-id", id,
			"--data-dir", filepath.Join(dir, id), "--http-addr", httpAddr, "--raft-addr", testutil.FreeAddr(t),
			"--quic-addr", testutil.FreeAddr(t)}, args...)})
	}
	start("cp1", "--bootstrap")
	setup := waitSetupToken(t, "cp1", members["cp1"].Output)
	key, err := os.ReadFile(filepath.Join(dir, "cp1", "cluster.key"))
	if err != nil {
		t.Fatalf("the bootstrap node kept no cluster key: %v", err)
	}
	start("cp2", "--join", urls["cp1"], "--cluster-key", strings.TrimSpace(string(key)))
	start("cp3", "--join", urls["cp1"], "--cluster-key", strings.TrimSpace(string(key)))
	for _, id := range ids {
		testutil.UntilEvery(t, 30*time.Second, 50*time.Millisecond, id+" ready", func() error {
			return newClient(t, "", urls[id]).Ready(t.Context())
		})
	}
	var addrs []string
	for _, id := range ids {
		addrs = append(addrs, urls[id])
	}
	allAddrs := strings.Join(addrs, ",")

	// Bootstrap through a follower: the write is forwarded.
	token := bootstrap(t, urls["cp2"], setup, "--org", "Ops")
	env := []string{"LIVESTREAMS_ADDR=" + allAddrs, "LIVESTREAMS_TOKEN=" + token}
	if _, err := cliRun(t, nil, "bootstrap", "--addr", urls["cp1"], "--token", setup,
		"--email", "again@example.com", "--password", "correct horse battery"); err == nil {
		t.Fatal("the setup token worked twice")
	}

	leaderOf := func(addr string) (leader string, states map[string]string, err error) {
		var st client.ClusterStatus
		raw, err := cliRun(t, env, "cluster", "status", "--json", "--addr", addr)
		if err != nil {
			return "", nil, err
		}
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return "", nil, fmt.Errorf("cluster status --json: %v: %s", err, raw)
		}
		states = map[string]string{}
		for _, n := range st.Nodes {
			states[n.ID] = n.State
		}
		return st.LeaderID, states, nil
	}
	var leader string
	testutil.UntilEvery(t, 30*time.Second, 100*time.Millisecond, "one leader and two followers", func() error {
		l, states, err := leaderOf(allAddrs)
		if err != nil {
			return err
		}
		counts := map[string]int{}
		for _, s := range states {
			counts[s]++
		}
		if counts["leader"] != 1 || counts["follower"] != 2 {
			return fmt.Errorf("cluster status: %v", states)
		}
		leader = l
		return nil
	})
	t.Logf("cluster status:\n%s", mustCLI(t, env, "cluster", "status"))

	// Writes through a follower are forwarded.
	var follower string
	for _, id := range ids {
		if id != leader {
			follower = id
			break
		}
	}
	mustCLI(t, env, "stream", "create", "--addr", urls[follower], "before-failover")

	// Kill the leader's process; time until a write through the survivors
	// succeeds.
	var survivors []string
	for _, id := range ids {
		if id != leader {
			survivors = append(survivors, urls[id])
		}
	}
	survEnv := []string{"LIVESTREAMS_TOKEN=" + token, "LIVESTREAMS_ADDR=" + strings.Join(survivors, ",")}
	members[leader].Kill()
	failover := testutil.UntilEvery(t, 20*time.Second, 50*time.Millisecond, "a write accepted after killing the leader", func() error {
		_, err := cliRun(t, survEnv, "stream", "create", "during-failover")
		return err
	})
	t.Logf("FIGURE failover: leader process killed -> write accepted through a survivor in %v (target 3s)", failover.Round(time.Millisecond))
	if failover > 10*time.Second {
		t.Errorf("failover took %v", failover)
	}
	if newLeader, _, err := leaderOf(strings.Join(survivors, ",")); err != nil || newLeader == "" || newLeader == leader {
		t.Errorf("leader after failover = %q (old %q): %v", newLeader, leader, err)
	}

	// The killed node restarts from its data dir and catches up.
	members[leader] = members[leader].Restart(t)
	testutil.UntilEvery(t, 30*time.Second, 200*time.Millisecond, "the restarted "+leader+" catching up", func() error {
		raw, err := cliRun(t, env, "stream", "list", "--json", "--addr", urls[leader])
		if err == nil && !(strings.Contains(raw, "during-failover") && strings.Contains(raw, "before-failover")) {
			err = fmt.Errorf("streams: %s", raw)
		}
		return err
	})
}

// untilRoutedAway kills edge c with SIGKILL and returns how long until
// neither a viewer nor a creator at its city's address is sent to it.
func (f *fleet) untilRoutedAway(t testing.TB, c *city, st liveStream) time.Duration {
	c.p.Kill()
	return testutil.UntilEvery(t, 20*time.Second, 20*time.Millisecond, "no traffic to the kill -9ed edge "+c.id, func() error {
		_, loc := redirectFor(t, f.api, st.PlaybackID, c.ip)
		var in client.Ingest
		raw, _ := cliRun(t, f.env, "stream", "ingest", "--json", "--ip", c.ip.String(), st.ID)
		json.Unmarshal([]byte(raw), &in)
		if loc != "" && !strings.HasPrefix(loc, c.hls) && in.EdgeID != "" && in.EdgeID != c.id {
			return nil
		}
		return fmt.Errorf("viewers in %s still go to %q and creators to %q", c.id, loc, in.EdgeID)
	})
}

// TestEdgeFleet runs a control plane with a GeoIP database and three edges
// in three cities, each its own process, gossiping: viewers and creators
// from each city's addresses are routed to that city's edge; a killed edge
// gets no traffic within seconds; a drained edge gets no new viewers while
// its live session goes on.
func TestEdgeFleet(t *testing.T) {
	t.Parallel()
	cities := testCities()
	f := startFleet(t, fleetOptions{Probe: "200ms", Cities: cities})
	api, env, byID := f.api, f.env, f.byID
	t.Logf("livestreams nodes:\n%s", mustCLI(t, env, "nodes"))

	// Creators are sent to their city's edge; viewers of a stream
	// published in London too.
	st := f.publishTo(t, byID["lon"])
	for _, c := range cities {
		var in client.Ingest
		json.Unmarshal([]byte(mustCLI(t, env, "stream", "ingest", "--json", "--ip", c.ip.String(), st.ID)), &in)
		if in.EdgeID != c.id || in.RTMPServer != c.rtmp || in.RTMPURL != c.rtmp+"/"+in.StreamKey {
			t.Errorf("creator in %s: ingest %+v, want %s %s", c.id, in, c.id, c.rtmp)
		}
	}
	for _, c := range cities {
		code, loc := redirectFor(t, api, st.PlaybackID, c.ip)
		if code != http.StatusFound || !strings.HasPrefix(loc, c.hls+"/hls/"+st.PlaybackID+"/") {
			t.Errorf("viewer in %s: %d %q, want a redirect to %s", c.id, code, loc, c.hls)
		}
	}
	t.Logf("livestreams route --ip %s:\n%s", geoiptest.SeattleIP, mustCLI(t, env, "route", "--ip", geoiptest.SeattleIP.String(), st.PlaybackID))

	// kill -9 the Seattle edge: within seconds nobody is routed to it.
	gone := f.untilRoutedAway(t, byID["sea"], st)
	t.Logf("FIGURE edge death: kill -9 -> no viewer or creator routed to it in %v (200ms probes; target 5s)", gone.Round(time.Millisecond))
	if gone > 5*time.Second {
		t.Errorf("routing still chose the dead edge for %v", gone)
	}

	// Drain the origin: new London viewers go elsewhere; the session goes on.
	mustCLI(t, env, "node", "drain", "lon")
	code, loc := redirectFor(t, api, st.PlaybackID, geoiptest.LondonIP)
	if code != http.StatusFound || strings.HasPrefix(loc, byID["lon"].hls) {
		t.Errorf("London viewer after draining lon: %d %q", code, loc)
	}
	var show client.Stream
	json.Unmarshal([]byte(mustCLI(t, env, "stream", "show", "--json", st.ID)), &show)
	if show.Status != "active" {
		t.Errorf("the live session on the drained edge ended: status %q", show.Status)
	}
	mustCLI(t, env, "node", "undrain", "lon")
}

// BenchmarkEdgeDeathToRouting measures, with the product's default gossip
// tuning (500 ms probes), the time from an edge's kill -9 to the last
// routing decision that still chose it, for viewers and creators.
func BenchmarkEdgeDeathToRouting(b *testing.B) {
	for i := 0; i < b.N; i++ {
		cities := testCities()
		f := startFleet(b, fleetOptions{Probe: "500ms", Cities: cities})
		st := f.publishTo(b, f.byID["lon"])
		gone := f.untilRoutedAway(b, f.byID["sea"], st)
		b.ReportMetric(gone.Seconds()*1000, "ms-to-reroute")
		fmt.Printf("FIGURE edge death to routing (default 500ms gossip probes): %v until no viewer or creator is sent to a kill -9ed edge (target 5s)\n", gone.Round(time.Millisecond))
	}
}
