package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/testcluster"
	"github.com/livestreams/livestreams/shared/geoip/geoiptest"
)

// binary is the `livestreams` binary built once for the tests that drive
// real processes, the way an operator does.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "livestreams-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "livestreams")
	out, err := exec.Command("go", "build", "-o", binary, "..").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build livestreams: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cliRun runs the binary with a bounded time and returns stdout; a failed
// command fails the test unless allowFail.
func cliRun(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("livestreams %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), err
}

func mustCLI(t testing.TB, env []string, args ...string) string {
	t.Helper()
	out, err := cliRun(t, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var setupTokenRe = regexp.MustCompile(`--token (lst_[A-Za-z0-9_-]+)`)

// TestThreeNodeClusterCLI is the operator's view of the foundation: three
// control-plane processes, set up and inspected with the CLI; the leader's
// process is killed and the cluster takes writes again within seconds; the
// killed node restarts from its data dir and catches up.
func TestThreeNodeClusterCLI(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 3, Binary: binary})
	var setup string
	if !testcluster.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		m := setupTokenRe.FindStringSubmatch(c.Members[0].Output())
		if m != nil {
			setup = m[1]
		}
		return setup != ""
	}) {
		t.Fatalf("bootstrap node printed no setup token:\n%s", c.Members[0].Output())
	}
	var addrs []string
	for _, m := range c.Members {
		addrs = append(addrs, m.URL())
	}
	allAddrs := strings.Join(addrs, ",")

	out := mustCLI(t, nil, "bootstrap", "--addr", c.Members[1].URL(), "--token", setup,
		"--email", "ops@example.com", "--password", "correct horse battery", "--org", "Ops")
	m := regexp.MustCompile(`LIVESTREAMS_TOKEN=(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("bootstrap printed no export line: %q", out)
	}
	env := []string{"LIVESTREAMS_ADDR=" + allAddrs, "LIVESTREAMS_TOKEN=" + strings.Trim(m[1], `"'`)}
	if _, err := cliRun(t, nil, "bootstrap", "--addr", c.Members[0].URL(), "--token", setup,
		"--email", "again@example.com", "--password", "correct horse battery"); err == nil {
		t.Fatal("the setup token worked twice")
	}

	leaderOf := func(addr string) (leader string, states map[string]string) {
		var st struct {
			LeaderID string `json:"leader_id"`
			Nodes    []struct{ ID, State string }
		}
		raw := mustCLI(t, env, "cluster", "status", "--json", "--addr", addr)
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			t.Fatalf("cluster status --json: %v: %s", err, raw)
		}
		states = map[string]string{}
		for _, n := range st.Nodes {
			states[n.ID] = n.State
		}
		return st.LeaderID, states
	}
	leader, states := leaderOf(allAddrs)
	counts := map[string]int{}
	for _, s := range states {
		counts[s]++
	}
	if counts["leader"] != 1 || counts["follower"] != 2 {
		t.Fatalf("cluster status: %v, want one leader and two followers", states)
	}
	t.Logf("cluster status:\n%s", mustCLI(t, env, "cluster", "status"))

	// Writes through a follower are forwarded.
	var follower, leaderM *testcluster.Member
	for _, mem := range c.Members {
		if mem.ID == leader {
			leaderM = mem
		} else if follower == nil {
			follower = mem
		}
	}
	mustCLI(t, env, "stream", "create", "--addr", follower.URL(), "before-failover")

	// Kill the leader's process; time until a write through the survivors
	// succeeds.
	var survivors []string
	for _, mem := range c.Members {
		if mem != leaderM {
			survivors = append(survivors, mem.URL())
		}
	}
	survEnv := append(env[1:], "LIVESTREAMS_ADDR="+strings.Join(survivors, ","))
	leaderM.Kill()
	killed := time.Now()
	var failover time.Duration
	for i := 0; ; i++ {
		if _, err := cliRun(t, survEnv, "stream", "create", "during-failover"); err == nil {
			failover = time.Since(killed)
			break
		} else if time.Since(killed) > 20*time.Second {
			t.Fatalf("no write accepted within 20s of killing the leader: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("FIGURE failover: leader process killed -> write accepted through a survivor in %v (target 3s)", failover.Round(time.Millisecond))
	if failover > 10*time.Second {
		t.Errorf("failover took %v", failover)
	}
	newLeader, _ := leaderOf(strings.Join(survivors, ","))
	if newLeader == "" || newLeader == leader {
		t.Errorf("leader after failover = %q (old %q)", newLeader, leader)
	}

	// The killed node restarts from its data dir and catches up.
	leaderM.Start()
	if !testcluster.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
		raw, err := cliRun(t, env, "stream", "list", "--json", "--addr", leaderM.URL())
		return err == nil && strings.Contains(raw, "during-failover") && strings.Contains(raw, "before-failover")
	}) {
		t.Fatalf("restarted node %s did not catch up:\n%s", leaderM.ID, leaderM.Output())
	}
}

