package rtmp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
)

// PublishConfig configures Publish. Zero durations take the defaults
// (DefaultHandshakeTimeout for the setup, DefaultPublishWriteTimeout per
// message).
type PublishConfig struct {
	// URL is rtmp://host[:port]/app or rtmps://host[:port]/app (the port
	// defaults to 1935 and 443); app may hold slashes.
	URL string
	// Key is the stream name to publish under. It is a secret: Publish's
	// errors never repeat it, even when the server's status does.
	Key string
	// TLSConfig is used for rtmps (nil: the system roots, the URL's host
	// as server name).
	TLSConfig        *tls.Config
	HandshakeTimeout time.Duration // dialing, handshake, connect and publish
	WriteTimeout     time.Duration // one message
	MaxMessageSize   uint32
}

// DefaultPublishWriteTimeout bounds one message's write to a target.
const DefaultPublishWriteTimeout = 5 * time.Second

// Publisher is a publish to another RTMP server (a restream target): the
// push side, where Play is the pull side. WriteMessage sends media and
// script data; a goroutine the Publisher owns reads what the server
// sends (acknowledgements, pings, status) until Close.
type Publisher struct {
	cfg      PublishConfig
	nc       net.Conn
	br       *bufio.Reader
	cr       *chunkReader
	streamID uint32

	wmu sync.Mutex // guards bw and cw
	bw  *bufio.Writer
	cw  *chunkWriter

	received, lastAck uint64
	peerWindow        uint32

	closeOnce sync.Once
	done      chan struct{}
	err       error         // set before done is closed
	readDone  chan struct{} // closed when readLoop returns
}

// Publish connects to cfg.URL and publishes cfg.Key there, returning once
// the server has said NetStream.Publish.Start. ctx bounds the setup only.
func Publish(ctx context.Context, cfg PublishConfig) (*Publisher, error) {
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultPublishWriteTimeout
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.Key == "" {
		return nil, errors.New("rtmp: publish needs a stream key")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "rtmp" && u.Scheme != "rtmps") || u.Hostname() == "" {
		return nil, errors.New("rtmp: publish URL must be rtmp://host[:port]/app or rtmps://host[:port]/app")
	}
	app := strings.Trim(u.Path, "/")
	if app == "" {
		return nil, errors.New("rtmp: publish URL has no application (rtmp://host/app)")
	}
	host := u.Host
	if u.Port() == "" {
		port := "1935"
		if u.Scheme == "rtmps" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	tcURL := u.Scheme + "://" + u.Host + "/" + app

	d := net.Dialer{Timeout: cfg.HandshakeTimeout}
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("rtmp: dial %s: %w", host, err)
	}
	if u.Scheme == "rtmps" {
		tc := cfg.TLSConfig.Clone()
		if tc == nil {
			tc = &tls.Config{}
		}
		if tc.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
		nc = tls.Client(nc, tc)
	}
	p := &Publisher{cfg: cfg, nc: nc, done: make(chan struct{}), readDone: make(chan struct{})}
	p.br = bufio.NewReaderSize(publisherReader{p}, 16<<10)
	p.bw = bufio.NewWriterSize(nc, 16<<10)
	p.cr = newChunkReader(p.br, DefaultMaxChunkSize, cfg.MaxMessageSize)
	p.cw = newChunkWriter(p.bw)

	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	nc.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	err = p.setup(app, tcURL)
	stopped := stop()
	if err == nil && !stopped {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, p.redact(err)
	}
	nc.SetDeadline(time.Time{})
	go p.readLoop()
	return p, nil
}

// publisherReader counts bytes for acknowledgements.
type publisherReader struct{ p *Publisher }

func (r publisherReader) Read(b []byte) (int, error) {
	n, err := r.p.nc.Read(b)
	r.p.received += uint64(n)
	return n, err
}

// redact removes the key from an error (a server's status may quote the
// stream name).
func (p *Publisher) redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), p.cfg.Key) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), p.cfg.Key, "…"))
}

func (p *Publisher) setup(app, tcURL string) error {
	if err := p.handshake(); err != nil {
		return fmt.Errorf("rtmp: handshake: %w", err)
	}
	if err := p.send(csidControl, setChunkSizeMessage(serverChunkSize)); err != nil {
		return err
	}
	p.cw.chunkSize = serverChunkSize
	var tx float64
	call := func(streamID uint32, name string, args ...any) (float64, error) {
		tx++
		payload, err := amf0.Encode(append([]any{name, tx}, args...)...)
		if err != nil {
			return 0, fmt.Errorf("encode %s: %w", name, err)
		}
		return tx, p.send(csidCommand, message{typeID: typeAMF0Command, streamID: streamID, payload: payload})
	}
	connectTx, err := call(0, "connect", amf0.Object{{Key: "app", Value: app}, {Key: "type", Value: "nonprivate"},
		{Key: "flashVer", Value: "FMLE/3.0 (compatible; Livestreams)"}, {Key: "tcUrl", Value: tcURL}})
	if err != nil {
		return err
	}
	var createTx float64
	for {
		m, err := p.cr.readMessage()
		if err != nil {
			return fmt.Errorf("rtmp: read: %w", unexpectedEOF(err))
		}
		if err := p.control(m); err != nil {
			return err
		}
		if m.typeID != typeAMF0Command {
			continue
		}
		vals, err := amf0.DecodeAll(m.payload)
		if err != nil || len(vals) < 2 {
			return protocolErrorf("undecodable command from the server")
		}
		cmd, _ := vals[0].(string)
		ctx, _ := vals[1].(float64)
		var info any
		if len(vals) > 3 {
			info = vals[3]
		}
		switch {
		case cmd == "_error" && ctx == connectTx:
			return fmt.Errorf("rtmp: connect refused: %s", statusText(info))
		case cmd == "_result" && ctx == connectTx:
			// As encoders do: release and announce the name, then create
			// the stream. Servers that do not know the first two answer
			// with errors, which are ignored.
			if _, err := call(0, "releaseStream", nil, p.cfg.Key); err != nil {
				return err
			}
			if _, err := call(0, "FCPublish", nil, p.cfg.Key); err != nil {
				return err
			}
			if createTx, err = call(0, "createStream", nil); err != nil {
				return err
			}
		case (cmd == "_result" || cmd == "_error") && ctx == createTx && createTx != 0:
			id, ok := info.(float64)
			if cmd == "_error" || !ok {
				return fmt.Errorf("rtmp: createStream refused: %s", statusText(info))
			}
			p.streamID = uint32(id)
			if _, err := call(p.streamID, "publish", nil, p.cfg.Key, "live"); err != nil {
				return err
			}
		case cmd == "onStatus":
			code, _ := amf0.LookupString(info, "code")
			level, _ := amf0.LookupString(info, "level")
			switch {
			case code == "NetStream.Publish.Start":
				return nil
			case level == "error" || strings.HasPrefix(code, "NetStream.Publish."):
				return fmt.Errorf("rtmp: publish refused: %s", statusText(info))
			}
		}
	}
}

