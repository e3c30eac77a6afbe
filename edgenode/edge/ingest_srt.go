package edge

// SRT ingest: package srt's listener in front of the live core. The key
// comes from the streamid and is authorized in the listen callback, before
// the handshake completes, so a refused caller never sends media; the
// session the core opened there travels to the connection as its Value.
// The connection's MPEG-TS goes to the session as it is, and the source's
// properties are probed from the same bytes (PMT, the H.264/H.265 SPS,
// whether audio arrives) before ffmpeg starts.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	mpegtscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/srt"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/config"
)

// Bounds of the MPEG-TS probe: how much media (by its timestamps) and how
// many bytes are looked at before ffmpeg starts with what is known.
const (
	tsProbeWindow   = 3 * time.Second
	tsProbeMaxBytes = 8 << 20
)

// registerSRTFlags adds the SRT ingest flags to fs.
func registerSRTFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.SRTAddr, "srt-addr", "", "SRT ingest listen address (UDP), e.g. :9000 (default off)")
	fs.DurationVar(&cfg.SRTLatency, "srt-latency", srt.DefaultLatency, "SRT latency (the larger of the publisher's and this applies)")
	fs.StringVar(&cfg.PublicSRT, "public-srt-addr", "", "host:port SRT publishers use (default 127.0.0.1:PORT)")
}

// newSRT prepares the SRT listener when one is configured. A port of 0 is
// resolved to a free one now, so that the URL is known before Run binds it.
func (n *Node) newSRT() error {
	if n.cfg.SRTAddr == "" {
		return nil
	}
	if n.cfg.SRTLatency < 0 || n.cfg.SRTLatency > 10*time.Second {
		return config.Fail("srt-latency", "must be between 0 and 10s")
	}
	addr := n.cfg.SRTAddr
	if _, port, err := net.SplitHostPort(addr); err != nil {
		return config.Fail("srt-addr", err.Error())
	} else if port == "0" {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("srt: reserve a port on %s: %w", addr, err)
		}
		addr = pc.LocalAddr().String()
		pc.Close()
	}
	srv, err := srt.NewServer(srt.Config{Addr: addr, Latency: n.cfg.SRTLatency, Logger: n.cfg.Logger.With("component", "srt"),
		Authorize: n.authorizeSRT, Handle: n.handleSRT, MaxConnsPerIP: n.cfg.IngestMaxConnsPerIP})
	if err != nil {
		return err
	}
	n.srt = srv
	if n.cfg.PublicSRT == "" {
		n.cfg.PublicSRT = reachable(addr)
	}
	n.cfg.PublicSRT = "srt://" + strings.TrimPrefix(n.cfg.PublicSRT, "srt://")
	return nil
}

// serveSRT runs the SRT listener until ctx ends; a failure goes to errc.
func (n *Node) serveSRT(ctx context.Context, errc chan<- error) {
	if n.srt == nil {
		return
	}
	n.wg.Go(func() {
		if err := n.srt.Run(ctx); err != nil && ctx.Err() == nil {
			select {
			case errc <- fmt.Errorf("srt: %w", err):
			default:
			}
		}
	})
}

// SRTURL is srt://host:port of the SRT ingest, or "" when it is off. The
// key goes in the streamid: SRTURL()+"?streamid=#!::r=live/KEY,m=publish".
func (n *Node) SRTURL() string { return n.cfg.PublicSRT }

// authorizeSRT opens the live session of an SRT caller inside libsrt's
// listen callback; a refusal becomes the caller's reject reason.
func (n *Node) authorizeSRT(ctx context.Context, req srt.Request) (srt.Settings, error) {
	if req.App != "" && req.App != n.cfg.RTMPApp {
		return srt.Settings{}, srt.Reject(srt.RejectNotFound, fmt.Errorf("application %q: publish to %q", req.App, n.cfg.RTMPApp))
	}
	sess, err := n.core.Publish(ctx, live.PublishRequest{Protocol: "srt", App: req.App, StreamKey: req.StreamKey,
		Query: req.Query, RemoteAddr: req.RemoteAddr})
	if err != nil {
		reasons := map[refusal]srt.RejectReason{refusedKey: srt.RejectUnauthorized, refusedStream: srt.RejectForbidden,
			refusedLive: srt.RejectConflict, refusedBusy: srt.RejectUnavailable}
		return srt.Settings{}, srt.Reject(reasons[n.refusalOf(err)], err)
	}
	// The stream's passphrase, if it has one, makes libsrt require it in
	// the rest of the handshake. Should the handshake fail after this (no
	// passphrase or a wrong one, or the caller gives up), Handle never
	// runs: Release ends the session at once, before the caller's next
	// attempt is judged, so that attempt is not refused as a duplicate.
	st, _ := n.sessionStream(sess.ID())
	return srt.Settings{Passphrase: st.SRTPassphrase, Value: sess, Release: func() { releaseSession(sess) }}, nil
}

