package edgeapi

import (
	"crypto/rand"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/streamkey"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/testutil"
)

// oneNode is a bootstrapped one-node cluster with the cluster meta, one
// org and one stream whose key it returns.
func oneNode(t *testing.T) (*cluster.Node, state.Stream, string) {
	t.Helper()
	n, err := cluster.Open(cluster.Config{NodeID: "cp1", DataDir: t.TempDir(), RaftAddr: testutil.FreeAddr(t),
		HTTPAdvertise: "http://127.0.0.1:1", Bootstrap: true, ClusterKey: "edgeapi-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx := testutil.Context(t, 20*time.Second)
	if err := n.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	apply := func(typ string, body any) {
		t.Helper()
		if _, err := n.Apply(ctx, typ, body); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	apply(fsm.CmdInitCluster, fsm.InitCluster{Meta: state.Meta{ClusterID: "cls_1", CreatedAt: time.Now().UTC(), StreamKeySecret: secret}})
	apply(fsm.CmdCreateOrg, fsm.CreateOrg{Org: state.Org{ID: "org_1", Name: "O", CreatedAt: time.Now().UTC()}})
	key, hash, sealed, err := streamkey.Generate(secret)
	if err != nil {
		t.Fatal(err)
	}
	st := state.Stream{ID: "str_1", OrgID: "org_1", Name: "s", PlaybackID: "pid1", PlaybackPolicy: state.PolicyPublic,
		LatencyMode: state.LatencyStandard, KeyHash: hash, KeySealed: sealed, CreatedAt: time.Now().UTC()}
	apply(fsm.CmdCreateStream, st)
	return n, st, key
}

// authorize asks as an authenticated edge would (how an edge proves who
// it is is another test's business).
func authorize(t *testing.T, s *Service, edgeID string, r protocol.AuthorizePublishRequest) (protocol.AuthorizePublishReply, error) {
	t.Helper()
	out, err := s.authorizePublish(testutil.Context(t, 10*time.Second), protocol.Peer{Hello: protocol.Hello{NodeID: edgeID}}, r)
	reply, _ := out.(protocol.AuthorizePublishReply)
	return reply, err
}

// TestSessionsRecordProtocolAndRemote: an authorized publish opens a
// session with the protocol and the publisher's address the edge saw;
// a refused one records nothing and is logged with the reason and the
// protocol, never the key.
func TestSessionsRecordProtocolAndRemote(t *testing.T) {
	n, st, key := oneNode(t)
	logs := &testutil.SyncBuffer{}
	s := New(Config{Node: n, Logger: slog.New(slog.NewTextHandler(logs, nil))})

	reply, err := authorize(t, s, "edge-a", protocol.AuthorizePublishRequest{StreamKey: key, Protocol: protocol.IngestSRT,
		RemoteAddr: "198.51.100.7:50312"})
	if err != nil {
		t.Fatal(err)
	}
	var sess state.Session
	if err := n.Store().View(func(tx *state.Tx) error { var err error; sess, err = tx.Session(reply.SessionID); return err }); err != nil {
		t.Fatal(err)
	}
	if sess.Protocol != protocol.IngestSRT || sess.RemoteAddr != "198.51.100.7:50312" || sess.EdgeID != "edge-a" || sess.StreamID != st.ID {
		t.Errorf("session %+v", sess)
	}

	long := strings.Repeat("x", 500)
	for _, c := range []struct {
		req    protocol.AuthorizePublishRequest
		reason string
	}{
		{protocol.AuthorizePublishRequest{StreamKey: key, Protocol: protocol.IngestWHIP, RemoteAddr: "192.0.2.1:1"}, "stream is already live"},
		{protocol.AuthorizePublishRequest{StreamKey: "sk_wrong", Protocol: protocol.IngestRTMPS, RemoteAddr: long}, "unknown stream key"},
	} {
		if _, err := authorize(t, s, "edge-a", c.req); err == nil {
			t.Fatalf("%s: authorized", c.reason)
		}
		line := testutil.LastLines(logs.String(), 1)
		if !strings.Contains(line, "publish refused") || !strings.Contains(line, `reason="`+c.reason+`"`) ||
			!strings.Contains(line, "protocol="+c.req.Protocol) || strings.Contains(line, c.req.StreamKey) || strings.Contains(line, long) {
			t.Errorf("refusal logged as %q", line)
		}
	}
	var sessions []state.Session
	n.Store().View(func(tx *state.Tx) error { var err error; sessions, err = tx.Sessions(nil); return err })
	if len(sessions) != 1 {
		t.Errorf("refused publishes recorded sessions: %+v", sessions)
	}
}
