package edge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
)

// TestWHIPPublish publishes 720p H.264 and Opus from a pion client over
// WHIP: the ladder (with AAC audio) and the recording (the Opus as sent)
// appear, and the DELETE is a clean unpublish. A second publisher of the
// live key is refused with 409, a wrong key with 401.
func TestWHIPPublish(t *testing.T) {
	e := startIngestEdge(t, "sk_test_whip")
	if !strings.HasSuffix(e.WHIPURL(), "/whip") {
		t.Fatalf("WHIP URL %q", e.WHIPURL())
	}
	spec := mediatest.Spec{Width: 1280, Height: 720, Seconds: 8, GOP: 30, Audio: true}
	if _, status, body, err := mediatest.TryPublishWHIP(t, e.WHIPURL(), "sk_test_wrong", spec); err != nil || status != http.StatusUnauthorized {
		t.Errorf("wrong key: %d %q %v, want 401", status, body, err)
	}
	w := mediatest.PublishWHIP(t, e.WHIPURL()+"/live", e.key, spec)
	if _, status, body, err := mediatest.TryPublishWHIP(t, e.WHIPURL(), e.key, spec); err != nil || status != http.StatusConflict {
		t.Errorf("second publisher: %d %q %v, want 409", status, body, err)
	}
	if err := w.Wait(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	w.Close() // DELETE
	end := e.waitEnded(t, "ses_1", 60*time.Second)
	if end.Reason != "unpublished" {
		t.Errorf("session end %+v, want unpublished", end)
	}
	e.checkLadder(t, []string{"720p", "480p", "360p"}, true)
	e.checkRecording(t, end, "h264", "opus")
}
