package testcluster_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/testcluster"
	"github.com/livestreams/livestreams/shared/testutil"
)

// The control plane's committed writes against etcd's, side by side: three
// nodes of each on loopback, the same number of concurrent writers, the
// same payload size, every write acknowledged only once a quorum has it
// durably. Both go through their public HTTP API on the leader (ours:
// PATCH /v1/streams/{id} with an API key; etcd's: the v3 JSON gateway's
// kv/put), so both pay for HTTP and JSON and a check of the request.
const (
	benchWriters  = 32
	benchWrites   = 4000
	benchPayload  = 180 // bytes of value per write (a stream name: at most 200 characters)
	benchEtcdName = "etcd"
)

func BenchmarkCommittedWritesVersusEtcd(b *testing.B) {
	etcd, err := exec.LookPath(benchEtcdName)
	if err != nil {
		testutil.Missing(b, "etcd (Debian etcd-server 3.4): the anchor of this benchmark")
	}
	payload := strings.Repeat("x", benchPayload)

	ours := func() float64 {
		c := testcluster.Start(b, testcluster.Options{Nodes: 3})
		leader := c.Leader(20 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		anon := leader.Client("")
		su, err := anon.Auth().Signup(ctx, client.Signup{Email: "bench@example.com", Password: "bench-password-1", OrgName: "bench"})
		if err != nil {
			b.Fatalf("signup: %v", err)
		}
		cl := leader.Client(su.Token)
		key, err := cl.APIKeys().Create(ctx, client.APIKeyCreate{Name: "bench", Role: "admin"})
		if err != nil {
			b.Fatalf("api key: %v", err)
		}
		kc := leader.Client(key.Key)
		ids := make([]string, benchWriters)
		for i := range ids {
			st, err := kc.Streams().Create(ctx, client.StreamCreate{Name: fmt.Sprintf("s%d", i)})
			if err != nil {
				b.Fatalf("create stream: %v", err)
			}
			ids[i] = st.ID
		}
		return writeRate(b, func(w, i int) error {
			name := fmt.Sprintf("%06d", i) + payload[6:]
			_, err := kc.Streams().Update(ctx, ids[w], client.StreamUpdate{Name: &name})
			return err
		})
	}

	theirs := func() float64 {
		ms := startEtcd(b, etcd)
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: benchWriters}}
		// Writes go to the leader, as ours do.
		leader, err := etcdLeader(ms)
		if err != nil {
			b.Fatal(err)
		}
		return writeRate(b, func(w, i int) error {
			return etcdPut(hc, leader.client, fmt.Sprintf("/streams/s%d", w), payload)
		})
	}

	for b.Loop() {
		e := theirs()
		o := ours()
		b.ReportMetric(o, "ours-writes/s")
		b.ReportMetric(e, "etcd-writes/s")
		b.ReportMetric(o/e, "ratio")
		b.Logf("committed writes/s, 3 nodes, %d writers, %d-byte values: ours %.0f, etcd 3.4 %.0f (%.2f×)", benchWriters, benchPayload, o, e, o/e)
	}
}

// writeRate runs benchWrites writes spread over benchWriters goroutines
// and returns the writes per second.
func writeRate(b *testing.B, write func(writer, i int) error) float64 {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchWriters)
	start := time.Now()
	for w := 0; w < benchWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > benchWrites {
					return
				}
				if err := write(w, int(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatalf("write: %v", err)
	}
	return benchWrites / elapsed.Seconds()
}

// etcdMember is one member of a loopback etcd cluster.
type etcdMember struct {
	name, client string
	cmd          *exec.Cmd
}

