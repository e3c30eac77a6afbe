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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
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
		urls := startEtcd(b, etcd)
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: benchWriters}}
		val := base64.StdEncoding.EncodeToString([]byte(payload))
		// Writes go to the first member; etcd forwards proposals to its
		// leader internally, as ours do.
		return writeRate(b, func(w, i int) error {
			body, _ := json.Marshal(map[string]string{
				"key":   base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "/streams/s%d", w)),
				"value": val,
			})
			resp, err := hc.Post(urls[0]+"/v3/kv/put", "application/json", bytes.NewReader(body))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("etcd put: %s: %s", resp.Status, msg)
			}
			return nil
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

// startEtcd runs a three-member etcd cluster on loopback and returns the
// members' client URLs once the cluster answers writes.
func startEtcd(b *testing.B, bin string) []string {
	b.Helper()
	dir := b.TempDir()
	type member struct{ name, peer, client string }
	ms := make([]member, 3)
	var initial []string
	for i := range ms {
		ms[i] = member{name: fmt.Sprintf("e%d", i), peer: "http://" + testutil.FreeAddr(b), client: "http://" + testutil.FreeAddr(b)}
		initial = append(initial, ms[i].name+"="+ms[i].peer)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	for _, m := range ms {
		cmd := exec.CommandContext(ctx, bin,
			"--name", m.name, "--data-dir", filepath.Join(dir, m.name),
			"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
			"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "bench", "--logger", "zap", "--log-level", "error")
		cmd.Stdout, cmd.Stderr = io.Discard, testutil.LogWriter(b, m.name+": ")
		if err := cmd.Start(); err != nil {
			b.Fatalf("start etcd: %v", err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = cmd.Wait() }()
	}
	urls := []string{ms[0].client, ms[1].client, ms[2].client}
	body := `{"key":"` + base64.StdEncoding.EncodeToString([]byte("/ready")) + `","value":"eA=="}`
	testutil.Until(b, 30*time.Second, "etcd answers writes", func() error {
		resp, err := http.Post(urls[0]+"/v3/kv/put", "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
	return urls
}
