package whip

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// This file is the publisher side of the tests: a pion client on loopback
// and the H264 and Opus files it sends, made by ffmpeg.

// clientAPI is a pion API for a test publisher: host candidates on
// loopback only, no mDNS, with the given codecs (nil: pion's defaults).
func clientAPI(t *testing.T, register func(*webrtc.MediaEngine) error) *webrtc.API {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	me := &webrtc.MediaEngine{}
	if register == nil {
		register = (*webrtc.MediaEngine).RegisterDefaultCodecs
	}
	if err := register(me); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
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
// make) and an Ogg/Opus file of the same length.
type mediaFiles struct {
	h264, ogg string
	width     int
	height    int
	fps       int
	seconds   int
}

func makeMedia(t *testing.T, seconds int) mediaFiles {
	t.Helper()
	mediatest.RequireFFmpeg(t)
	dir := t.TempDir()
	m := mediaFiles{h264: filepath.Join(dir, "video.h264"), ogg: filepath.Join(dir, "audio.ogg"),
		width: 640, height: 360, fps: 30, seconds: seconds}
	dur := strconv.Itoa(seconds)
	video := append(mediatest.Spec{Width: m.width, Height: m.height, FPS: m.fps}.InputArgs(), "-t", dur,
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline", "-bf", "0",
		"-g", "60", "-pix_fmt", "yuv420p", "-bsf:v", "h264_mp4toannexb", "-f", "h264", m.h264)
	audio := append(mediatest.Spec{NoVideo: true, Audio: true}.InputArgs(), "-t", dur,
		"-c:a", "libopus", "-b:a", "64k", "-ac", "2", "-ar", "48000", "-page_duration", "20000", "-f", "ogg", m.ogg)
	for _, args := range [][]string{video, audio} {
		cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	return m
}

// send writes the files to the publisher's tracks at real-time pace until
// they end or ctx does. The caller waits for it.
func (p *publisher) send(ctx context.Context, t *testing.T, m mediaFiles) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := sendVideo(ctx, p.video, m); err != nil && ctx.Err() == nil {
			t.Errorf("send video: %v", err)
		}
	}()
	if p.audio != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sendAudio(ctx, p.audio, m); err != nil && ctx.Err() == nil {
				t.Errorf("send audio: %v", err)
			}
		}()
	}
	wg.Wait()
}

func sendVideo(ctx context.Context, track *webrtc.TrackLocalStaticSample, m mediaFiles) error {
	f, err := os.Open(m.h264)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := h264reader.NewReader(f)
	if err != nil {
		return err
	}
	frame := time.Second / time.Duration(m.fps)
	tick := time.NewTicker(frame)
	defer tick.Stop()
	var au bytes.Buffer
	var hasSlice bool
	flush := func() error {
		if !hasSlice {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		err := track.WriteSample(media.Sample{Data: au.Bytes(), Duration: frame})
		au.Reset()
		hasSlice = false
		return err
	}
	for {
		nal, err := r.NextNAL()
		if errors.Is(err, io.EOF) {
			return flush()
		}
		if err != nil {
			return err
		}
		// A frame starts at a slice with first_mb_in_slice 0 or at
		// parameter sets, SEI or a delimiter after a slice (x264's
		// sliced threads make several slices per frame).
		slice := nal.UnitType == h264reader.NalUnitTypeCodedSliceNonIdr || nal.UnitType == h264reader.NalUnitTypeCodedSliceIdr
		if hasSlice && (!slice || len(nal.Data) > 1 && nal.Data[1]&0x80 != 0) {
			if err := flush(); err != nil {
				return err
			}
		}
		au.Write([]byte{0, 0, 0, 1})
		au.Write(nal.Data)
		hasSlice = hasSlice || slice
	}
}

func sendAudio(ctx context.Context, track *webrtc.TrackLocalStaticSample, m mediaFiles) error {
	f, err := os.Open(m.ogg)
	if err != nil {
		return err
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		return err
	}
	const page = 20 * time.Millisecond
	tick := time.NewTicker(page)
	defer tick.Stop()
	var last uint64
	for {
		data, hdr, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.GranulePosition <= last { // the Opus headers
			continue
		}
		d := time.Duration(hdr.GranulePosition-last) * time.Second / 48000
		last = hdr.GranulePosition
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if err := track.WriteSample(media.Sample{Data: data, Duration: d}); err != nil {
			return err
		}
	}
}

// waitConnected waits for the publisher's peer connection to connect.
func (p *publisher) waitConnected(t *testing.T) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "publisher connected", func() bool {
		return p.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
}
