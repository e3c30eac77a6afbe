package edge

// WHIP ingest: package whip's endpoint on the edge's HTTP listener, in
// front of the live core. The bearer key is authorized when the offer
// arrives, before any network resource is set up; the session's MPEG-TS
// (H.264 as sent, Opus that the ladder encodes to AAC) goes to the live
// session, and whip's probe of the first keyframe says what the source is.

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/whip"
)

// registerWHIPFlags adds the WHIP ingest flags to fs.
func registerWHIPFlags(fs *flag.FlagSet, cfg *Config) {
	fs.Var(notFlag{&cfg.NoWHIP}, "whip", "serve WHIP (browser and OBS WebRTC ingest) at /whip on the HTTP listener (default true)")
	fs.StringVar(&cfg.WebRTCUDPAddr, "webrtc-udp-addr", "", "one UDP address for all WHIP sessions, e.g. :8189 (default: an ephemeral port per session)")
	fs.StringVar(&cfg.WebRTCPublicIP, "webrtc-public-ip", "", "public IP to advertise in WHIP candidates, for a VPS behind 1:1 NAT")
}

// newWHIP creates the WHIP endpoint unless it is off; its shared UDP port,
// if any, is bound now.
func (n *Node) newWHIP() error {
	if n.cfg.NoWHIP {
		return nil
	}
	srv, err := whip.NewServer(whip.Config{Publish: n.publishWHIP, UDPAddr: n.cfg.WebRTCUDPAddr, PublicIP: n.cfg.WebRTCPublicIP,
		LoopbackOnly: n.cfg.WebRTCLoopback, MaxPerIP: n.cfg.IngestMaxConnsPerIP, Logger: n.cfg.Logger.With("component", "whip")})
	if err != nil {
		return fmt.Errorf("--webrtc-udp-addr, --webrtc-public-ip: %w", err)
	}
	n.whip = srv
	if n.cfg.PublicWHIP == "" {
		n.cfg.PublicWHIP = n.cfg.PublicURL + whip.DefaultBasePath
	}
	return nil
}

// serveWHIP runs the WHIP sessions until ctx ends.
func (n *Node) serveWHIP(ctx context.Context) {
	if n.whip == nil {
		return
	}
	n.wg.Go(func() { n.whip.Run(ctx) })
}

// mountWHIP serves the WHIP endpoint on mux.
func (n *Node) mountWHIP(mux *http.ServeMux) {
	if n.whip != nil {
		mux.Handle(whip.DefaultBasePath, n.whip)
		mux.Handle(whip.DefaultBasePath+"/", n.whip)
	}
}

// WHIPURL is the WHIP endpoint publishers POST to with their key as a
// bearer token, or "" when WHIP is off.
func (n *Node) WHIPURL() string { return n.cfg.PublicWHIP }

// publishWHIP opens the live session of a WHIP publisher; a refusal is
// answered with its HTTP status.
func (n *Node) publishWHIP(ctx context.Context, req whip.Request) (whip.Sink, error) {
	sess, err := n.core.Publish(ctx, live.PublishRequest{Protocol: "whip", App: req.Path, StreamKey: req.StreamKey,
		RemoteAddr: req.RemoteAddr})
	if err != nil {
		statuses := map[refusal]int{refusedKey: http.StatusUnauthorized, refusedStream: http.StatusForbidden,
			refusedLive: http.StatusConflict, refusedBusy: http.StatusServiceUnavailable}
		return nil, whip.Refuse(statuses[n.refusalOf(err)], err)
	}
	return whipSink{sess}, nil
}

// whipSink is a live session as whip's Sink.
type whipSink struct{ *live.Session }

func (s whipSink) Start(src whip.Source) error {
	return s.Session.Start(live.Source{Format: live.MPEGTS, Width: src.Width, Height: src.Height, FrameRate: src.FrameRate,
		HasAudio: src.HasAudio, HasVideo: src.HasVideo, VideoCodec: src.VideoCodec, AudioCodec: src.AudioCodec})
}

// notFlag is a boolean flag that stores its negation, so that a Config's
// zero value keeps a feature on (--whip=false sets NoWHIP).
type notFlag struct{ p *bool }

func (f notFlag) String() string   { return strconv.FormatBool(f.p == nil || !*f.p) }
func (f notFlag) IsBoolFlag() bool { return true }

func (f notFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*f.p = !v
	return nil
}