// releaseSession ends a session whose SRT handshake never completed and
// waits (briefly: it never started ffmpeg) until its key is free again.
func releaseSession(sess *live.Session) {
	sess.Close(errSRTHandshake)
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-sess.Done():
	case <-t.C:
	}
}

var errSRTHandshake = errors.New("srt handshake not completed after authorization (wrong or missing passphrase, or the caller gave up)")

// handleSRT feeds one accepted caller's MPEG-TS to its session.
func (n *Node) handleSRT(ctx context.Context, c *srt.Conn) {
	sess, _ := c.Value().(*live.Session)
	if sess == nil {
		return
	}
	sess.Close(feedMPEGTS(sess, c))
}

// refusal is why the live core refused a publish, as every ingest
// protocol answers it in its own terms.
type refusal int

const (
	refusedKey    refusal = iota // unknown stream key
	refusedStream                // the stream may not go live (disabled)
	refusedLive                  // the key is already live
	refusedBusy                  // this edge cannot take it now (draining, shutting down, control plane unreachable)
)

// refusalOf classifies a live.Core.Publish error.
func (n *Node) refusalOf(err error) refusal {
	var pe *protocol.Error
	switch {
	case errors.Is(err, live.ErrAlreadyLive):
		return refusedLive
	case errors.Is(err, live.ErrNotRunning), n.Draining():
		return refusedBusy
	case errors.As(err, &pe):
		switch {
		case pe.Code == protocol.CodeConflict:
			return refusedLive
		case strings.Contains(pe.Message, "draining"):
			return refusedBusy
		case pe.Code == protocol.CodeUnauthorized, pe.Code == protocol.CodeForbidden && strings.Contains(pe.Message, "key"):
			return refusedKey
		case pe.Code == protocol.CodeForbidden, pe.Code == protocol.CodeNotFound:
			return refusedStream
		}
	case strings.Contains(err.Error(), "draining"):
		return refusedBusy
	}
	return refusedBusy
}

// stalled marks an ingest that went silent as a timeout, the end the
// live core reports as "stalled".
type stalled struct{ error }

func (stalled) Timeout() bool { return true }

// feedMPEGTS copies r to sess, probing the source from the first bytes and
// starting the session once it is known. It returns nil when the publisher
// disconnects, else why the ingest ended.
func feedMPEGTS(sess *live.Session, r io.Reader) error {
	probe := newTSProbe()
	defer probe.stop()
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Read(buf)
		if k > 0 {
			if _, werr := sess.Write(buf[:k]); werr != nil {
				return werr
			}
			if probe != nil && probe.feed(buf[:k]) {
				src, unsupported := probe.stop(), probe.unsupported
				probe = nil
				if !src.HasVideo && unsupported != "" {
					return fmt.Errorf("video codec %s is not supported: send H.264 or H.265", unsupported)
				}
				if err := sess.Start(src); err != nil {
					return err
				}
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, srt.ErrStalled):
			return stalled{err}
		case err != nil:
			return err
		}
	}
}

// tsProbe learns what an MPEG-TS source is from its first bytes: the
// tracks of its PMT, the picture size and frame rate from the first SPS,
// and whether audio actually arrives. The demuxer (mediacommon's) runs on
// a goroutine the probe owns, fed through a pipe.
type tsProbe struct {
	pw    *io.PipeWriter
	done  chan struct{}
	bytes int

	mu          sync.Mutex
	src         live.Source
	tracks      bool // the PMT was read
	audioTrack  bool
	firstPTS    int64
	lastPTS     int64
	havePTS     bool
	dts         []int64 // of the first video frames, for a frame rate the SPS does not give
	unsupported string  // a video codec the ladder cannot probe
}

func newTSProbe() *tsProbe {
	pr, pw := io.Pipe()
	p := &tsProbe{pw: pw, done: make(chan struct{}), src: live.Source{Format: live.MPEGTS}}
	go func() {
		defer close(p.done)
		pr.CloseWithError(p.demux(pr))
	}()
	return p
}

// feed gives the demuxer b and reports whether probing is over: the
// source is known, the bounds are reached, or the demuxer gave up.
func (p *tsProbe) feed(b []byte) bool {
	p.bytes += len(b)
	if _, err := p.pw.Write(b); err != nil {
		return true
	}
	return p.bytes >= tsProbeMaxBytes || p.ready()
}

