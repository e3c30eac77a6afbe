package rtmpingest

import (
	"context"
	"fmt"
	"time"

	"github.com/livestreams/livestreams/edgenode/flv"
	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/rtmp"
)

// Publisher is the live core as this adapter uses it (live.Core).
type Publisher interface {
	Publish(ctx context.Context, req live.PublishRequest) (*live.Session, error)
}

// Bounds on what is buffered while probing, so a hostile publisher cannot
// make the edge hold unbounded memory before ffmpeg starts. (The core
// bounds its own buffer too; these keep the adapter's below it.)
const (
	maxProbeMessages = 2000
	maxProbeBytes    = 12 << 20
	// DefaultProbeWindow is how much media (by its timestamps) is
	// buffered to learn the source before ffmpeg starts regardless.
	DefaultProbeWindow = 3 * time.Second
)

// Adapter hands RTMP publishes to the live core.
type Adapter struct {
	Core        Publisher
	ProbeWindow time.Duration // 0 is DefaultProbeWindow
	// Protocol names the ingest in the live core's requests: "" is
	// "rtmp", or "rtmps" for a publish that came over TLS; an RTMP pull
	// from SRS says "srs".
	Protocol string
}

// OnPublish is the rtmp.Config.OnPublish of an edge: every accepted
// publish becomes a live session.
func (a Adapter) OnPublish(ctx context.Context, req rtmp.PublishRequest) (rtmp.Sink, error) {
	protocol := a.Protocol
	switch {
	case protocol == "" && req.TLS:
		protocol = "rtmps"
	case protocol == "":
		protocol = "rtmp"
	}
	sess, err := a.Core.Publish(ctx, live.PublishRequest{Protocol: protocol, App: req.App, StreamKey: req.StreamKey,
		Query: req.Query, RemoteAddr: req.RemoteAddr})
	if err != nil {
		return nil, err
	}
	window := a.ProbeWindow
	if window <= 0 {
		window = DefaultProbeWindow
	}
	return &sink{sess: sess, window: window, probe: prober{keyWait: sess.SegmentLength() + keyframeSlack}}, nil
}

// sink re-muxes one publish's messages into FLV for its session.
type sink struct {
	sess   *live.Session
	window time.Duration

	probe    prober
	buffered []rtmp.Message
	bufBytes int
	fw       *flv.Writer // nil until the source is known
	hasAudio bool
}

// WriteMessage implements rtmp.Sink. The rtmp server calls it from one
// goroutine per connection.
func (s *sink) WriteMessage(m rtmp.Message) error {
	if s.fw != nil {
		return s.write(m)
	}
	s.probe.observe(m)
	s.buffered = append(s.buffered, m) // the sink owns the payload
	s.bufBytes += len(m.Payload)
	if !s.probe.ready(s.window) && len(s.buffered) < maxProbeMessages && s.bufBytes < maxProbeBytes {
		return nil
	}
	info := s.probe.source()
	// The bitrate the encoder declares or the first GOP's, whichever is
	// higher: a pass-through must not exceed the top rung's.
	if err := s.sess.Start(live.Source{Format: live.FLV, Width: info.Width, Height: info.Height, FrameRate: info.FrameRate,
		HasAudio: info.HasAudio, HasVideo: info.HasVideo, VideoCodec: info.VideoCodec, AudioCodec: info.AudioCodec,
		VideoProfile: info.VideoProfile, VideoKbps: max(info.VideoKbps, s.probe.gopKbps()),
		KeyframeInterval: s.probe.keyframeInterval()}); err != nil {
		return err
	}
	s.hasAudio = info.HasAudio
	s.fw = flv.NewWriter(s.sess, info.HasAudio, info.HasVideo)
	if err := s.fw.WriteHeader(); err != nil {
		return err
	}
	for _, m := range s.buffered {
		if err := s.write(m); err != nil {
			return err
		}
	}
	s.buffered, s.bufBytes = nil, 0
	return nil
}

func (s *sink) write(m rtmp.Message) error {
	// Audio that starts after the probe decided there was none has no
	// place in the ffmpeg graph; drop it rather than confuse the demuxer.
	if m.Type == rtmp.TypeAudio && !s.hasAudio {
		return nil
	}
	if err := s.fw.WriteTag(flv.Tag{Type: m.Type, Timestamp: m.Timestamp, Data: m.Payload}); err != nil {
		return fmt.Errorf("feed the live session: %w", err)
	}
	return nil
}

// Close implements rtmp.Sink.
func (s *sink) Close(err error) { s.sess.Close(err) }

// Session returns the live session behind a sink OnPublish returned, or
// nil for any other sink (benchmarks and tests watch it).
func Session(sk rtmp.Sink) *live.Session {
	if s, ok := sk.(*sink); ok {
		return s.sess
	}
	return nil
}