// proc is a livestreams subprocess; its output is kept for failures.
type proc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProc(t testing.TB, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A graceful stop lets an edge end its sessions and reap its
		// ffmpeg, which would otherwise go on writing into the test's
		// directory while it is removed.
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("output of livestreams %s:\n%s", args[0], lastLines(p.out.String(), 40))
		}
	})
	return p
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func addr(t testing.TB) string { return fmt.Sprintf("127.0.0.1:%d", testcluster.FreePort(t)) }

// redirectFor asks the control plane where a viewer at ip plays pid, as a
// load balancer in front of it would pass the address.
func redirectFor(t testing.TB, api, pid string, ip netip.Addr) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, api+"/v1/play/"+pid+".m3u8", nil)
	req.Header.Set("X-Forwarded-For", ip.String())
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return 0, ""
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// city is one edge of a test fleet.
type city struct {
	id, region, lat, lon string
	ip                   netip.Addr
	rtmp, hls            string
	p                    *proc
	args                 []string // the edge's command line, for restarts
}

// fleet is a control plane with a GeoIP database and gossip, and edges in
// the given cities, each its own process.
type fleet struct {
	api  string
	env  []string
	byID map[string]*city
}

func testCities() []*city {
	return []*city{
		{id: "lon", region: "eu-west", lat: "51.51", lon: "-0.13", ip: geoiptest.LondonIP},
		{id: "lin", region: "eu-north", lat: "58.41", lon: "15.62", ip: geoiptest.LinkopingIP},
		{id: "sea", region: "us-west", lat: "47.61", lon: "-122.33", ip: geoiptest.SeattleIP},
	}
}

// startFleet starts the fleet with the gossip probe interval given (the
// product's default is 500ms) and waits until every edge is alive in the
// control plane's gossip view.
// fleetExtra adds flags to the control plane's and every edge's command
// line.
type fleetExtra struct{ control, edge []string }

func startFleet(t testing.TB, probe string, cities []*city, extra ...fleetExtra) *fleet {
	var more fleetExtra
	for _, e := range extra {
		more.control = append(more.control, e.control...)
		more.edge = append(more.edge, e.edge...)
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is required (make deps installs it)")
	}
	dir := t.TempDir()
	db := geoiptest.TempDB(t, geoiptest.Sample())
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	httpAddr, quicAddr, gossipAddr := addr(t), addr(t), addr(t)
	f := &fleet{api: "http://" + httpAddr, byID: map[string]*city{}}
	cp := startProc(t, append([]string{"control", "--bootstrap", "--node-id", "cp1", "--data-dir", filepath.Join(dir, "cp1"),
		"--http-addr", httpAddr, "--raft-addr", addr(t), "--quic-addr", quicAddr,
		"--gossip-addr", gossipAddr, "--gossip-key", key, "--gossip-probe-interval", probe,
		"--geoip-db", db, "--trusted-proxies", "127.0.0.1/32", "--log-level", "warn"}, more.control...)...)
	var setup string
	if !testcluster.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		if m := setupTokenRe.FindStringSubmatch(cp.out.String()); m != nil {
			setup = m[1]
		}
		return setup != ""
	}) {
		t.Fatal("no setup token")
	}
	out := mustCLI(t, nil, "bootstrap", "--addr", f.api, "--token", setup, "--email", "ops@example.com", "--password", "correct horse battery")
	m := regexp.MustCompile(`LIVESTREAMS_TOKEN=(\S+)`).FindStringSubmatch(out)
	f.env = []string{"LIVESTREAMS_ADDR=" + f.api, "LIVESTREAMS_TOKEN=" + strings.Trim(m[1], `"'`)}
	join := strings.TrimSpace(mustCLI(t, f.env, "cluster", "join-token"))
	for _, c := range cities {
		rtmpAddr, httpA := addr(t), addr(t)
		c.rtmp, c.hls = "rtmp://"+rtmpAddr+"/live", "http://"+httpA
		c.args = append([]string{"edge", "--node-id", c.id, "--data-dir", filepath.Join(dir, c.id), "--control", quicAddr,
			"--join-token", join, "--rtmp-addr", rtmpAddr, "--http-addr", httpA, "--region", c.region,
			"--lat", c.lat, "--lon", c.lon, "--gossip-addr", addr(t), "--gossip-join", gossipAddr,
			"--gossip-key", key, "--gossip-probe-interval", probe}, more.edge...)
		c.p = startProc(t, c.args...)
		f.byID[c.id] = c
	}
	if !testcluster.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
		raw, err := cliRun(t, f.env, "nodes", "--json")
		var v struct {
			Items []struct{ State, Source string }
		}
		json.Unmarshal([]byte(raw), &v)
		n := 0
		for _, it := range v.Items {
			if it.State == "alive" && it.Source == "gossip" {
				n++
			}
		}
		return err == nil && n == len(cities)
	}) {
		raw, _ := cliRun(t, f.env, "nodes", "--json")
		t.Fatalf("the fleet did not form: %s", raw)
	}
	return f
}

