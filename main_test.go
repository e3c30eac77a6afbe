package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testcluster"
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
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
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
func cliRun(t *testing.T, env []string, args ...string) (string, error) {
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

func mustCLI(t *testing.T, env []string, args ...string) string {
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
