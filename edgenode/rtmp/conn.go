package rtmp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
)

const (
	serverChunkSize   = 4096
	serverWindowSize  = 2_500_000
	maxMessageStreams = 8 // createStream calls per connection
	// refusalLinger is how long a refused client gets to read its error
	// status before the socket closes; closing at once can turn the
	// status into a connection reset on the client side.
	refusalLinger = time.Second
)

var (
	errPublishRefused = errors.New("publish refused")
	errPlayRefused    = errors.New("play refused: this server only ingests")
)

// conn is one client connection. One goroutine runs it; nothing in it is
// shared.
type conn struct {
	cfg    Config
	nc     net.Conn
	log    *slog.Logger
	br     *bufio.Reader
	bw     *bufio.Writer
	cr     *chunkReader
	cw     *chunkWriter
	start  time.Time
	setup  time.Time // deadline for handshake, connect and publish
	idleOK bool      // publish accepted: ReadTimeout replaces the setup deadline
	// published tells the server's limits the connection is no longer an
	// idle handshake (nil outside a Server).
	published *atomic.Bool

	received   uint64 // bytes read from the socket, for acknowledgements
	peerWindow uint32
	lastAck    uint64

	connected    bool
	app, tcURL   string
	lastStreamID uint32
	pub          *publication
	dropped      int
	closing      bool // peer deleted its stream: stop reading, close cleanly
	linger       bool // let the peer read a refusal before closing
}

type publication struct {
	streamID uint32
	sink     Sink
	log      *slog.Logger
	messages int
}

// connReader sets the read deadline before every socket read and counts
// bytes for acknowledgements.
type connReader struct{ c *conn }

func (r connReader) Read(p []byte) (int, error) {
	deadline := r.c.setup
	if r.c.idleOK {
		deadline = time.Now().Add(r.c.cfg.ReadTimeout)
	}
	r.c.nc.SetReadDeadline(deadline)
	n, err := r.c.nc.Read(p)
	r.c.received += uint64(n)
	return n, err
}

// connWriter bounds every socket write by ReadTimeout, so a publisher
// that stops reading cannot hold the connection goroutine.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	w.c.nc.SetWriteDeadline(time.Now().Add(w.c.cfg.ReadTimeout))
	return w.c.nc.Write(p)
}

func newConn(cfg Config, nc net.Conn) *conn {
	now := time.Now()
	c := &conn{
		cfg:   cfg,
		nc:    nc,
		log:   cfg.Logger.With("remote_addr", nc.RemoteAddr().String()),
		start: now,
		setup: now.Add(cfg.HandshakeTimeout),
	}
	c.br = bufio.NewReaderSize(connReader{c}, 16<<10)
	c.bw = bufio.NewWriterSize(connWriter{c}, 8<<10)
	c.cr = newChunkReader(c.br, cfg.MaxChunkSize, cfg.MaxMessageSize)
	c.cw = newChunkWriter(c.bw)
	return c
}

func (c *conn) serve(ctx context.Context) {
	c.finish(ctx, c.run(ctx))
}