type liveStream struct {
	ID         string `json:"id"`
	PlaybackID string `json:"playback_id"`
	StreamKey  string `json:"stream_key"`
}

// publishTo creates a stream and publishes a synthetic source to edge c
// until the test ends; it returns once the stream plays.
func (f *fleet) publishTo(t testing.TB, c *city) liveStream {
	var st liveStream
	if err := json.Unmarshal([]byte(mustCLI(t, f.env, "stream", "create", "--json", "fleet")), &st); err != nil {
		t.Fatal(err)
	}
	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-t", "120", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p", "-f", "flv", c.rtmp+"/"+st.StreamKey)
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Process.Kill(); pub.Wait() })
	var code int
	var loc string
	if !testcluster.Eventually(45*time.Second, 200*time.Millisecond, func() bool {
		code, loc = redirectFor(t, f.api, st.PlaybackID, c.ip)
		return code == http.StatusFound
	}) {
		show, _ := cliRun(t, f.env, "stream", "show", "--json", st.ID)
		nodes, _ := cliRun(t, f.env, "nodes", "--json")
		t.Fatalf("the stream never went live: play answered %d %q\nstream: %s\nnodes: %s", code, loc, show, nodes)
	}
	return st
}

// untilRoutedAway kills edge c with SIGKILL and returns how long until
// neither a viewer nor a creator at its city's address is sent to it.
func (f *fleet) untilRoutedAway(t testing.TB, c *city, st liveStream) time.Duration {
	c.p.cmd.Process.Kill()
	killed := time.Now()
	for {
		_, loc := redirectFor(t, f.api, st.PlaybackID, c.ip)
		var in struct {
			EdgeID string `json:"edge_id"`
		}
		raw, _ := cliRun(t, f.env, "stream", "ingest", "--json", "--ip", c.ip.String(), st.ID)
		json.Unmarshal([]byte(raw), &in)
		if loc != "" && !strings.HasPrefix(loc, c.hls) && in.EdgeID != "" && in.EdgeID != c.id {
			return time.Since(killed)
		}
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("20s after kill -9, viewers in %s still go to %q and creators to %q", c.id, loc, in.EdgeID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEdgeFleet runs a control plane with a GeoIP database and three edges
// in three cities, each its own process, gossiping: viewers and creators
// from each city's addresses are routed to that city's edge; a killed edge
// gets no traffic within seconds; a drained edge gets no new viewers while
// its live session goes on.
func TestEdgeFleet(t *testing.T) {
	cities := testCities()
	f := startFleet(t, "200ms", cities)
	api, env, byID := f.api, f.env, f.byID
	t.Logf("livestreams nodes:\n%s", mustCLI(t, env, "nodes"))

	// Creators are sent to their city's edge; viewers of a stream
	// published in London too.
	st := f.publishTo(t, byID["lon"])
	for _, c := range cities {
		var in struct {
			EdgeID  string `json:"edge_id"`
			RTMPURL string `json:"rtmp_url"`
		}
		json.Unmarshal([]byte(mustCLI(t, env, "stream", "ingest", "--json", "--ip", c.ip.String(), st.ID)), &in)
		if in.EdgeID != c.id || in.RTMPURL != c.rtmp {
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
	var show struct {
		Status string `json:"status"`
	}
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
		f := startFleet(b, "500ms", cities)
		st := f.publishTo(b, f.byID["lon"])
		gone := f.untilRoutedAway(b, f.byID["sea"], st)
		b.ReportMetric(gone.Seconds()*1000, "ms-to-reroute")
		fmt.Printf("FIGURE edge death to routing (default 500ms gossip probes): %v until no viewer or creator is sent to a kill -9ed edge (target 5s)\n", gone.Round(time.Millisecond))
	}
}
