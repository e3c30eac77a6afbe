package edgeapi

import (
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestAuthorizeCarriesDVRWindow: the stream's DVR window reaches the edge
// in the publish's stream settings.
func TestAuthorizeCarriesDVRWindow(t *testing.T) {
	n, st, key := oneNode(t)
	window := 900
	if _, err := n.Apply(testutil.Context(t, 10*time.Second), fsm.CmdUpdateStream,
		fsm.UpdateStream{OrgID: st.OrgID, ID: st.ID, DVRWindow: &window, At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	s := New(Config{Node: n, Logger: testutil.Logger(t)})
	reply, err := authorize(t, s, "edge-a", protocol.AuthorizePublishRequest{StreamKey: key, Protocol: protocol.IngestRTMP,
		RemoteAddr: "198.51.100.7:1"})
	if err != nil {
		t.Fatal(err)
	}
	if reply.Stream.DVRWindow != window {
		t.Fatalf("stream info %+v, want dvr_window %d", reply.Stream, window)
	}
}