// startEtcd runs a three-member etcd cluster on loopback and returns its
// members once the cluster answers writes.
func startEtcd(b *testing.B, bin string) []*etcdMember {
	b.Helper()
	dir := b.TempDir()
	ms := make([]*etcdMember, 3)
	peers := make([]string, 3)
	var initial []string
	for i := range ms {
		ms[i] = &etcdMember{name: fmt.Sprintf("e%d", i), client: "http://" + testutil.FreeAddr(b)}
		peers[i] = "http://" + testutil.FreeAddr(b)
		initial = append(initial, ms[i].name+"="+peers[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	for i, m := range ms {
		m.cmd = exec.CommandContext(ctx, bin,
			"--name", m.name, "--data-dir", filepath.Join(dir, m.name),
			"--listen-peer-urls", peers[i], "--initial-advertise-peer-urls", peers[i],
			"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "bench", "--logger", "zap", "--log-level", "error")
		m.cmd.Stdout, m.cmd.Stderr = io.Discard, testutil.LogWriter(b, m.name+": ")
		if err := m.cmd.Start(); err != nil {
			b.Fatalf("start etcd: %v", err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.cmd.Wait() }()
	}
	testutil.Until(b, 30*time.Second, "etcd answers writes", func() error { return etcdPut(http.DefaultClient, ms[0].client, "/ready", "x") })
	return ms
}

// etcdPut writes key=value through the v3 JSON gateway of the member at url.
func etcdPut(hc *http.Client, url, key, value string) error {
	body, _ := json.Marshal(map[string]string{
		"key":   base64.StdEncoding.EncodeToString([]byte(key)),
		"value": base64.StdEncoding.EncodeToString([]byte(value)),
	})
	resp, err := hc.Post(url+"/v3/kv/put", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd put: %s: %s", resp.Status, msg)
	}
	return nil
}

// etcdLeader returns the member that says it leads.
func etcdLeader(ms []*etcdMember) (*etcdMember, error) {
	for _, m := range ms {
		resp, err := http.Post(m.client+"/v3/maintenance/status", "application/json", strings.NewReader("{}"))
		if err != nil {
			continue
		}
		var st struct {
			Header struct {
				MemberID string `json:"member_id"`
			} `json:"header"`
			Leader string `json:"leader"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err == nil && st.Leader != "" && st.Leader == st.Header.MemberID {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no etcd member says it leads")
}

// Leader failover, side by side with etcd: the leader of a three-node
// cluster is killed (SIGKILL for etcd; an abrupt stop of Raft and its
// listeners for ours) and the clock runs until a write through a survivor
// is acknowledged. Rounds: benchFailovers each, the median and worst kept.
const benchFailovers = 5

func BenchmarkLeaderFailoverVersusEtcd(b *testing.B) {
	etcd, err := exec.LookPath(benchEtcdName)
	if err != nil {
		testutil.Missing(b, "etcd (Debian etcd-server 3.4): the anchor of this benchmark")
	}
	// until retries write every 20 ms (each try bounded to 300 ms) and
	// returns how long it took to succeed.
	until := func(write func(ctx context.Context) error) time.Duration {
		start := time.Now()
		for time.Since(start) < 30*time.Second {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			err := write(ctx)
			cancel()
			if err == nil {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		b.Fatal("no write accepted within 30 s of killing the leader")
		return 0
	}
	ours := func() []time.Duration {
		var out []time.Duration
		for range benchFailovers {
			c := testcluster.Start(b, testcluster.Options{Nodes: 3})
			leader := c.Leader(20 * time.Second)
			var survivor *testcluster.Member
			for _, m := range c.Members {
				if m != leader {
					survivor = m
				}
			}
			node := survivor.Server().Node()
			leader.Kill()
			i := 0
			out = append(out, until(func(ctx context.Context) error {
				i++
				_, err := node.Apply(ctx, fsm.CmdCreateOrg, fsm.CreateOrg{Org: state.Org{ID: fmt.Sprintf("org_f%d", i), Name: "f", CreatedAt: time.Unix(0, 0).UTC()}})
				return err
			}))
			c.Stop()
		}
		return out
	}
	theirs := func() []time.Duration {
		var out []time.Duration
		hc := &http.Client{Timeout: 300 * time.Millisecond}
		for range benchFailovers {
			ms := startEtcd(b, etcd)
			leader, err := etcdLeader(ms)
			if err != nil {
				b.Fatal(err)
			}
			var survivor *etcdMember
			for _, m := range ms {
				if m != leader {
					survivor = m
				}
			}
			_ = leader.cmd.Process.Kill()
			out = append(out, until(func(ctx context.Context) error { return etcdPut(hc, survivor.client, "/after", "x") }))
		}
		return out
	}
	for b.Loop() {
		e, o := theirs(), ours()
		om, ow := medianMax(o)
		em, ew := medianMax(e)
		b.ReportMetric(om.Seconds()*1000, "ours-p50-ms")
		b.ReportMetric(ow.Seconds()*1000, "ours-max-ms")
		b.ReportMetric(em.Seconds()*1000, "etcd-p50-ms")
		b.ReportMetric(ew.Seconds()*1000, "etcd-max-ms")
		b.Logf("leader killed → write accepted, %d rounds: ours p50 %v max %v; etcd 3.4 p50 %v max %v", benchFailovers, om, ow, em, ew)
	}
}

func medianMax(ds []time.Duration) (time.Duration, time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)-1]
}