func (p *Publisher) handshake() error {
	c := make([]byte, 1+handshakePartSize)
	c[0] = rtmpVersion
	for i := 9; i < len(c); i++ {
		c[i] = byte(i * 7)
	}
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

// control handles the protocol control a server sends at any time.
func (p *Publisher) control(m message) error {
	switch m.typeID {
	case typeSetChunkSize:
		v, err := uint32Payload(m)
		if err != nil {
			return err
		}
		return p.cr.setChunkSize(v)
	case typeWindowAckSize:
		v, err := uint32Payload(m)
		if err != nil {
			return err
		}
		p.peerWindow = v
	case typeUserControl:
		if len(m.payload) >= 6 && binary.BigEndian.Uint16(m.payload) == eventPingRequest {
			return p.send(csidControl, userControlMessage(eventPingResponse, m.payload[2:6]))
		}
	}
	if p.peerWindow > 0 && p.received-p.lastAck >= uint64(p.peerWindow)/2 {
		p.lastAck = p.received
		return p.send(csidControl, acknowledgementMessage(uint32(p.received)))
	}
	return nil
}

// readLoop reads what the server sends while the publish runs; a status
// that ends the publish, or a read error, ends it.
func (p *Publisher) readLoop() {
	defer close(p.readDone)
	var err error
	for {
		var m message
		if m, err = p.cr.readMessage(); err != nil {
			err = fmt.Errorf("rtmp: target connection: %w", unexpectedEOF(err))
			break
		}
		if err = p.control(m); err != nil {
			break
		}
		if m.typeID == typeAMF0Command {
			vals, derr := amf0.DecodeAll(m.payload)
			if derr != nil || len(vals) < 4 {
				continue
			}
			if cmd, _ := vals[0].(string); cmd != "onStatus" {
				continue
			}
			if level, _ := amf0.LookupString(vals[3], "level"); level == "error" {
				err = fmt.Errorf("rtmp: target ended the publish: %s", statusText(vals[3]))
				break
			}
		}
	}
	p.finish(err)
}

func (p *Publisher) finish(err error) {
	p.closeOnce.Do(func() {
		p.err = p.redact(err)
		p.nc.Close()
		close(p.done)
	})
}

func (p *Publisher) send(csid uint32, m message) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if err := p.cw.writeMessage(csid, m); err != nil {
		return fmt.Errorf("rtmp: write: %w", err)
	}
	if err := p.bw.Flush(); err != nil {
		return fmt.Errorf("rtmp: write: %w", err)
	}
	return nil
}

// setDataFrame wraps script data as publishers send it.
var setDataFrame, _ = amf0.Encode("@setDataFrame")

// WriteMessage sends one audio, video or script-data message (an FLV
// tag's type, timestamp and body). It fails once the publish has ended.
func (p *Publisher) WriteMessage(m Message) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	var csid uint32
	payload := m.Payload
	switch m.Type {
	case TypeAudio:
		csid = 4
	case TypeVideo:
		csid = 6
	case TypeData:
		csid = csidStream
		payload = append(append([]byte(nil), setDataFrame...), payload...)
	default:
		return fmt.Errorf("rtmp: publish: message type %d is not media", m.Type)
	}
	p.nc.SetWriteDeadline(time.Now().Add(p.cfg.WriteTimeout))
	if err := p.send(csid, message{typeID: m.Type, streamID: p.streamID, timestamp: m.Timestamp, payload: payload}); err != nil {
		p.finish(err)
		return p.err
	}
	return nil
}

// Done is closed when the publish has ended (Close, the server, or a
// failed write); Err then says why.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// Err is why the publish ended (nil while it runs, or after Close).
func (p *Publisher) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Close ends the publish: it says deleteStream when it can, closes the
// connection and waits for the read goroutine.
func (p *Publisher) Close() error {
	select {
	case <-p.done:
	default:
		p.nc.SetWriteDeadline(time.Now().Add(time.Second))
		if payload, err := amf0.Encode("deleteStream", 0.0, nil, float64(p.streamID)); err == nil {
			p.send(csidCommand, message{typeID: typeAMF0Command, payload: payload})
		}
		p.finish(nil)
	}
	<-p.readDone
	return nil
}
