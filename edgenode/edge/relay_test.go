package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/server"
	"github.com/livestreams/livestreams/edgenode/edge"
)

const gossipKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func api(t *testing.T, base, tok, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

func get(u string) (int, []byte) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// startEdge runs one edge in this process, gossiping through seed.
func startEdge(t *testing.T, srv *server.Server, id, join, seed string) (*edge.Node, context.CancelFunc) {
	t.Helper()
	n, err := edge.New(edge.Config{NodeID: id, DataDir: t.TempDir(), Control: []string{srv.QUICAddr()}, JoinToken: join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0", GossipJoin: []string{seed},
		GossipKey: gossipKey, GossipProbeInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("edge %s did not stop", id)
		}
	}
	t.Cleanup(stop)
	return n, cancel
}

// TestRelay publishes to edge A and watches through edge B: 50 viewers
// asking B at once for a fresh segment make A send it once; B enforces the
// playback token; when A goes away, B stops serving the live playlist.
func TestRelay(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is required (make deps installs it)")
	}
	srv, err := server.New(server.Config{NodeID: "cp1", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		QUICAddr: "127.0.0.1:0", Bootstrap: true, ClusterKey: "relay-test", GossipAddr: "127.0.0.1:0", GossipKey: gossipKey,
		GossipProbeInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 20*time.Second, "a setup token", func() bool { return srv.SetupToken() != "" })
	var login struct {
		Token string `json:"token"`
	}
	if code := api(t, srv.URL(), "", "POST", "/v1/auth/signup", map[string]any{"email": "o@example.com", "password": "a long passphrase",
		"org_name": "O", "setup_token": srv.SetupToken()}, &login); code != 201 {
		t.Fatalf("signup: %d", code)
	}
	tok := login.Token
	var key struct {
		ID string `json:"id"`
	}
	api(t, srv.URL(), tok, "POST", "/v1/signing-keys", map[string]any{}, &key)
	var st struct {
		ID         string `json:"id"`
		PlaybackID string `json:"playback_id"`
		StreamKey  string `json:"stream_key"`
	}
	api(t, srv.URL(), tok, "POST", "/v1/streams", map[string]any{"name": "relayed", "playback_policy": "signed"}, &st)
	var minted struct {
		Token string `json:"token"`
	}
	api(t, srv.URL(), tok, "POST", "/v1/signing-keys/"+key.ID+"/tokens", map[string]any{"playback_id": st.PlaybackID}, &minted)
	join, err := srv.CreateJoinToken(context.Background(), "relay test")
	if err != nil {
		t.Fatal(err)
	}
	a, stopA := startEdge(t, srv, "edge-a", join, srv.GossipAddr())
	b, _ := startEdge(t, srv, "edge-b", join, srv.GossipAddr())

	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-t", "40", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p", "-f", "flv", a.RTMPURL()+"/"+st.StreamKey)
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Process.Kill(); pub.Wait() })

	q := "?token=" + minted.Token
	base := b.HTTPURL() + "/hls/" + st.PlaybackID + "/"
	waitFor(t, 30*time.Second, "the master playlist through edge B", func() bool {
		code, body := get(base + "master.m3u8" + q)
		return code == 200 && strings.Contains(string(body), "360p/index.m3u8")
	})
	if code, _ := get(base + "master.m3u8"); code != http.StatusForbidden {
		t.Errorf("edge B without a token: %d, want 403", code)
	}

	// Wait for a segment B has not fetched yet, then 50 viewers at once.
	var fresh string
	waitFor(t, 20*time.Second, "a fresh segment", func() bool {
		_, body := get(base + "360p/index.m3u8" + q)
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "seg_") || strings.Contains(line, ".m4s") {
				name, _, _ := strings.Cut(line, "?")
				if a.RelayServed(st.PlaybackID, "360p/"+name) == 0 {
					fresh = name
				}
			}
		}
		return fresh != ""
	})
	var wg sync.WaitGroup
	codes := make([]int, 50)
	bodies := make([][]byte, 50)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i], bodies[i] = get(base + "360p/" + fresh + q)
		}(i)
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != 200 || !bytes.Equal(bodies[i], bodies[0]) || len(bodies[0]) == 0 {
			t.Fatalf("viewer %d: status %d, %d bytes (viewer 0: %d bytes)", i, codes[i], len(bodies[i]), len(bodies[0]))
		}
	}
	if got := a.RelayServed(st.PlaybackID, "360p/"+fresh); got != 1 {
		t.Errorf("edge A served %s to edge B %d times for 50 viewers, want 1", fresh, got)
	}
	if code, _ := get(base + "360p/" + fresh); code != http.StatusForbidden {
		t.Errorf("a cached segment on edge B without a token: %d, want 403", code)
	}
	t.Logf("FIGURE relay: 50 concurrent viewers of a fresh segment through edge B -> %d request(s) to the origin", a.RelayServed(st.PlaybackID, "360p/"+fresh))

	// The origin goes away: B stops serving the live playlist.
	pub.Process.Kill()
	stopA()
	gone := time.Now()
	waitFor(t, 10*time.Second, "edge B to stop serving the playlist", func() bool {
		code, _ := get(base + "360p/index.m3u8" + q)
		return code == http.StatusNotFound || code == http.StatusBadGateway
	})
	t.Logf("edge B stopped serving the live playlist %v after the origin left", time.Since(gone).Round(time.Millisecond))
}
