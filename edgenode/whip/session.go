package whip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// pliInterval is how often a keyframe is asked for until one arrives, at
// the start and after frames were lost.
const pliInterval = 2 * time.Second

// keyframeEvery is how long the session lets the browser go without a
// keyframe once it has sent one: a browser sends them only when asked,
// and a reader joining the source late (a restream tap) can start only
// at one. Every 2 s, as OBS sends them by default.
const keyframeEvery = 2 * time.Second

// stallError ends a session whose media stopped without the peer closing.
// It is a timeout, as a read deadline would be (the live core counts such
// an end as a stall).
type stallError struct{ d time.Duration }

func (e stallError) Error() string { return fmt.Sprintf("no media for %s", e.d) }
func (stallError) Timeout() bool   { return true }

// Session is one WHIP publish: a peer connection receiving H264 and Opus,
// muxed into the Sink. It ends on DELETE, when the peer connection fails
// or closes, on a stall, or when the Server stops.
type Session struct {
	id   string
	etag string
	req  Request
	pc   *webrtc.PeerConnection
	log  *slog.Logger

	stall time.Duration

	muxMu sync.Mutex // serializes the track readers' use of mux and sink
	mux   *muxer
	sink  Sink

	lastMedia atomic.Int64  // unix ns of the last RTP packet
	videoSSRC atomic.Uint32 // 0 until the video track arrives
	keyframe  atomic.Bool   // a keyframe arrived since the start or the last loss
	lastKey   atomic.Int64  // unix ns of the last keyframe written

	mu      sync.Mutex
	ending  bool
	endErr  error
	endC    chan struct{}
	readers sync.WaitGroup // track readers; Add only while !ending
	done    chan struct{}
}

// negotiate builds the session's peer connection from the offer and
// returns its complete answer (gathering done).
func (s *Server) negotiate(ctx context.Context, id string, req Request, off offer, sink Sink) (*Session, string, error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("create peer connection: %w", err)
	}
	ss := &Session{id: id, etag: newID()[:16], req: req, pc: pc, log: s.log.With("session", id),
		stall: s.cfg.StallTimeout, mux: newMuxer(sink, off.hasAudio), sink: sink,
		endC: make(chan struct{}), done: make(chan struct{})}
	ss.lastMedia.Store(time.Now().UnixNano())
	pc.OnTrack(ss.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateFailed:
			ss.end(errors.New("peer connection failed"))
		case webrtc.PeerConnectionStateClosed:
			ss.end(nil)
		}
	})
	fail := func(status int, format string, args ...any) (*Session, string, error) {
		_ = pc.Close()
		return nil, "", &errOffer{status: status, msg: fmt.Sprintf(format, args...)}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: off.sdp}); err != nil {
		return fail(http.StatusBadRequest, "SDP offer refused: %v", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(http.StatusBadRequest, "no answer to the SDP offer: %v", err)
	}
	if !answersH264(answer.SDP) {
		return fail(http.StatusUnsupportedMediaType, "SDP offer has no usable H264 video (packetization-mode 0 or 1, a profile this server accepts)")
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(http.StatusInternalServerError, "set the SDP answer: %v", err)
	}
	gctx, cancel := context.WithTimeout(ctx, s.cfg.NegotiateTimeout)
	defer cancel()
	select {
	case <-gathered:
	case <-gctx.Done():
		return fail(http.StatusServiceUnavailable, "ICE gathering did not finish in %s", s.cfg.NegotiateTimeout)
	}
	local := pc.LocalDescription()
	if local == nil || !strings.Contains(local.SDP, "a=candidate") {
		return fail(http.StatusServiceUnavailable, "no ICE candidate to offer (check the WebRTC UDP address)")
	}
	return ss, local.SDP, nil
}

// answersH264 reports whether an answer receives H264 video (pion
// rejects sections whose codecs it does not share with port 0 and no
// rtpmap).
func answersH264(answer string) bool {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(answer); err != nil {
		return false
	}
	for _, m := range desc.MediaDescriptions {
		if m.MediaName.Media == "video" && hasCodec(m, "h264") {
			return true
		}
	}
	return false
}

// ID returns the session's id, the last element of its Location.
func (ss *Session) ID() string { return ss.id }

// Request returns what the publisher asked with.
func (ss *Session) Request() Request { return ss.req }

// Done is closed once the session has ended and its Sink is closed.
func (ss *Session) Done() <-chan struct{} { return ss.done }

// Close ends the session as a DELETE would.
func (ss *Session) Close() { ss.end(nil) }

// end decides the end once; run carries it out.
func (ss *Session) end(err error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ending {
		return
	}
	ss.ending, ss.endErr = true, err
	close(ss.endC)
}

