package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHelloIngestURLsAreOptional: the ingest URLs an edge offers travel in
// its hello; one it does not offer is absent from the wire, and a hello
// from an edge of an earlier release (no rtmps_url) decodes with nothing
// offered beyond what it names.
func TestHelloIngestURLsAreOptional(t *testing.T) {
	raw, err := json.Marshal(Hello{NodeID: "e1", RTMPURL: "rtmp://e1/live", WHIPURL: "https://e1/whip"})
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"rtmps_url", "srt_url"} {
		if strings.Contains(string(raw), absent) {
			t.Errorf("%s is on the wire though not offered: %s", absent, raw)
		}
	}
	var h Hello
	old := `{"node_id":"e1","rtmp_url":"rtmp://e1/live","srt_url":"srt://e1:8890","hls_url":"http://e1:8081"}`
	if err := json.Unmarshal([]byte(old), &h); err != nil {
		t.Fatal(err)
	}
	if h.RTMPURL != "rtmp://e1/live" || h.SRTURL != "srt://e1:8890" || h.RTMPSURL != "" || h.WHIPURL != "" {
		t.Errorf("an earlier edge's hello decodes as %+v", h)
	}
	if err := json.Unmarshal([]byte(`{"node_id":"e1","rtmps_url":"rtmps://e1/live","a_later_url":"x"}`), &h); err != nil || h.RTMPSURL != "rtmps://e1/live" {
		t.Errorf("a later edge's hello: %+v %v", h, err)
	}
}
