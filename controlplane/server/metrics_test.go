package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/protocol"
)

// TestMetricsOfANode: a control-plane node's /metrics holds the API's
// series, Raft apply latency and the publish authorizations its edge
// endpoint answered, in the node's own registry.
func TestMetricsOfANode(t *testing.T) {
	srv, tok := startNode(t, 10*time.Second)
	st, err := apiClient(t, srv, tok).Streams().Create(t.Context(), client.StreamCreate{Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	join, err := srv.CreateJoinToken(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	edge, err := dialEdge(t, srv, "edge1", join)
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := edge.Call(ctx, protocol.TypeAuthorizePublish, protocol.AuthorizePublishRequest{StreamKey: st.StreamKey, Protocol: "rtmp"}, nil); err != nil {
		t.Fatal(err)
	}
	var pe *protocol.Error
	if err := edge.Call(ctx, protocol.TypeAuthorizePublish, protocol.AuthorizePublishRequest{StreamKey: "sk_wrong", Protocol: "rtmp"}, nil); !errors.As(err, &pe) {
		t.Fatalf("wrong key: %v", err)
	}

	resp, err := http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, line := range []string{
		`livestreams_publish_authorizations_total{result="allowed"} 1`,
		`livestreams_publish_authorizations_total{result="refused"} 1`,
		`livestreams_publish_authorization_duration_seconds_count 2`,
		`livestreams_raft_apply_duration_seconds_count{outcome="committed"} `,
		`livestreams_http_requests_total{code="2xx",method="POST",route="/v1/streams"} 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, "\n"+line) {
			t.Errorf("/metrics has no line %q", line)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}