func (c *conn) run(ctx context.Context) error {
	if err := serverHandshake(c.br, c.bw, uint32(time.Since(c.start).Milliseconds())); err != nil {
		return c.readError("handshake", err)
	}
	for !c.closing {
		m, err := c.cr.readMessage()
		if err != nil {
			return c.readError("read", err)
		}
		if err := c.acknowledge(); err != nil {
			return err
		}
		if err := c.handle(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// readError names a timeout for what it means to an operator.
func (c *conn) readError(op string, err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if c.idleOK {
		return fmt.Errorf("publisher sent nothing for %s: %w", c.cfg.ReadTimeout, err)
	}
	return fmt.Errorf("handshake, connect and publish not done within %s: %w", c.cfg.HandshakeTimeout, err)
}

// finish ends the publish, if any, with the reason the connection ended
// and closes the socket. It runs once per connection.
func (c *conn) finish(ctx context.Context, err error) {
	reason := err
	switch {
	case err == nil || errors.Is(err, io.EOF):
		reason = nil
	case ctx.Err() != nil:
		reason = ErrServerClosed
	}
	c.endPublish(reason)
	if c.linger {
		c.lingerClose()
	}
	c.nc.Close()
	if reason != nil {
		c.log.Info("rtmp connection closed", "reason", reason.Error())
	} else {
		c.log.Debug("rtmp connection closed")
	}
}

// lingerClose sends FIN and reads what the peer still sends, for a
// bounded time, so it can read the refusal we just wrote.
func (c *conn) lingerClose() {
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(refusalLinger))
	io.Copy(io.Discard, io.LimitReader(c.nc, 1<<20))
}

func (c *conn) acknowledge() error {
	if c.peerWindow == 0 || c.received-c.lastAck < uint64(c.peerWindow) {
		return nil
	}
	c.lastAck = c.received
	if err := c.cw.writeMessage(csidControl, acknowledgementMessage(uint32(c.received))); err != nil {
		return err
	}
	return c.flush()
}

func (c *conn) send(csid uint32, m message) error {
	if err := c.cw.writeMessage(csid, m); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (c *conn) flush() error {
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (c *conn) handle(ctx context.Context, m message) error {
	switch m.typeID {
	case typeSetChunkSize:
		v, err := uint32Payload(m)
		if err != nil {
			return err
		}
		return c.cr.setChunkSize(v)
	case typeAbort:
		v, err := uint32Payload(m)
		if err != nil {
			return err
		}
		c.cr.abort(v)
		return nil
	case typeWindowAckSize:
		v, err := uint32Payload(m)
		if err != nil {
			return err
		}
		c.peerWindow = v
		return nil
	case typeUserControl:
		return c.userControl(m)
	case TypeAudio, TypeVideo:
		return c.media(m)
	case TypeData:
		return c.data(m)
	case typeAMF3Data:
		// AMF3 data messages carry AMF0 after a format byte of zero.
		if len(m.payload) > 0 && m.payload[0] == 0 {
			m.typeID, m.payload = TypeData, m.payload[1:]
			return c.data(m)
		}
	case typeAMF0Command:
		return c.command(ctx, m)
	case typeAMF3Command:
		if len(m.payload) > 0 && m.payload[0] == 0 {
			m.payload = m.payload[1:]
			return c.command(ctx, m)
		}
	case typeAggregate:
		return c.aggregate(m)
	}
	// Acknowledgement, Set Peer Bandwidth and anything unknown: nothing
	// to do for an ingest server.
	return nil
}

func uint32Payload(m message) (uint32, error) {
	if len(m.payload) < 4 {
		return 0, protocolErrorf("message type %d with %d-byte payload, want 4", m.typeID, len(m.payload))
	}
	return binary.BigEndian.Uint32(m.payload), nil
}

func (c *conn) userControl(m message) error {
	if len(m.payload) < 2 {
		return protocolErrorf("user control message with %d-byte payload", len(m.payload))
	}
	if binary.BigEndian.Uint16(m.payload) == eventPingRequest && len(m.payload) >= 6 {
		if err := c.send(csidControl, userControlMessage(eventPingResponse, m.payload[2:6])); err != nil {
			return err
		}
		return c.flush()
	}
	return nil
}

func (c *conn) media(m message) error {
	if c.pub == nil || m.streamID != c.pub.streamID {
		c.drop(m)
		return nil
	}
	c.pub.messages++
	if err := c.pub.sink.WriteMessage(Message{Type: m.typeID, Timestamp: m.timestamp, Payload: m.payload}); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}

// data unwraps @setDataFrame so the Sink sees onMetaData as in an FLV
// file. Script data that does not decode is dropped, not fatal: it only
// describes the stream.
func (c *conn) data(m message) error {
	v, n, err := amf0.Decode(m.payload)
	if err != nil {
		c.drop(m)
		return nil
	}
	if v == "@setDataFrame" {
		m.payload = m.payload[n:]
	}
	return c.media(m)
}

func (c *conn) drop(m message) {
	c.dropped++
	if c.dropped == 1 {
		c.log.Debug("rtmp dropping message outside a publish", "type", m.typeID, "stream_id", m.streamID)
	}
}

// aggregate splits an aggregate message (FLV tags back to back) into its
// audio, video and data messages.
func (c *conn) aggregate(m message) error {
	return splitAggregate(m, func(sub message) error {
		switch sub.typeID {
		case TypeAudio, TypeVideo:
			return c.media(sub)
		case TypeData:
			return c.data(sub)
		}
		return nil
	})
}

// splitAggregate calls fn with each sub-message of an aggregate message,
// its timestamp rebased on the aggregate's, until fn fails.
func splitAggregate(m message, fn func(message) error) error {
	p := m.payload
	var base uint32
	for first := true; len(p) > 0; first = false {
		if len(p) < 11 {
			return protocolErrorf("aggregate message with %d trailing bytes", len(p))
		}
		size := uint24(p[1:4])
		ts := uint24(p[4:7]) | uint32(p[7])<<24
		if uint64(len(p)) < 11+uint64(size)+4 {
			return protocolErrorf("aggregate sub-message of %d bytes overruns its message", size)
		}
		if first {
			base = ts
		}
		end := 11 + int(size)
		sub := message{typeID: p[0], streamID: m.streamID, timestamp: m.timestamp + (ts - base), payload: p[11:end:end]}
		if err := fn(sub); err != nil {
			return err
		}
		p = p[end+4:]
	}
	return nil
}

func (c *conn) endPublish(reason error) {
	p := c.pub
	if p == nil {
		return
	}
	c.pub = nil
	p.sink.Close(reason)
	if reason != nil {
		p.log.Info("rtmp publish ended", "reason", reason.Error(), "messages", p.messages)
	} else {
		p.log.Info("rtmp publish ended", "messages", p.messages)
	}
}
