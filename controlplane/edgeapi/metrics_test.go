package edgeapi

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestAuthorizationMetrics: every publish authorization an edge asks for
// is counted by result and timed.
func TestAuthorizationMetrics(t *testing.T) {
	n, _, key := oneNode(t)
	s := New(Config{Node: n, Logger: testutil.Logger(t)})
	reg := prometheus.NewRegistry()
	for _, c := range s.Collectors() {
		reg.MustRegister(c)
	}
	ctx := testutil.Context(t, 10*time.Second)
	peer := protocol.Peer{Hello: protocol.Hello{NodeID: "edge-a"}}
	// As Handle dispatches it, past the peer's certificate check.
	ask := func(key string) error {
		_, err := s.authorizeMeasured(ctx, peer, protocol.AuthorizePublishRequest{StreamKey: key, Protocol: protocol.IngestRTMP,
			RemoteAddr: "192.0.2.1:1"})
		return err
	}
	if err := ask(key); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{key, "sk_wrong"} { // already live; unknown
		if err := ask(k); err == nil {
			t.Fatalf("key %q allowed", k)
		}
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				got[name] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[name+"/count"] = float64(m.GetHistogram().GetSampleCount())
				got[name+"/sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	want := map[string]float64{
		"livestreams_publish_authorizations_total/result=allowed":  1,
		"livestreams_publish_authorizations_total/result=refused":  2,
		"livestreams_publish_authorization_duration_seconds/count": 3,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if sum := got["livestreams_publish_authorization_duration_seconds/sum"]; sum <= 0 || sum > 10 {
		t.Errorf("authorization time sum %v s", sum)
	}
}
