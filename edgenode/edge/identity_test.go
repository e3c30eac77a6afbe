package edge_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestJoinTokenFileThenCertificate: the first start joins with the token
// from --join-token-file (nothing on argv) and keeps a 0600 key and the
// certificate in the data dir; the next start needs no token and does not
// join again.
func TestJoinTokenFileThenCertificate(t *testing.T) {
	cp := startFakeControl(t, "sk_unused", protocol.PlaybackPublic)
	dir := t.TempDir()
	tokenFile := filepath.Join(t.TempDir(), "join-token")
	if err := os.WriteFile(tokenFile, []byte(cp.join+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(cfg edge.Config) func() (time.Duration, error) {
		cfg.NodeID, cfg.DataDir, cfg.Control = "edge-1", dir, []string{cp.addr()}
		cfg.RTMPAddr, cfg.HTTPAddr, cfg.Logger = "127.0.0.1:0", "127.0.0.1:0", testutil.Logger(t)
		n, err := edge.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return runEdge(t, n)
	}
	heartbeats := cp.count(protocol.TypeHeartbeat)
	stop := start(edge.Config{JoinTokenFile: tokenFile})
	testutil.Eventually(t, 10*time.Second, "the joined edge to heartbeat", func() bool { return cp.count(protocol.TypeHeartbeat) > heartbeats })
	stop()
	if got := cp.count(protocol.TypeJoin); got != 1 {
		t.Fatalf("joins: %d, want 1", got)
	}
	for _, f := range []string{"node.key", "node.crt", "ca.pem"} {
		st, err := os.Stat(filepath.Join(dir, "identity", f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	key, _ := os.ReadFile(filepath.Join(dir, "identity", "node.key"))

	heartbeats = cp.count(protocol.TypeHeartbeat)
	stop = start(edge.Config{}) // no token at all
	testutil.Eventually(t, 10*time.Second, "the restarted edge to heartbeat", func() bool { return cp.count(protocol.TypeHeartbeat) > heartbeats })
	stop()
	if got := cp.count(protocol.TypeJoin); got != 1 {
		t.Fatalf("joins after a restart: %d, want still 1", got)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "identity", "node.key")); !bytes.Equal(key, again) {
		t.Fatal("the restart replaced the edge's key")
	}

	// Another node id on the same data dir is refused at start.
	if _, err := edge.New(edge.Config{NodeID: "edge-2", DataDir: dir, Control: []string{cp.addr()},
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "edge-1") {
		t.Fatalf("another node id on edge-1's data dir: %v", err)
	}
	// An edge that has not joined and has no token says how to get one.
	if _, err := edge.New(edge.Config{NodeID: "edge-3", DataDir: t.TempDir(), Control: []string{cp.addr()},
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "join-token") {
		t.Fatalf("no token, no certificate: %v", err)
	}
}

// TestJoinTokenFromEnvironment: `livestreams edge` reads the token from
// LIVESTREAMS_JOIN_TOKEN, so it never has to be on the command line.
func TestJoinTokenFromEnvironment(t *testing.T) {
	cp := startFakeControl(t, "sk_unused", protocol.PlaybackPublic)
	t.Setenv("LIVESTREAMS_JOIN_TOKEN", cp.join)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errs testutil.SyncBuffer
	go func() {
		done <- edge.Command(ctx, []string{"--node-id", "edge-env", "--data-dir", t.TempDir(), "--control", cp.addr(),
			"--rtmp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, &out, io.MultiWriter(&errs, testutil.LogWriter(t, "")))
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(edge.ShutdownGrace + 10*time.Second):
			t.Error("edge command did not stop")
		}
	}()
	testutil.Eventually(t, 20*time.Second, "the edge to join and heartbeat", func() bool {
		select {
		case code := <-done:
			t.Fatalf("edge command exited with %d: %s", code, errs.String())
		default:
		}
		return cp.count(protocol.TypeJoin) == 1 && cp.count(protocol.TypeHeartbeat) > 0
	})
	if strings.Contains(errs.String(), cp.join) || strings.Contains(out.String(), cp.join) {
		t.Error("the join token reached the output")
	}
}

// TestSigningKeyRevocationReachesEdge: a signed stream plays with a token
// of key_1; once the control plane revokes key_1 the edge refuses that
// token within 2 s, without the stream being looked up again.
func TestSigningKeyRevocationReachesEdge(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	const key = "sk_test_revoke"
	cp := startFakeControl(t, key, protocol.PlaybackSigned)
	n, err := edge.New(edge.Config{NodeID: "edge-1", DataDir: t.TempDir(), Control: []string{cp.addr()}, JoinToken: cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runEdge(t, n)
	mediatest.Publish(t, n.RTMPURL()+"/"+key, mediatest.Live{Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 30, GOP: 30}})
	master := n.HTTPURL() + "/hls/pb1/master.m3u8?token=" + cp.mint()
	status := func() int {
		resp, err := http.Get(master)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	testutil.Eventually(t, 30*time.Second, "the signed stream to play with key_1's token", func() bool { return status() == http.StatusOK })
	cp.revokeKey("key_1")
	took := testutil.EventuallyEvery(t, 2*time.Second, 20*time.Millisecond, "the revoked key's token to be refused", func() bool {
		s := status()
		return s == http.StatusUnauthorized || s == http.StatusForbidden
	})
	t.Logf("revocation effective on the edge %v after it was made", took.Round(time.Millisecond))
}