// stop ends the demuxer and returns what was learnt. It may be called
// more than once.
func (p *tsProbe) stop() live.Source {
	if p == nil {
		return live.Source{}
	}
	p.pw.Close()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	src := p.src
	if src.FrameRate == 0 && len(p.dts) > 1 {
		if span := ptsDiff(p.dts[len(p.dts)-1], p.dts[0]); span > 0 {
			src.FrameRate = float64(len(p.dts)-1) * 90000 / float64(span)
		}
	}
	return src
}

func (p *tsProbe) ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.havePTS && ptsDiff(p.lastPTS, p.firstPTS) >= int64(tsProbeWindow.Seconds()*90000) {
		return true
	}
	if !p.tracks || p.src.Width == 0 {
		return false
	}
	return !p.audioTrack || p.src.HasAudio
}

// ptsDiff is a-b in 90 kHz ticks across the 33-bit wrap.
func ptsDiff(a, b int64) int64 { return (a - b) & (1<<33 - 1) }

func (p *tsProbe) sawPTS(pts int64) {
	if !p.havePTS {
		p.firstPTS, p.havePTS = pts, true
	}
	p.lastPTS = pts
}

// demux reads r until it fails (the pipe closes); hostile input costs the
// probe, never the edge.
func (p *tsProbe) demux(r io.Reader) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("mpeg-ts probe: %v", v)
		}
	}()
	tr := &mpegts.Reader{R: r}
	if err := tr.Initialize(); err != nil {
		return err
	}
	p.mu.Lock()
	p.tracks = true
	p.mu.Unlock()
	for _, t := range tr.Tracks() {
		switch c := t.Codec.(type) {
		case *mpegtscodecs.H264:
			p.video("h264")
			tr.OnDataH264(t, func(pts, dts int64, au [][]byte) error {
				return p.frame(pts, dts, au, func(nalu []byte) (int, int, float64, bool) {
					var sps h264.SPS
					if h264.NALUType(nalu[0]&0x1f) != h264.NALUTypeSPS || sps.Unmarshal(nalu) != nil {
						return 0, 0, 0, false
					}
					return sps.Width(), sps.Height(), sps.FPS(), true
				})
			})
		case *mpegtscodecs.H265:
			p.video("hevc")
			tr.OnDataH265(t, func(pts, dts int64, au [][]byte) error {
				return p.frame(pts, dts, au, func(nalu []byte) (int, int, float64, bool) {
					var sps h265.SPS
					if len(nalu) < 2 || h265.NALUType((nalu[0]>>1)&0x3f) != h265.NALUType_SPS_NUT || sps.Unmarshal(nalu) != nil {
						return 0, 0, 0, false
					}
					return sps.Width(), sps.Height(), sps.FPS(), true
				})
			})
		case *mpegtscodecs.MPEG4Audio:
			p.audio("aac")
			tr.OnDataMPEG4Audio(t, func(pts int64, _ [][]byte) error { return p.sound(pts) })
		case *mpegtscodecs.Opus:
			p.audio("opus")
			tr.OnDataOpus(t, func(pts int64, _ [][]byte) error { return p.sound(pts) })
		case *mpegtscodecs.MPEG1Audio:
			p.audio("mp3")
			tr.OnDataMPEG1Audio(t, func(pts int64, _ [][]byte) error { return p.sound(pts) })
		case *mpegtscodecs.AC3:
			p.audio("ac3")
			tr.OnDataAC3(t, func(pts int64, _ []byte) error { return p.sound(pts) })
		default:
			if c.IsVideo() {
				p.mu.Lock()
				p.unsupported = strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", c), "*codecs."))
				p.mu.Unlock()
			}
		}
	}
	for {
		if err := tr.Read(); err != nil {
			return err
		}
	}
}

func (p *tsProbe) video(codec string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.src.HasVideo {
		p.src.HasVideo, p.src.VideoCodec = true, codec
	}
}

func (p *tsProbe) audio(codec string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.audioTrack {
		p.audioTrack, p.src.AudioCodec = true, codec
	}
}

// frame notes a video access unit: its timing, and the size and rate from
// its SPS if it carries one and none was read yet.
func (p *tsProbe) frame(pts, dts int64, au [][]byte, sps func([]byte) (int, int, float64, bool)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sawPTS(pts)
	if len(p.dts) < 60 {
		p.dts = append(p.dts, dts)
	}
	if p.src.Width != 0 {
		return nil
	}
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		if w, h, fps, ok := sps(nalu); ok && w > 0 && h > 0 {
			p.src.Width, p.src.Height = w, h
			if fps > 0 && fps <= 240 {
				p.src.FrameRate = fps
			}
			break
		}
	}
	return nil
}

// sound notes that audio arrived.
func (p *tsProbe) sound(pts int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sawPTS(pts)
	p.src.HasAudio = true
	return nil
}
