package rtmp

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
)

// PlayConfig configures Play. Zero durations and sizes take the server's
// defaults (DefaultHandshakeTimeout, DefaultReadTimeout,
// DefaultMaxMessageSize).
type PlayConfig struct {
	// URL is rtmp://host[:port]/app/stream[?query]; the port defaults to
	// 1935. It may hold a key: Play's errors never repeat it.
	URL              string
	HandshakeTimeout time.Duration // covers dialing, handshake, connect and play
	ReadTimeout      time.Duration // a server silent this long ends the play
	MaxMessageSize   uint32
}

// ErrStreamNotFound is what Play returns when the server says the stream
// does not exist (NetStream.Play.StreamNotFound).
var ErrStreamNotFound = errors.New("rtmp: stream not found")

// Play connects to an RTMP server as a player of cfg.URL and hands the
// stream's audio, video and script data (onMetaData, without any
// @setDataFrame wrapper) to onMessage, in arrival order, until the server
// says the stream ended (NetStream.Play.UnpublishNotify, Stop or
// Complete, or a clean close after media: nil), ctx ends (ctx's error),
// onMessage fails or the connection does (the error). It is the pull side
// of an edge behind another RTMP server (SRS); it plays one stream and
// does nothing else a player might (no seeking, no pausing).
func Play(ctx context.Context, cfg PlayConfig, onMessage func(Message) error) error {
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	host, app, name, tcURL, err := parsePlayURL(cfg.URL)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: cfg.HandshakeTimeout}
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("rtmp: dial %s: %w", host, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	p := &player{cfg: cfg, nc: nc, setup: time.Now().Add(cfg.HandshakeTimeout)}
	p.br = bufio.NewReaderSize(playerReader{p}, 16<<10)
	p.bw = bufio.NewWriterSize(nc, 4<<10)
	p.cr = newChunkReader(p.br, DefaultMaxChunkSize, cfg.MaxMessageSize)
	p.cw = newChunkWriter(p.bw)
	err = p.run(app, name, tcURL, onMessage)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// parsePlayURL splits an rtmp URL into the dial address, the app, the
// stream name with its query (as play sends it) and the tcUrl.
func parsePlayURL(raw string) (host, app, name, tcURL string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "rtmp" || u.Host == "" {
		return "", "", "", "", errors.New("rtmp: play URL must be rtmp://host[:port]/app/stream")
	}
	app, name, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if !ok || app == "" || name == "" {
		return "", "", "", "", errors.New("rtmp: play URL must be rtmp://host[:port]/app/stream")
	}
	if u.RawQuery != "" {
		name += "?" + u.RawQuery
	}
	host = u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	return host, app, name, "rtmp://" + u.Host + "/" + app, nil
}

type player struct {
	cfg     PlayConfig
	nc      net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	cr      *chunkReader
	cw      *chunkWriter
	setup   time.Time
	playing bool
	tx      float64
	media   int

	received, lastAck uint64
	peerWindow        uint32
}

// playerReader applies the setup deadline, then the read timeout, and
// counts bytes for acknowledgements (servers stop sending to a player
// that does not acknowledge their window).
type playerReader struct{ p *player }

func (r playerReader) Read(b []byte) (int, error) {
	deadline := r.p.setup
	if r.p.playing {
		deadline = time.Now().Add(r.p.cfg.ReadTimeout)
	}
	r.p.nc.SetReadDeadline(deadline)
	n, err := r.p.nc.Read(b)
	r.p.received += uint64(n)
	return n, err
}

func (p *player) run(app, name, tcURL string, onMessage func(Message) error) error {
	p.nc.SetWriteDeadline(p.setup)
	if err := p.handshake(); err != nil {
		return fmt.Errorf("rtmp: handshake: %w", err)
	}
	if err := p.send(csidControl, setChunkSizeMessage(serverChunkSize)); err != nil {
		return err
	}
	p.cw.chunkSize = serverChunkSize
	connectTx, err := p.call(0, "connect", amf0.Object{{Key: "app", Value: app}, {Key: "flashVer", Value: "LNX 9,0,124,2"},
		{Key: "tcUrl", Value: tcURL}, {Key: "fpad", Value: false}, {Key: "capabilities", Value: 15.0},
		{Key: "audioCodecs", Value: 4071.0}, {Key: "videoCodecs", Value: 252.0}, {Key: "videoFunction", Value: 1.0}})
	if err != nil {
		return err
	}
	var createTx float64
	var streamID uint32
	for {
		m, err := p.cr.readMessage()
		if err != nil {
			if p.media > 0 && errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("rtmp: read: %w", err)
		}
		if err := p.acknowledge(); err != nil {
			return err
		}
		switch m.typeID {
		case typeSetChunkSize:
			v, err := uint32Payload(m)
			if err != nil {
				return err
			}
			if err := p.cr.setChunkSize(v); err != nil {
				return err
			}
		case typeWindowAckSize:
			v, err := uint32Payload(m)
			if err != nil {
				return err
			}
			p.peerWindow = v
		case typeUserControl:
			if len(m.payload) >= 6 && binary.BigEndian.Uint16(m.payload) == eventPingRequest {
				if err := p.send(csidControl, userControlMessage(eventPingResponse, m.payload[2:6])); err != nil {
					return err
				}
			}
		case TypeAudio, TypeVideo, TypeData, typeAggregate:
			// One stream is played per connection; not every server sends
			// it on the stream id it created (ffmpeg's -listen uses 0).
			if !p.playing {
				continue
			}
			if err := p.deliver(m, onMessage); err != nil {
				return err
			}
		case typeAMF0Command:
			vals, err := amf0.DecodeAll(m.payload)
			if err != nil || len(vals) < 2 {
				return protocolErrorf("undecodable command from the server")
			}
			cmd, _ := vals[0].(string)
			tx, _ := vals[1].(float64)
			var info any
			if len(vals) > 3 {
				info = vals[3]
			}
			switch {
			case cmd == "_error" && tx == connectTx:
				return fmt.Errorf("rtmp: connect refused: %s", statusText(info))
			case cmd == "_result" && tx == connectTx:
				if createTx, err = p.call(0, "createStream", nil); err != nil {
					return err
				}
			case (cmd == "_result" || cmd == "_error") && tx == createTx && createTx != 0:
				id, ok := info.(float64)
				if cmd == "_error" || !ok {
					return fmt.Errorf("rtmp: createStream refused: %s", statusText(info))
				}
				streamID = uint32(id)
				if err := p.play(streamID, name); err != nil {
					return err
				}
			case cmd == "onStatus":
				code, _ := amf0.LookupString(info, "code")
				level, _ := amf0.LookupString(info, "level")
				switch {
				case code == "NetStream.Play.StreamNotFound":
					return ErrStreamNotFound
				case code == "NetStream.Play.UnpublishNotify", code == "NetStream.Play.Stop", code == "NetStream.Play.Complete":
					return nil
				case level == "error":
					return fmt.Errorf("rtmp: play refused: %s", statusText(info))
				}
			}
		}
	}
}

func (p *player) handshake() error {
	c := make([]byte, 1+handshakePartSize)
	c[0] = rtmpVersion
	rand.Read(c[9:])
	if _, err := p.nc.Write(c); err != nil {
		return err
	}
	s := make([]byte, 1+2*handshakePartSize)
	if _, err := io.ReadFull(p.br, s); err != nil {
		return unexpectedEOF(err)
	}
	if s[0] != rtmpVersion {
		return protocolErrorf("server answered RTMP version %d", s[0])
	}
	_, err := p.nc.Write(s[1 : 1+handshakePartSize]) // C2 echoes S1
	return err
}

func (p *player) play(streamID uint32, name string) error {
	// A buffer length tells servers that wait for one to start sending.
	buf := make([]byte, 8)
	binary.BigEndian.PutUint32(buf, streamID)
	binary.BigEndian.PutUint32(buf[4:], 3000)
	if err := p.cw.writeMessage(csidControl, userControlMessage(eventSetBufferLength, buf)); err != nil {
		return err
	}
	if _, err := p.call(streamID, "play", nil, name, -2.0); err != nil {
		return err
	}
	p.playing = true
	p.nc.SetWriteDeadline(time.Time{})
	return nil
}

// deliver hands media to onMessage, splitting aggregates and unwrapping
// @setDataFrame as the server side does.
func (p *player) deliver(m message, onMessage func(Message) error) error {
	if m.typeID == typeAggregate {
		return splitAggregate(m, func(sub message) error { return p.deliver(sub, onMessage) })
	}
	if m.typeID == TypeData {
		v, n, err := amf0.Decode(m.payload)
		if err != nil {
			return nil
		}
		if v == "@setDataFrame" {
			m.payload = m.payload[n:]
		}
	}
	p.media++
	return onMessage(Message{Type: m.typeID, Timestamp: m.timestamp, Payload: m.payload})
}

func (p *player) acknowledge() error {
	if p.peerWindow == 0 || p.received-p.lastAck < uint64(p.peerWindow)/2 {
		return nil
	}
	p.lastAck = p.received
	return p.send(csidControl, acknowledgementMessage(uint32(p.received)))
}

func (p *player) call(streamID uint32, name string, args ...any) (float64, error) {
	p.tx++
	payload, err := amf0.Encode(append([]any{name, p.tx}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", name, err)
	}
	if err := p.send(csidCommand, message{typeID: typeAMF0Command, streamID: streamID, payload: payload}); err != nil {
		return 0, err
	}
	return p.tx, nil
}

func (p *player) send(csid uint32, m message) error {
	if err := p.cw.writeMessage(csid, m); err != nil {
		return fmt.Errorf("rtmp: write: %w", err)
	}
	if err := p.bw.Flush(); err != nil {
		return fmt.Errorf("rtmp: write: %w", err)
	}
	return nil
}

// statusText is a server's status description, bounded for errors.
func statusText(info any) string {
	code, _ := amf0.LookupString(info, "code")
	desc, _ := amf0.LookupString(info, "description")
	return truncate(strings.TrimSpace(code + " " + desc))
}
