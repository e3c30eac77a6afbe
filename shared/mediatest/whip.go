package mediatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// WHIP is a real-time WebRTC publisher (pion) that sends a spec's H.264
// (constrained baseline, no B-frames, as browsers encode) and, with
// Spec.Audio, Opus, both made once per machine by ffmpeg, to a WHIP
// endpoint on loopback.
type WHIP struct {
	Location string // the session resource the endpoint answered
	pc       *webrtc.PeerConnection
	cancel   context.CancelFunc
	done     chan struct{}
	err      error

	mu        sync.Mutex
	firstSent time.Time
}

// PublishWHIP POSTs an offer to endpoint with key as the bearer token and,
// once the answer is 201 Created, sends spec's media for Spec.Seconds
// (default 4) at real-time pace. It fails the test on any other answer;
// TryPublishWHIP returns it instead. Everything ends with the test.
func PublishWHIP(t testing.TB, endpoint, key string, spec Spec) *WHIP {
	t.Helper()
	w, status, body, err := TryPublishWHIP(t, endpoint, key, spec)
	if err != nil {
		t.Fatalf("WHIP publish: %v", err)
	}
	if status != http.StatusCreated {
		t.Fatalf("WHIP publish answered %d: %s", status, body)
	}
	return w
}

// TryPublishWHIP is PublishWHIP returning the endpoint's status and body;
// w is nil unless the status is 201.
func TryPublishWHIP(t testing.TB, endpoint, key string, spec Spec) (w *WHIP, status int, body string, err error) {
	t.Helper()
	files := WHIPFiles(t, spec)
	spec = spec.withDefaults()
	api, err := WHIPAPI(nil)
	if err != nil {
		return nil, 0, "", err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, 0, "", err
	}
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264}, "video", "mediatest")
	if err != nil {
		pc.Close()
		return nil, 0, "", err
	}
	var audio *webrtc.TrackLocalStaticSample
	tracks := []*webrtc.TrackLocalStaticSample{video}
	if spec.Audio {
		if audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "mediatest"); err != nil {
			pc.Close()
			return nil, 0, "", err
		}
		tracks = append(tracks, audio)
	}
	for _, tr := range tracks {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			pc.Close()
			return nil, 0, "", err
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		pc.Close()
		return nil, 0, "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		pc.Close()
		return nil, 0, "", err
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		pc.Close()
		return nil, 0, "", errors.New("ICE gathering did not finish")
	}
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		pc.Close()
		return nil, 0, "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		pc.Close()
		return nil, 0, "", err
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		pc.Close()
		return nil, resp.StatusCode, string(raw), nil
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(raw)}); err != nil {
		pc.Close()
		return nil, resp.StatusCode, string(raw), fmt.Errorf("set answer: %w", err)
	}
	loc := resp.Header.Get("Location")
	if u, err := url.Parse(endpoint); err == nil && loc != "" {
		if l, err := u.Parse(loc); err == nil {
			loc = l.String()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w = &WHIP{Location: loc, pc: pc, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.err = w.send(ctx, video, audio, files, spec)
	}()
	t.Cleanup(func() { w.Close() })
	return w, resp.StatusCode, string(raw), nil
}

// WHIPAPI is a pion API for a test publisher: host candidates on loopback
// only, no mDNS, with the codecs register puts in the media engine (nil:
// pion's defaults).
func WHIPAPI(register func(*webrtc.MediaEngine) error) (*webrtc.API, error) {
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
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// Wait waits until the media has been sent (or Close), and returns why
// sending failed, if it did.
func (w *WHIP) Wait() error {
	<-w.done
	return w.err
}

// FirstSent is when the first video frame was sent (zero before).
func (w *WHIP) FirstSent() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstSent
}

// Close stops sending, DELETEs the session resource (a clean unpublish)
// and closes the peer connection.
func (w *WHIP) Close() {
	w.cancel()
	<-w.done
	if w.Location != "" {
		if req, err := http.NewRequest(http.MethodDelete, w.Location, nil); err == nil {
			if resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req); err == nil {
				resp.Body.Close()
			}
		}
		w.Location = ""
	}
	w.pc.Close()
}

func (w *WHIP) send(ctx context.Context, video, audio *webrtc.TrackLocalStaticSample, f WHIPMedia, spec Spec) error {
	connected := make(chan struct{})
	var once sync.Once
	w.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	if w.pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
		once.Do(func() { close(connected) })
	}
	select {
	case <-connected:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(15 * time.Second):
		return errors.New("peer connection did not connect")
	}
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { errc <- SendH264(ctx, video, f.H264, spec.FPS, w.sent) })
	if audio != nil {
		wg.Go(func() { errc <- SendOpus(ctx, audio, f.Ogg) })
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

// sent notes when the first video frame went out.
func (w *WHIP) sent() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.firstSent.IsZero() {
		w.firstSent = time.Now()
	}
}

// SendH264 writes the Annex-B file's access units to track at fps, in
// real time, until the file or ctx ends; before each it calls sent, if
// not nil.
func SendH264(ctx context.Context, track *webrtc.TrackLocalStaticSample, path string, fps int, sent func()) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := h264reader.NewReader(f)
	if err != nil {
		return err
	}
	frame := time.Second / time.Duration(fps)
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
		if sent != nil {
			sent()
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
		// A frame starts at a slice with first_mb_in_slice 0, or at
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

// SendOpus writes the Ogg file's Opus pages (20 ms each) to track in real
// time, until the file or ctx ends.
func SendOpus(ctx context.Context, track *webrtc.TrackLocalStaticSample, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
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

// WHIPMedia are a spec's H.264 Annex-B and Ogg/Opus files (Ogg empty
// without Spec.Audio), as SendH264 and SendOpus send them.
type WHIPMedia struct{ H264, Ogg string }

// WHIPFiles makes (once per machine) the spec's video as WebRTC encoders
// send it and, with audio, its tone as Ogg/Opus in 20 ms pages.
func WHIPFiles(t testing.TB, spec Spec) WHIPMedia {
	t.Helper()
	RequireFFmpeg(t)
	if spec.Width == 0 {
		spec.Width, spec.Height = 640, 360
	}
	spec = spec.withDefaults()
	base := strings.TrimSuffix(spec.name(), ".mp4")
	m := WHIPMedia{H264: base + ".whip.h264"}
	dur := strconv.Itoa(spec.Seconds)
	jobs := map[*string][]string{&m.H264: append(Spec{Width: spec.Width, Height: spec.Height, FPS: spec.FPS}.InputArgs(), "-t", dur,
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline", "-bf", "0",
		"-g", strconv.Itoa(spec.GOP), "-pix_fmt", "yuv420p", "-bsf:v", "h264_mp4toannexb", "-f", "h264")}
	if spec.Audio {
		m.Ogg = base + ".whip.ogg"
		jobs[&m.Ogg] = append(Spec{NoVideo: true, Audio: true, Frequency: spec.Frequency}.InputArgs(), "-t", dur,
			"-c:a", "libopus", "-b:a", "64k", "-ac", "2", "-ar", "48000", "-page_duration", "20000", "-f", "ogg")
	}
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if err := os.MkdirAll(Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, args := range jobs {
		path := filepath.Join(Dir(), *name)
		*name = path
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			continue
		}
		tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, err := exec.CommandContext(ctx, "ffmpeg", append(append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...), tmp)...).CombinedOutput()
		cancel()
		if err != nil {
			os.Remove(tmp)
			t.Fatalf("make WHIP media %s: %v\n%s", path, err, out)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	return m
}