// enter registers a track reader unless the session is ending.
func (ss *Session) enter() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ending {
		return false
	}
	ss.readers.Add(1)
	return true
}

// run is the session's goroutine (the Server owns it): it asks for the
// first keyframe and then one every keyframeEvery, watches for a stall
// and the end, then closes the peer
// connection, waits for the readers and closes the sink.
func (ss *Session) run(ctx context.Context) {
	tick := time.NewTicker(pliInterval / 4)
	defer tick.Stop()
	var lastPLI time.Time
	for waiting := true; waiting; {
		select {
		case <-ss.endC:
			waiting = false
		case <-ctx.Done():
			ss.end(ErrShuttingDown)
		case now := <-tick.C:
			if idle := now.Sub(time.Unix(0, ss.lastMedia.Load())); idle >= ss.stall {
				ss.end(stallError{ss.stall})
				continue
			}
			missing := !ss.keyframe.Load() && now.Sub(lastPLI) >= pliInterval
			due := ss.keyframe.Load() && now.Sub(time.Unix(0, ss.lastKey.Load())) >= keyframeEvery && now.Sub(lastPLI) >= keyframeEvery
			if (missing || due) && ss.requestKeyframe() {
				lastPLI = now
			}
		}
	}
	_ = ss.pc.Close() // ends the readers' ReadRTP
	ss.readers.Wait()
	ss.mu.Lock()
	err := ss.endErr
	ss.mu.Unlock()
	if err == nil && !ss.mux.started {
		err = errors.New("the publish ended before its first keyframe")
	}
	ss.sink.Close(err)
	ss.log.Info("whip session ended", "err", err)
	close(ss.done)
}

// requestKeyframe sends a PLI for the video track, if it has arrived.
func (ss *Session) requestKeyframe() bool {
	ssrc := ss.videoSSRC.Load()
	if ssrc == 0 {
		return false
	}
	if err := ss.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		ss.log.Debug("send PLI", "err", err)
		return false
	}
	return true
}

// onTrack runs on pion's goroutine for each remote track; it reads the
// track until the peer connection closes, registered with the session so
// that run waits for it.
func (ss *Session) onTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	if !ss.enter() {
		return
	}
	defer ss.readers.Done()
	mime := strings.ToLower(track.Codec().MimeType)
	var err error
	switch {
	case mime == strings.ToLower(webrtc.MimeTypeH264):
		err = ss.readVideo(track)
	case mime == strings.ToLower(webrtc.MimeTypeOpus):
		err = ss.readAudio(track)
	default:
		ss.log.Warn("ignoring a track with an unexpected codec", "mime", mime)
		return
	}
	if err != nil {
		ss.end(err)
	}
}

func (ss *Session) readVideo(track *webrtc.TrackRemote) error {
	ss.videoSSRC.Store(uint32(track.SSRC()))
	ss.requestKeyframe()
	sb := samplebuilder.New(512, &codecs.H264Packet{}, 90000, samplebuilder.WithMaxTimeDelay(time.Second))
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return nil // the peer connection closed; run knows why
		}
		ss.lastMedia.Store(time.Now().UnixNano())
		sb.Push(pkt)
		for smp := sb.Pop(); smp != nil; smp = sb.Pop() {
			if smp.PrevDroppedPackets > 0 {
				// Frames were lost beyond what NACK recovered: until the
				// next keyframe the picture is damaged, so ask for one.
				ss.keyframe.Store(false)
			}
			if err := ss.write(func(m *muxer, now time.Time) error {
				key, err := m.writeVideo(now, smp.PacketTimestamp, smp.Data)
				if key && m.started {
					ss.lastKey.Store(now.UnixNano())
					ss.keyframe.Store(true)
				}
				return err
			}); err != nil {
				return err
			}
		}
	}
}

func (ss *Session) readAudio(track *webrtc.TrackRemote) error {
	var last uint16
	var seen bool
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return nil
		}
		ss.lastMedia.Store(time.Now().UnixNano())
		// Opus packets stand alone: a late one is dropped, not reordered.
		if seen && int16(pkt.SequenceNumber-last) <= 0 {
			continue
		}
		seen, last = true, pkt.SequenceNumber
		if err := ss.write(func(m *muxer, now time.Time) error {
			return m.writeAudio(now, pkt.Timestamp, pkt.Payload)
		}); err != nil {
			return err
		}
	}
}

// write runs f on the muxer with the readers serialized.
func (ss *Session) write(f func(*muxer, time.Time) error) error {
	ss.muxMu.Lock()
	defer ss.muxMu.Unlock()
	return f(ss.mux, time.Now())
}
