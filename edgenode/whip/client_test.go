package whip

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// This file is the publisher side of the tests: a pion client on loopback
// and the H264 and Opus files it sends (mediatest's).

// clientAPI is a pion API for a test publisher: host candidates on
// loopback only, no mDNS, with the given codecs (nil: pion's defaults).
func clientAPI(t *testing.T, register func(*webrtc.MediaEngine) error) *webrtc.API {
	t.Helper()
	api, err := mediatest.WHIPAPI(register)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// publisher is a test WHIP client with an H264 track and, optionally, an
// Opus track.
type publisher struct {
	pc           *webrtc.PeerConnection
	video, audio *webrtc.TrackLocalStaticSample
}

func newPublisher(t *testing.T, api *webrtc.API, videoMime string, withAudio bool) *publisher {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	p := &publisher{pc: pc}
	p.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: videoMime}, "video", "whip-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(p.video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	if withAudio {
		p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "whip-test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(p.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// offer returns the publisher's complete offer (gathering done).
func (p *publisher) offer(t *testing.T) string {
	t.Helper()
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		t.Fatal("client ICE gathering did not finish")
	}
	return p.pc.LocalDescription().SDP
}

// post sends a WHIP POST and returns the response with its body read.
func post(t *testing.T, url, key, contentType string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", contentType)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// mediaFiles are an H264 Annex-B file (no B-frames, as WebRTC encoders
// make) and an Ogg/Opus file of the same length, made once per machine.
type mediaFiles struct {
	mediatest.WHIPMedia
	width, height, fps int
}

func makeMedia(t *testing.T, seconds int) mediaFiles {
	t.Helper()
	m := mediaFiles{width: 640, height: 360, fps: 30}
	m.WHIPMedia = mediatest.WHIPFiles(t, mediatest.Spec{Width: m.width, Height: m.height, FPS: m.fps, GOP: 60, Seconds: seconds, Audio: true})
	return m
}

// send writes the files to the publisher's tracks at real-time pace until
// they end or ctx does. The caller waits for it.
func (p *publisher) send(ctx context.Context, t *testing.T, m mediaFiles) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mediatest.SendH264(ctx, p.video, m.H264, m.fps, nil); err != nil && ctx.Err() == nil {
			t.Errorf("send video: %v", err)
		}
	}()
	if p.audio != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := mediatest.SendOpus(ctx, p.audio, m.Ogg); err != nil && ctx.Err() == nil {
				t.Errorf("send audio: %v", err)
			}
		}()
	}
	wg.Wait()
}

// waitConnected waits for the publisher's peer connection to connect.
func (p *publisher) waitConnected(t *testing.T) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "publisher connected", func() bool {
		return p.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
}
