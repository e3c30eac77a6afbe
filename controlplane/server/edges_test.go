package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/testutil"
)

// startNode runs a one-node control plane with the edge endpoint on
// loopback and returns it with an owner's session token.
func startNode(t *testing.T, lease time.Duration) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	srv, err := New(Config{NodeID: "cp1", DataDir: dir, HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		QUICAddr: "127.0.0.1:0", Bootstrap: true, ClusterKey: "edges-test-key", EdgeLeaseTTL: lease})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("server did not stop")
		}
	})
	testutil.Eventually(t, 20*time.Second, "the node issues a setup token", func() bool { return srv.SetupToken() != "" })
	out, err := apiClient(t, srv, "").Auth().Signup(t.Context(), client.Signup{Email: "o@example.com",
		Password: "a long passphrase", OrgName: "O", SetupToken: srv.SetupToken()})
	if err != nil {
		t.Fatal(err)
	}
	if out.Token == "" {
		t.Fatal("signup returned no token")
	}
	return srv, out.Token
}

// apiClient is the typed /v1 client of srv acting with tok.
func apiClient(t *testing.T, srv *Server, tok string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Addrs: []string{srv.URL()}, Token: tok, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// call sends one /v1 request and checks the status; prefer apiClient, and
// call for checking an exact error status.
func call(t *testing.T, srv *Server, tok, method, path string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, srv.URL()+path, rd)
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
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// dialEdge joins an edge with joinToken (its first start) and connects it
// with the certificate it got, as edgenode/edge does.
func dialEdge(t *testing.T, srv *Server, id, joinToken string) (*protocol.Client, error) {
	t.Helper()
	e, err := joinAs(srv, id, joinToken)
	if err != nil {
		return nil, err
	}
	return e.dial(t, srv, "http://127.0.0.1:1")
}

// TestEdgeLifecycle: an edge with a forged join token is refused; a real
// one is admitted; publishes are authorized by key (wrong key refused,
// second publish on a live key refused); when the edge goes silent its
// session is closed once its lease lapses.
func TestEdgeLifecycle(t *testing.T) {
	srv, tok := startNode(t, time.Second)
	api := apiClient(t, srv, tok)
	st, err := api.Streams().Create(t.Context(), client.StreamCreate{Name: "s"})
	if err != nil {
		t.Fatal(err)
	}

	join, err := srv.CreateJoinToken(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	// id.secret.ca-fingerprint: keep the id and the CA, change the secret.
	parts := strings.Split(join, ".")
	parts[1] = strings.Repeat("A", len(parts[1]))
	forged := strings.Join(parts, ".")
	if c, err := dialEdge(t, srv, "forger", forged); err == nil {
		c.Close()
		t.Fatal("an edge with a forged join token was admitted")
	}

	edge, err := dialEdge(t, srv, "edge1", join)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var pe *protocol.Error
	err = edge.Call(ctx, protocol.TypeAuthorizePublish, protocol.AuthorizePublishRequest{StreamKey: "sk_wrong", Protocol: "rtmp"}, nil)
	if !errors.As(err, &pe) {
		t.Fatalf("wrong key: %v, want a refusal", err)
	}
	var reply protocol.AuthorizePublishReply
	if err := edge.Call(ctx, protocol.TypeAuthorizePublish, protocol.AuthorizePublishRequest{StreamKey: st.StreamKey, Protocol: "rtmp"}, &reply); err != nil {
		t.Fatal(err)
	}
	if err := edge.Call(ctx, protocol.TypeAuthorizePublish, protocol.AuthorizePublishRequest{StreamKey: st.StreamKey, Protocol: "rtmp"}, nil); !errors.As(err, &pe) {
		t.Fatalf("second publish on a live key: %v, want a refusal", err)
	}
	got, err := api.Streams().Get(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "active" || got.CurrentSession == nil || got.CurrentSession.ID != reply.SessionID || got.CurrentSession.EdgeID != "edge1" {
		t.Fatalf("stream while live: %+v", got)
	}

	// The edge dies: no more heartbeats.
	edge.Close()
	took := testutil.UntilEvery(t, 15*time.Second, 100*time.Millisecond, "the session closes after the edge dies", func() error {
		got, err := api.Streams().Get(t.Context(), st.ID)
		if err != nil {
			return err
		}
		if got.Status != "idle" {
			return fmt.Errorf("stream still %s: %+v", got.Status, got)
		}
		return nil
	})
	t.Logf("session closed %v after the edge went silent (lease 1s)", took.Round(time.Millisecond))
	sessions, err := api.Streams().Sessions(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].EndReason != "edge_lost" || sessions[0].EndedAt == nil {
		t.Fatalf("sessions after the edge died: %+v", sessions)
	}
}
