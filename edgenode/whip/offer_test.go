package whip

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

func readOffer(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseOffer(t *testing.T) {
	pion, minimal := readOffer(t, "pion_offer.sdp"), readOffer(t, "minimal_offer.sdp")
	tests := []struct {
		name      string
		sdp       string
		status    int // 0: accepted
		audio     bool
		errSubstr string
	}{
		{"pion", pion, 0, true, ""},
		{"minimal", minimal, 0, true, ""},
		{"video only", cutAudio(minimal), 0, false, ""},
		{"no H264", strings.ReplaceAll(minimal, "H264/90000", "VP8/90000"), http.StatusUnsupportedMediaType, false, "H264"},
		{"no Opus", strings.ReplaceAll(minimal, "opus/48000/2", "PCMU/8000"), http.StatusUnsupportedMediaType, false, "Opus"},
		{"video recvonly", strings.Replace(minimal, "a=mid:1\r\na=sendonly", "a=mid:1\r\na=recvonly", 1), http.StatusUnsupportedMediaType, false, "no video"},
		{"empty", "", http.StatusBadRequest, false, "empty"},
		{"garbage", "hello, I am not SDP", http.StatusBadRequest, false, "malformed"},
		{"no media", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", http.StatusBadRequest, false, "no media"},
		{"too many sections", minimal + strings.Repeat("m=video 9 UDP/TLS/RTP/SAVPF 96\r\n", maxMediaSections), http.StatusBadRequest, false, "media sections"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			off, err := parseOffer([]byte(tc.sdp))
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if off.hasAudio != tc.audio {
					t.Fatalf("hasAudio %v, want %v", off.hasAudio, tc.audio)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if statusOf(err) != tc.status || !strings.Contains(err.Error(), tc.errSubstr) {
				t.Fatalf("got %d %q, want %d with %q", statusOf(err), err, tc.status, tc.errSubstr)
			}
		})
	}
}

// cutAudio drops the audio section of the minimal offer.
func cutAudio(sdp string) string {
	i, j := strings.Index(sdp, "m=audio"), strings.Index(sdp, "m=video")
	return strings.Replace(sdp[:i]+sdp[j:], "a=group:BUNDLE 0 1", "a=group:BUNDLE 1", 1)
}

// FuzzOffer feeds the SDP handling of a POST outside input: the offer
// check, then (for what it accepts) pion's own parsing and answer. None
// may panic; a refusal must carry a 4xx status.
func FuzzOffer(f *testing.F) {
	minimal := readOffer(f, "minimal_offer.sdp")
	for _, s := range []string{readOffer(f, "pion_offer.sdp"), minimal, cutAudio(minimal), "", "v=0\r\n",
		strings.ReplaceAll(minimal, "H264", "VP8"), strings.ReplaceAll(minimal, "\r\n", "\n"),
		strings.Replace(minimal, "m=video 9", "m=video 0", 1)} {
		f.Add([]byte(s))
	}
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	me := &webrtc.MediaEngine{}
	if err := registerCodecs(me); err != nil {
		f.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	f.Fuzz(func(t *testing.T, body []byte) {
		// A hang is a failure too: a POST must be answered.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("offer handling hangs on %q", body))
			}
		}()
		off, err := parseOffer(body)
		if err != nil {
			if st := statusOf(err); st < 400 || st > 499 {
				t.Fatalf("refusal with status %d", st)
			}
			return
		}
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: off.sdp}); err != nil {
			return
		}
		if answer, err := pc.CreateAnswer(nil); err == nil {
			_ = answersH264(answer.SDP)
		}
	})
}
